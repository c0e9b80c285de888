package glob

import "testing"

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "abc", true}, {"a*c", "ac", true}, {"a*c", "ab", false},
		{"*", "", true}, {"acs*.*.*", "acs.b.c", true}, {"acs*.*.*", "acs.b", false}, {"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false}, {"abc", "abc", true}, {"abc", "abcd", false}, {"", "", true}, {"", "a", false},
		{"*/contact*", "https://example.com/contact?x=1", true}, {"/demo/*", "/demo/", true}, {"**", "x", true},
		{"*a", "bbb", false}, {"a**b", "ab", true},
	} {
		if got := Match(c.p, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}
