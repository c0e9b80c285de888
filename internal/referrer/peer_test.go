package referrer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// peerSuite is the shared referrer test suite, kept next to the repository
// (../shared/testdata from the repository root).
const peerSuite = "../shared/testdata/referer-tests.json"

// minAgreement is the share of peer cases on which medium, source and term
// must all agree.
const minAgreement = 0.95

type peerCase struct {
	Spec   string  `json:"spec"`
	URI    string  `json:"uri"`
	Medium string  `json:"medium"`
	Source *string `json:"source"`
	Term   *string `json:"term"`
}

func TestPeerSuite(t *testing.T) {
	path := findPeerSuite(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cannot read %s: %s", path, err)
	}
	var cases []peerCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("cannot parse %s: %s", path, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s has no cases", path)
	}
	agree := 0
	for _, c := range cases {
		want := Result{Medium: c.Medium, Source: deref(c.Source), Term: deref(c.Term)}
		got := Parse(c.URI, "")
		if got == want {
			agree++
			continue
		}
		t.Logf("mismatch %q: %s\n  got  %+v\n  want %+v", c.Spec, c.URI, got, want)
	}
	rate := float64(agree) / float64(len(cases))
	t.Logf("peer suite agreement: %d/%d = %.1f%%", agree, len(cases), 100*rate)
	if rate < minAgreement {
		t.Errorf("agreement %.1f%% is below %.0f%%", 100*rate, 100*minAgreement)
	}
}

// findPeerSuite walks up from the package directory to the repository root
// and beyond, looking for the peer suite beside it.
func findPeerSuite(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("cannot get working directory: %s", err)
	}
	for {
		p := filepath.Join(dir, filepath.FromSlash(peerSuite))
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("peer suite %s not found above the package directory", peerSuite)
	}
	t.Skipf("peer suite %s not found above the package directory", peerSuite)
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
