package session

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// pageURLs are URLs around the edges of parseSimplePage's shape.
var pageURLs = []string{
	"", "https://www.example.com", "https://www.example.com/", "http://example.com:8080/a/b?x=1#frag",
	"https://shop.example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=Cj0KCQiA",
	"https://a.example/?utm_source=+news+letter+&utm_medium=e%2Dmail&utm_term=caf%C3%A9+cr%C3%A8me",
	"https://a.example/?utm%5Fsource=escaped+key&utm_source=second&fbclid=&gclid=g2&msclkid=m",
	"https://a.example/?gclid=&gclid=late&wbraid=w", "https://a.example/?utm_source=a;b&utm_medium=m",
	"https://a.example/?utm_source=%zz&utm_medium=ok&utm_campaign=%", "https://a.example/?&&utm_source&=x&utm_term=",
	"https://a.example/p?", "https://a.example/p#?utm_source=fragment", "https://a.example?utm_source=nopath",
	"https://a.example/p%20q?utm_source=x", "https://a.example/p q?utm_source=x", "https://a.example/é?utm_source=é",
	"https://user@a.example/?utm_source=x", "https://[::1]:80/?utm_source=x", "https://a.example:/p", "https://a.example:8x/p",
	"https://a.b:c:80/p", "https://ex ample.com/", "https://exa%41mple.com/", "https://münchen.example/",
	"HTTPS://A.EXAMPLE/P?UTM_SOURCE=X", "https:///path", "https://", "http://a.example/\x7f", "http://a.example/\tx",
	"ftp://a.example/?utm_source=x", "//a.example/?utm_source=x", "/relative?utm_source=x", "not a url",
	"https://a.example/?" + strings.Repeat("a=1&", 1200) + "utm_source=many",
	"https://a.example/?_tp_vid=4f1d&utm_source=x", "https://a.example/?_tp_vid", "https://a.example/?_tp%5Fvid=1",
	"https://a.example/?_tp_vid=%zz", "https://a.example/?_tp_vid=a;b", "https://a.example/#_tp_vid=1",
}

func TestParseSimplePageMatchesURLParse(t *testing.T) {
	for _, u := range pageURLs {
		checkPage(t, u)
	}
	for _, u := range pageURLs[1:6] {
		if _, ok := parseSimplePage(u); !ok {
			t.Errorf("%q is left to url.Parse", u)
		}
	}
	// Random URLs from pieces, most of them in the simple shape.
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	for range 20000 {
		var b strings.Builder
		b.WriteString(pick("https://", "http://", "https://", "HTTP://", "ftp://", ""))
		b.WriteString(pick("www.example.com", "a.b-c_d~e.io", "example.com:443", "example.com:", "x:y", "ex%41.com", "[::1]", "", "é.fr", "u@h.com"))
		for range rng.IntN(3) {
			b.WriteString(pick("/", "/pricing", "/a%20b", "/a+b", "/é", "/a b", "/;x", "/%zz"))
		}
		if rng.IntN(5) > 0 {
			b.WriteString("?")
			for i := range rng.IntN(6) {
				if i > 0 {
					b.WriteString(pick("&", "&", "&&", ";"))
				}
				b.WriteString(pick("utm_source", "_tp_vid", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid", "twclid",
					"li_fat_id", "msclkid", "utm%5Fsource", "UTM_SOURCE", "x", ""))
				if rng.IntN(6) > 0 {
					b.WriteString("=" + pick("", "google", "+spaced+", "caf%C3%A9", "a%2", "%", "a=b", "a?b", "é", " x "))
				}
			}
		}
		if rng.IntN(6) == 0 {
			b.WriteString(pick("#", "#frag", "#?utm_source=f"))
		}
		checkPage(t, b.String())
	}
}

func FuzzParsePage(f *testing.F) {
	for _, u := range pageURLs {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u string) {
		checkPage(t, u)
		checkPage(t, "https://a.example/p?"+u)
		checkPage(t, "https://"+u)
	})
}

// checkPage compares ParsePage with parsePage, the reading through url.Parse.
func checkPage(t *testing.T, u string) {
	t.Helper()
	if got, want := ParsePage(u), parsePage(u); got != want {
		t.Fatalf("ParsePage(%q)\n got %#v\nwant %#v", u, got, want)
	}
}
