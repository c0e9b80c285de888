package enrich

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

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
	// Traits that hold an address under another name, or any value that is an address.
	b := event.EmailSHA256("bob@example.com")
	f(false, map[string]string{"Email": "Ann@Example.com"}, map[string]string{"email_sha256": h}, false)
	f(false, map[string]string{"EMAIL": "Ann <ann@example.com>"}, map[string]string{"email_sha256": h}, false)
	f(false, map[string]string{"contact_email": " Bob@Example.com", "workEmail": "bob@example.com", "billing-e-mail": "n/a"},
		map[string]string{"contact_email_sha256": b, "workEmail_sha256": b, "billing-e-mail_sha256": event.EmailSHA256("n/a")}, false)
	f(false, map[string]string{"name": "Bob <bob@example.com>", "note": "call me", "email_verified": "true"},
		map[string]string{"name_sha256": b, "note": "call me", "email_verified": "true"}, false)
	f(false, map[string]string{"user_id": "Bob@Example.com", "plan": "pro"}, map[string]string{"user_id": b, "plan": "pro"}, false)
	f(false, map[string]string{"user_id": "u-42", "handle": "@bob", "contact_email": ""}, map[string]string{"user_id": "u-42", "handle": "@bob", "contact_email": ""}, false)
	f(true, map[string]string{"Email": "Ann@Example.com", "contact_email": "bob@example.com"},
		map[string]string{"contact_email": "bob@example.com", "email": "ann@example.com", "email_sha256": h}, false)
}

func TestLimitBrowser(t *testing.T) {
	st := &site.Site{ID: "demo", MaxBrowserValue: 5000}
	f := func(origin, ev string, want Reason) {
		t.Helper()
		it := Item{Raw: []byte(ev)}
		var got Reason
		if ref := New(Options{}).Run(&Request{Site: st, Origin: origin, Now: time.Now(), IP: netip.MustParseAddr("192.0.2.1")}, &it); ref != nil {
			got = ref.Reason
		}
		if got != want {
			t.Fatalf("%s %s: refusal %q, want %q", origin, ev, got, want)
		}
	}
	conv := func(id, c string) string { return `{"id":"` + id + `","type":"conversion","conversion":` + c + `}` }
	v4, v5 := uuid.NewString(), uuid.NewSHA1(uuid.NameSpaceURL, []byte("x")).String()
	v3, v7 := uuid.NewMD5(uuid.NameSpaceURL, []byte("x")).String(), uuid.Must(uuid.NewV7()).String()
	f("web", conv(v4, `{"id":"order-1","type":"sale","value":4999.99,"currency":"EUR"}`), "")
	f("web", conv(v7, `{"type":"Signup ","value":0}`), "")
	f("web", conv(v4, `{"value":5000.01}`), ReasonBadField)
	f("web", conv(v4, `{"value":1e15}`), ReasonBadField)
	f("web", conv(v4, `{"value":-10}`), ReasonBadField)
	f("web", conv(v4, `{"value":1e400}`), ReasonMalformed)
	f("web", conv(v4, `{"value":NaN}`), ReasonMalformed)
	f("web", conv(v4, `{"type":"customer"}`), ReasonBadField)
	f("web", conv(v4, `{"type":" MQL"}`), ReasonBadField)
	f("web", conv(v4, `{"type":"sale; drop"}`), ReasonBadField)
	f("pixel", `{"id":"`+v5+`","type":"pageview"}`, ReasonBadID)
	f("web", `{"id":"`+strings.ToUpper(v5)+`","type":"form_submit"}`, ReasonBadID)
	f("web", `{"id":"`+v3+`","type":"identify"}`, ReasonBadID)
	// Servers and imports carry the site secret: their values and ids are theirs.
	old := time.Now().Add(-time.Hour).UnixMilli()
	f("server", fmt.Sprintf(`{"id":%q,"type":"conversion","ts":%d,"conversion":{"type":"customer","value":250000}}`, v5, old), "")
	f("import", fmt.Sprintf(`{"id":%q,"type":"conversion","ts":%d,"conversion":{"type":"sale","value":-20}}`, v3, old), "")
	// The default ceiling when the site sets none.
	st = &site.Site{ID: "demo"}
	f("web", conv(v4, `{"value":100000}`), "")
	f("web", conv(v4, `{"value":100001}`), ReasonBadField)
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
