package enrich

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"touchpoint/internal/event"
	"touchpoint/internal/site"
)

func TestUserAgent(t *testing.T) {
	u := NewUAParser(16)
	f := func(ua, browser, os, device string, bot bool) {
		t.Helper()
		for range 2 { // the second time from the cache
			a := u.Parse(ua)
			if a.Browser != browser || a.OS != os || a.Device != device || a.Bot != bot {
				t.Fatalf("%s:\n got %+v\nwant {%s %s %s %v}", ua, a, browser, os, device, bot)
			}
		}
	}
	f("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome", "Windows", "desktop", false)
	f("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS", "mobile", false)
	f("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS", "tablet", false)
	f("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", "Chrome Mobile", "Android", "mobile", false)
	f("Mozilla/5.0 (Linux; Android 13; CUBOT KINGKONG 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", "Chrome Mobile", "Android", "mobile", false)
	f("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "", "bot", true)
	f("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", "HeadlessChrome", "Linux", "bot", true)
	f("curl/8.5.0", "curl", "", "bot", true)
	f("python-requests/2.31.0", "Python Requests", "", "bot", true)
}

func TestAnonymiseIP(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		var a netip.Addr
		if in != "" {
			a = netip.MustParseAddr(in)
		}
		if got := AnonymiseIP(a); got != want {
			t.Fatalf("AnonymiseIP(%s) = %q, want %q", in, got, want)
		}
	}
	f("203.0.113.77", "203.0.113.0")
	f("::ffff:203.0.113.77", "203.0.113.0")
	f("2001:db8:1234:5678::1", "2001:db8:1234::")
	f("", "")
}

func TestClock(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ms := now.UnixMilli()
	step := clock(time.Minute, 24*time.Hour)
	f := func(origin string, ts, want int64, wantRefused bool) {
		t.Helper()
		it := Item{E: event.Enriched{Event: event.Event{TS: ts}}}
		ref := step(&Request{Origin: origin, Now: now}, &it)
		if (ref != nil) != wantRefused {
			t.Fatalf("%s ts %d: refusal %v, want refused=%v", origin, ts, ref, wantRefused)
		}
		if ref == nil && it.E.TS != want {
			t.Fatalf("%s ts %d: got %d, want %d", origin, ts, it.E.TS, want)
		}
		if it.E.ReceivedAt != ms {
			t.Fatalf("received_at %d, want the server's %d", it.E.ReceivedAt, ms)
		}
	}
	f("web", ms-5000, ms-5000, false)
	f("web", 0, ms, false)
	f("web", ms+3600_000, ms+60_000, false)         // an hour fast: clamped to the allowed skew
	f("web", ms-48*3600_000, ms-24*3600_000, false) // two days old: clamped to the oldest allowed
	f("web", -1, 0, true)
	f("web", maxTS+1, 0, true)
	old := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	f("import", old, old, false)
	f("import", 0, 0, true)
	f("import", ms+3600_000, 0, true)
	f("server", old, old, false)
}

func TestHashPII(t *testing.T) {
	f := func(keep bool, traits map[string]string, want map[string]string, wantRefused bool) {
		t.Helper()
		it := Item{E: event.Enriched{Event: event.Event{Traits: traits}}}
		ref := hashPII(&Request{Site: &site.Site{KeepPII: keep}}, &it)
		if (ref != nil) != wantRefused {
			t.Fatalf("refusal %v, want refused=%v", ref, wantRefused)
		}
		got, _ := json.Marshal(it.E.Traits)
		w, _ := json.Marshal(want)
		if !wantRefused && string(got) != string(w) {
			t.Fatalf("traits %s, want %s", got, w)
		}
	}
	h := event.EmailSHA256("ann@example.com")
	f(false, map[string]string{"email": " Ann@Example.com\n", "plan": "pro"}, map[string]string{"email_sha256": h, "plan": "pro"}, false)
	f(true, map[string]string{"email": "ANN@example.com"}, map[string]string{"email": "ann@example.com", "email_sha256": h}, false)
	f(false, map[string]string{"email": "  "}, map[string]string{}, false)
	f(false, map[string]string{"email_sha256": "  " + h[:10] + "ABCDEF" + h[16:]}, map[string]string{"email_sha256": h[:10] + "abcdef" + h[16:]}, false)
	f(false, map[string]string{"email_sha256": "xyz"}, nil, true)
	f(false, nil, nil, false)
}

func BenchmarkPipeline(b *testing.B) {
	p := New(Options{})
	raw := []byte(`{"id":"0b6c4d2e-7a7e-4a43-9d55-1f1c9a9a2f10","type":"pageview","ts":1763800000000,"vid":"5d1e5f3c-1d52-4b7a-8b7e-0d8f3e5c9a11","url":"https://shop.example.com/pricing?utm_source=google&utm_medium=cpc","ref":"https://www.google.com/","title":"Pricing","screen":"1920x1080","lang":"en-GB","tz":"Europe/London","traits":{"email":"a@b.c"}}`)
	r := &Request{Site: &site.Site{ID: "demo"}, Origin: event.OriginWeb, IP: netip.MustParseAddr("203.0.113.9"),
		UA: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		r.Now = time.Now()
		it := Item{Raw: raw}
		if ref := p.Run(r, &it); ref != nil {
			b.Fatal(ref)
		}
	}
}

func TestValidateProps(t *testing.T) {
	f := func(props string, want Reason) {
		t.Helper()
		var got Reason
		if ref := validateProps(json.RawMessage(props)); ref != nil {
			got = ref.Reason
		}
		if got != want {
			t.Fatalf("validateProps(%.60s) = %q, want %q", props, got, want)
		}
	}
	many := func(n int) string {
		var b []byte
		for i := range n {
			b = fmt.Appendf(b, `,"k%d":%d`, i, i)
		}
		return "{" + string(b[1:]) + "}"
	}
	f(``, "")
	f(`null`, "")
	f(`{}`, "")
	f(` {"plan":"pro","n":1.5,"ok":true,"x":null} `, "")
	f(`{"a\"b":"{[not nested]}","c":"\\"}`, "")
	f(many(64), "")
	f(many(65), ReasonTooLong)
	f(`{"":1}`, ReasonTooLong)
	f(`{"`+strings.Repeat("k", 129)+`":1}`, ReasonTooLong)
	f(`{"a":{"b":1}}`, ReasonBadField)
	f(`{"a":[1]}`, ReasonBadField)
	f(`[1]`, ReasonBadField)
	f(`"str"`, ReasonBadField)
}
