package referrer

import (
	"encoding/json"
	"os"
	"testing"
)

// peerSuite is the referer-parser project's test suite, copied with its licence
// note (testdata/peer/README.md).
const peerSuite = "testdata/peer/referer-tests.json"

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
	path := peerSuite
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
