package collector

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
)

// A browser cannot take the event id of a server call (a UUID v5 of site and conversion
// id, which anyone can compute), claim a lifecycle stage or a value beyond the site's
// ceiling; a pixel cannot set conversion fields at all.
func TestBrowserCannotForgeServerRecords(t *testing.T) {
	ts := newTestServer(t, nil)
	vid := uuid.NewString()
	conv := func(id, c string) string {
		return fmt.Sprintf(`{"id":%q,"type":"conversion","vid":%q,"conversion":%s}`, id, vid, c)
	}
	f := func(ev string, want int, wantReason string) {
		t.Helper()
		ts.store.msgs = nil
		resp := ts.do(t, req{path: "/e", body: batch("demo", ev), headers: []string{"Origin", "https://shop.example.com"}})
		if resp.StatusCode() != want || (wantReason != "" && !strings.Contains(string(resp.Body()), `"reason":"`+wantReason+`"`)) {
			t.Fatalf("%s: status %d %s, want %d %s", ev, resp.StatusCode(), resp.Body(), want, wantReason)
		}
	}
	serverID := ConversionEventID("demo", "crm-42")
	f(conv(serverID, `{"id":"crm-42","type":"lead","value":0}`), 400, "bad_id")
	f(conv(strings.ToUpper(serverID), `{"id":"crm-42"}`), 400, "bad_id")
	f(conv(uuid.NewString(), `{"id":"crm-42","type":"sale","value":1e15,"currency":"EUR"}`), 400, "bad_field")
	f(conv(uuid.NewString(), `{"id":"crm-42","type":"sale","value":100001,"currency":"EUR"}`), 400, "bad_field")
	f(conv(uuid.NewString(), `{"id":"crm-42","type":"sale","value":-100,"currency":"EUR"}`), 400, "bad_field")
	f(conv(uuid.NewString(), `{"id":"crm-42","type":"customer"}`), 400, "bad_field")
	f(conv(uuid.NewString(), `{"id":"crm-42","type":"demo_booked"}`), 400, "bad_field") // a stage of this site
	f(conv(uuid.NewString(), `{"id":"order-7","type":"Sale","value":99.5,"currency":"EUR"}`), 204, "")
	if e := ts.store.enriched(t)[0]; e.Conversion.Type != "sale" || e.Conversion.Value != 99.5 || e.Origin != event.OriginWeb {
		t.Fatalf("browser conversion = %+v %+v", e, e.Conversion)
	}

	ts.store.msgs = nil
	q := url.Values{"site": {"demo"}, "id": {uuid.NewString()}, "type": {"conversion"}, "vid": {vid},
		"conversion.id": {"crm-42"}, "conversion[value]": {"1000000"}, "value": {"1e9"}, "currency": {"EUR"},
		"traits.email": {"victim@example.com"}, "email": {"victim@example.com"}, "user_id": {"victim"}}
	if resp := ts.do(t, req{method: "GET", path: "/p.gif?" + q.Encode()}); resp.StatusCode() != 200 {
		t.Fatalf("pixel: status %d %s", resp.StatusCode(), resp.Body())
	}
	e := ts.store.enriched(t)[0]
	if e.Conversion != nil || len(e.Traits) != 0 || e.Origin != event.OriginPixel {
		t.Fatalf("pixel set conversion or identity fields: %+v", e)
	}
	q.Set("id", serverID)
	if resp := ts.do(t, req{method: "GET", path: "/p.gif?" + q.Encode()}); resp.StatusCode() != 400 {
		t.Fatalf("pixel with a server event id: status %d, want 400", resp.StatusCode())
	}
}

// Refused events keep in the dead-letter topic only what an accepted event would: emails
// hashed, IPs anonymised, unless the site keeps PII.
func TestDeadLetterRedactsPII(t *testing.T) {
	ts := newTestServer(t, nil)
	secret := map[string]string{"demo": demoSecret, "other": otherSecret}
	f := func(site, path, ev string, wantIn, wantOut []string) {
		t.Helper()
		ts.store.msgs = nil
		ts.do(t, req{path: path, body: batch(site, ev), headers: []string{"Authorization", "Bearer " + secret[site]}})
		dlq := ts.store.topic("dlq")
		if len(dlq) != 1 {
			t.Fatalf("%s: %d dead letters, want 1", ev, len(dlq))
		}
		v := string(dlq[0].Value)
		for _, w := range wantIn {
			if !strings.Contains(v, w) {
				t.Fatalf("dead letter %s lacks %q", v, w)
			}
		}
		for _, w := range wantOut {
			if strings.Contains(strings.ToLower(v), strings.ToLower(w)) {
				t.Fatalf("dead letter %s keeps %q", v, w)
			}
		}
	}
	ann, bob := event.EmailSHA256("ann@example.com"), event.EmailSHA256("bob@example.com")
	id := uuid.NewString()
	old := time.Now().Add(-time.Hour).UnixMilli()
	// Refused for its type; the traits, an address elsewhere and a claimed ip are redacted.
	f("demo", "/e", `{"id":"`+id+`","type":"purchase","traits":{"Email":" Ann@Example.com","contact_email":"bob@example.com","plan":"pro","n":3},"props":{"note":"ann@example.com"},"ip":"203.0.113.77"}`,
		[]string{ann, `"contact_email_sha256":"` + bob + `"`, `"plan":"pro"`, `"203.0.113.0"`, id}, []string{"ann@example.com", "bob@example.com", "203.0.113.77"})
	// An import with a bad timestamp: its ip is anonymised as the main path would.
	f("demo", "/v1/import", fmt.Sprintf(`{"id":%q,"type":"identify","ts":99,"ip":"2001:db8:aa:bb::1","traits":{"email":"ann@example.com"}}`, id),
		[]string{"2001:db8:aa::", ann}, []string{"2001:db8:aa:bb::1", "ann@example.com"})
	f("demo", "/v1/import", fmt.Sprintf(`{"id":%q,"type":"identify","ts":%d,"ip":"not-an-ip ann@example.com"}`, id, old),
		[]string{`"ip":""`}, []string{"ann@example.com"})
	// Not an event object at all: every address in it is hashed.
	f("demo", "/e", `["ann@example.com", {"email": "Bob@example.com"}]`, []string{ann}, []string{"ann@example.com", "bob@example.com"})
	f("demo", "/e", `"mailto:ann@example.com"`, []string{ann}, []string{"ann@example.com"})
	// A site that keeps PII keeps the event as received.
	raw := `{"id":"x","type":"identify","traits":{"email":"ann@example.com"}}`
	f("other", "/v1/import", raw, []string{raw}, nil)
	// Nothing to redact: byte for byte.
	raw = `{"id":"x",  "type":"pageview"}`
	f("demo", "/e", raw, []string{raw}, nil)
}

func TestIPv6RateLimitedPer64(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.IPRate, c.IPBurst = 0.01, 2 })
	f := func(peer string, want int) {
		t.Helper()
		if resp := ts.do(t, req{path: "/e", body: batch("demo", pageview(uuid.NewString(), "v", 0)), peer: peer}); resp.StatusCode() != want {
			t.Fatalf("from %s: status %d, want %d", peer, resp.StatusCode(), want)
		}
	}
	f("2001:db8:1:2::1", 204)
	f("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 204)
	f("2001:db8:1:2::3", 429) // a third address of the same /64
	f("2001:db8:1:3::1", 204) // the next /64 is another subscriber
	f("192.0.2.1", 204)
	f("192.0.2.2", 204) // IPv4 counts per address
}

// A server API call is authenticated before its body is parsed, and an address that keeps
// presenting wrong secrets is refused for a while, whatever it sends.
func TestServerAuthFirstAndFailuresLimited(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.AuthRate, c.AuthBurst = 0.01, 3 })
	f := func(peer, secret, body string, want int, wantReason string) {
		t.Helper()
		h := []string{}
		if secret != "" {
			h = []string{"Authorization", "Bearer " + secret}
		}
		resp := ts.do(t, req{path: "/v1/identify", body: body, headers: h, peer: peer})
		if resp.StatusCode() != want || reasonOf(resp) != wantReason {
			t.Fatalf("%s %q %.40s: status %d %s, want %d %s", peer, secret, body, resp.StatusCode(), resp.Body(), want, wantReason)
		}
		if want == 429 && len(resp.Header.Peek("Retry-After")) == 0 {
			t.Fatal("429 without Retry-After")
		}
	}
	good := `{"site":"demo","visitor_id":"v1","user_id":"u1"}`
	// Without the secret, a malformed or deep body is never looked at.
	f("192.0.2.10", "guess-1", `{"site":"demo"`, 401, "unauthorized")
	f("192.0.2.10", "", `[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]`, 401, "unauthorized")
	f("192.0.2.10", "guess-3", good, 401, "unauthorized")
	f("192.0.2.10", "guess-4", good, 429, "rate_limited_auth")
	f("192.0.2.10", demoSecret, good, 429, "rate_limited_auth") // even the right secret, for now
	f("192.0.2.11", demoSecret, good, 202, "")
	// Successes are not counted; another site's secret is a valid login, refused for the site.
	for range 5 {
		f("192.0.2.11", demoSecret, good, 202, "")
	}
	f("192.0.2.11", otherSecret, good, 401, "unauthorized")
	f("192.0.2.11", demoSecret, `{"site":"demo"`, 400, "malformed_json")
	// IPv6 failures count per /64.
	f("2001:db8:9:9::1", "x", good, 401, "unauthorized")
	f("2001:db8:9:9::2", "x", good, 401, "unauthorized")
	f("2001:db8:9:9::3", "x", good, 401, "unauthorized")
	f("2001:db8:9:9::4", demoSecret, good, 429, "rate_limited_auth")
}

// Ambiguous framing never lets a second request ride inside the first: fasthttp answers
// once and closes, or refuses.
func TestNoRequestSmuggling(t *testing.T) {
	ts := newTestServer(t, nil)
	smuggled := "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
	for _, raw := range []string{
		"POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\n{}{}" + smuggled,
		"POST /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled,
		"POST /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled,
		"POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n Transfer-Encoding: chunked\r\n\r\n{}{}" + smuggled,
		"POST /e HTTP/1.1\r\nHost: t\r\nContent-Length : 4\r\n\r\n{}{}" + smuggled,
	} {
		c, err := ts.ln.Dial()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, raw)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b, _ := io.ReadAll(bufio.NewReader(c))
		c.Close()
		if n := strings.Count(string(b), "HTTP/1.1 "); n != 1 || !strings.HasPrefix(string(b), "HTTP/1.1 400") || strings.Contains(string(b), "not_found") {
			t.Fatalf("%q:\n%d responses: %s", raw, n, b)
		}
		var refusal struct{ Error string }
		if i := strings.Index(string(b), "\r\n\r\n"); i < 0 || json.Unmarshal(b[i+4:], &refusal) != nil || refusal.Error == "" {
			t.Fatalf("%q: no JSON refusal in %s", raw, b)
		}
	}
}
