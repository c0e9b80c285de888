package referrer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var validMedia = []string{MediumSearch, MediumSocial, MediumEmail, MediumChatbot, MediumPaid, MediumInternal, MediumUnknown}

// FuzzParse checks that any referrer yields a valid classification; the seed
// inputs are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, referrer, pageHost string) {
		r := Parse(referrer, pageHost)
		if Internal(Domain(referrer), pageHost) != (r.Medium == MediumInternal) {
			t.Fatalf("Internal(Domain(%q), %q) disagrees with Parse's %s", referrer, pageHost, r.Medium)
		}
		if !slices.Contains(validMedia, r.Medium) {
			t.Fatalf("Parse(%q, %q): invalid medium %q", referrer, pageHost, r.Medium)
		}
		if (r.Medium == MediumUnknown || r.Medium == MediumInternal) && r.Source != "" {
			t.Fatalf("Parse(%q, %q): %s with source %q", referrer, pageHost, r.Medium, r.Source)
		}
		if r.Medium != MediumUnknown && r.Medium != MediumInternal && r.Source == "" {
			t.Fatalf("Parse(%q, %q): %s without source", referrer, pageHost, r.Medium)
		}
		if r.Term != "" && r.Medium != MediumSearch {
			t.Fatalf("Parse(%q, %q): term %q on medium %s", referrer, pageHost, r.Term, r.Medium)
		}
		if !utf8.ValidString(r.Term) || len(r.Term) > maxTermLen {
			t.Fatalf("Parse(%q, %q): bad term %q", referrer, pageHost, r.Term)
		}
		d := Domain(referrer)
		if want := hostOf(parseURL(referrer)); d != want {
			t.Fatalf("Domain(%q) = %q, through url.Parse %q", referrer, d, want)
		}
		if d != strings.ToLower(d) || strings.HasPrefix(d, "www.") {
			t.Fatalf("Domain(%q) = %q: not lower-case without www.", referrer, d)
		}
		if d == "" && r.Medium != MediumUnknown {
			t.Fatalf("Parse(%q, %q) = %+v for a referrer without a domain", referrer, pageHost, r)
		}
	})
}
