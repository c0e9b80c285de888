package collector

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"

	"touchpoint/collector/spool"
	"touchpoint/internal/event"
	trackerjs "touchpoint/tracker-js"
)

func pageview(id, vid string, ts int64) string {
	return fmt.Sprintf(`{"id":%q,"type":"pageview","ts":%d,"vid":%q,"url":"https://shop.example.com/p?utm_source=x","title":"P"}`, id, ts, vid)
}

func TestEventsStatusPaths(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxEvents = 3; c.MaxServerBody = 256 << 10 })
	now := time.Now().UnixMilli()
	good := pageview(uuid.NewString(), uuid.NewString(), now)
	f := func(r req, wantStatus int, wantReason string) {
		t.Helper()
		resp := ts.do(t, r)
		if resp.StatusCode() != wantStatus {
			t.Fatalf("%s %s %.80q: status %d (%s), want %d", r.method, r.path, r.body, resp.StatusCode(), resp.Body(), wantStatus)
		}
		if got := reasonOf(resp); got != wantReason {
			t.Fatalf("%s %s %.80q: reason %q, want %q", r.method, r.path, r.body, got, wantReason)
		}
	}
	f(req{path: "/e", body: batch("demo", good)}, 204, "")
	f(req{path: "/e", body: batch("demo", good), headers: []string{"Origin", "http://localhost:3000"}}, 204, "")
	f(req{path: "/e", body: batch("demo", good), headers: []string{"Origin", "http://localhost"}}, 204, "") // "http://localhost:*" and the default port
	f(req{path: "/e", body: batch("demo", good), headers: []string{"Origin", "https://evil.example.net"}}, 403, "origin_not_allowed")
	f(req{path: "/e", body: batch("demo", good), headers: []string{"Origin", "https://other.example.org"}}, 403, "origin_not_allowed")
	f(req{path: "/e", body: batch("nosuch", good)}, 403, "unknown_site")
	f(req{path: "/e", body: `{"events":[` + good + `]}`}, 403, "unknown_site")
	f(req{path: "/e", body: `{"site":"demo","events":[`}, 400, "malformed_json")
	f(req{path: "/e", body: `[1,2]`}, 400, "malformed_json")
	f(req{path: "/e", body: "{\"site\":\"demo\",\"events\":[{\"title\":\"\xff\"}]}"}, 400, "invalid_utf8")
	f(req{path: "/e", body: `{"site":"demo","events":[{"props":{"a":[[[[[[[[1]]]]]]]]}}]}`}, 400, "too_deep")
	f(req{path: "/e", body: batch("demo")}, 400, "no_events")
	f(req{path: "/e", body: batch("demo", good, good, good, good)}, 400, "too_many_events")
	f(req{path: "/e", body: batch("demo", `"`+strings.Repeat("x", 70<<10)+`"`)}, 413, "body_too_large")
	f(req{path: "/e", body: batch("demo", `{"id":"nope","type":"pageview"}`)}, 400, "all_events_refused")
	f(req{method: "GET", path: "/e"}, 405, "method_not_allowed")
	f(req{method: "GET", path: "/nope"}, 404, "not_found")
	f(req{method: "OPTIONS", path: "/e", headers: []string{"Origin", "https://evil.example.net"}}, 403, "origin_not_allowed")
	f(req{method: "OPTIONS", path: "/e", headers: []string{"Origin", "https://shop.example.com", "Access-Control-Request-Method", "POST"}}, 204, "")
	f(req{method: "GET", path: "/healthz"}, 200, "")
	f(req{method: "GET", path: "/readyz"}, 200, "")

	// Bodies beyond the server's own limit are refused by fasthttp from the headers alone:
	// the client must still read a 413 (valyala/fasthttp#1348).
	conn, err := ts.ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /e HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n{", 300<<10)
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(conn)); err != nil {
		t.Fatalf("oversized body: no response: %v", err)
	}
	if resp.StatusCode() != 413 || reasonOf(&resp) != "body_too_large" {
		t.Fatalf("oversized body: status %d %s, want 413 body_too_large", resp.StatusCode(), resp.Body())
	}
}

func TestEventsEnrichedAndKeyed(t *testing.T) {
	ts := newTestServer(t, nil)
	vid := uuid.NewString()
	id1, id2 := uuid.NewString(), strings.ToUpper(uuid.NewString())
	now := time.Now().UnixMilli()
	body := batch("demo", pageview(id1, vid, now-1000),
		fmt.Sprintf(`{"id":%q,"type":"identify","ts":%d,"vid":%q,"traits":{"email":"  Ann@Example.COM ","plan":"pro"},"ip":"1.2.3.4","ua":"curl/8"}`, id2, now+3600_000, vid))
	resp := ts.do(t, req{path: "/e", body: body, headers: []string{"Origin", "http://localhost:8000"}})
	if resp.StatusCode() != 204 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	if got := string(resp.Header.Peek("Access-Control-Allow-Origin")); got != "http://localhost:8000" {
		t.Fatalf("Access-Control-Allow-Origin = %q", got)
	}
	if got := string(resp.Header.Peek("Access-Control-Allow-Credentials")); got != "true" {
		t.Fatalf("Access-Control-Allow-Credentials = %q", got)
	}
	msgs := ts.store.topic("events")
	evs := ts.store.enriched(t)
	if len(evs) != 2 {
		t.Fatalf("%d events produced, want 2", len(evs))
	}
	for i, m := range msgs {
		if string(m.Key) != "demo/"+vid {
			t.Fatalf("event %d key %q, want demo/%s", i, m.Key, vid)
		}
	}
	pv, idf := evs[0], evs[1]
	if pv.ID != id1 || pv.Site != "demo" || pv.Origin != "web" || pv.TS != now-1000 {
		t.Fatalf("pageview = %+v", pv)
	}
	if pv.ReceivedAt < now || pv.ReceivedAt > time.Now().UnixMilli() {
		t.Fatalf("received_at %d not the server's time", pv.ReceivedAt)
	}
	if pv.IP != "198.51.100.0" || pv.Browser != "Chrome" || pv.OS != "Mac OS X" || pv.Device != "desktop" || pv.Bot {
		t.Fatalf("pageview enrichment = ip %q browser %q os %q device %q bot %v", pv.IP, pv.Browser, pv.OS, pv.Device, pv.Bot)
	}
	if idf.ID != strings.ToLower(id2) {
		t.Fatalf("event id %q not normalised", idf.ID)
	}
	if idf.TS > time.Now().Add(time.Minute).UnixMilli() {
		t.Fatalf("client time an hour ahead kept: %d", idf.TS)
	}
	if idf.IP != "198.51.100.0" || idf.Bot {
		t.Fatalf("client-sent ip/ua used on /e: ip %q bot %v", idf.IP, idf.Bot)
	}
	if _, ok := idf.Traits["email"]; ok || idf.Traits["email_sha256"] != event.EmailSHA256("ann@example.com") || idf.Traits["plan"] != "pro" {
		t.Fatalf("traits = %v, want the email hashed only", idf.Traits)
	}
	c := string(resp.Header.PeekCookie("_tp_id"))
	for _, want := range []string{"_tp_id=" + vid, "domain=example.com", "path=/", "max-age=63072000", "SameSite=Lax"} {
		if !strings.Contains(c, want) {
			t.Fatalf("cookie %q lacks %q", c, want)
		}
	}
	if strings.Contains(c, "secure") {
		t.Fatalf("cookie %q is Secure on plain http", c)
	}
}

func TestKeepPII(t *testing.T) {
	ts := newTestServer(t, nil)
	body := `{"site":"other","visitor_id":"v1","email":" Bob@Example.com"}`
	resp := ts.do(t, req{path: "/v1/identify", body: body, headers: []string{"Authorization", "Bearer " + otherSecret}})
	if resp.StatusCode() != 202 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	e := ts.store.enriched(t)[0]
	if e.Traits["email"] != "bob@example.com" || e.Traits["email_sha256"] != event.EmailSHA256("bob@example.com") {
		t.Fatalf("keep_pii site traits = %v", e.Traits)
	}
}

// A site that sends to the Meta Conversions API keeps the browser's _fbc and _fbp (in
// Meta's shape) and its user agent; other sites keep none of them. A mangled cookie is
// dropped, never the event. A site that sends addresses to its CRM keeps them.
func TestMetaBrowserIDsOnlyForMetaSites(t *testing.T) {
	ts := newTestServer(t, nil)
	f := func(siteID, origin, fbc, fbp, wantFbc, wantFbp string, wantUA bool) {
		t.Helper()
		ts.store.msgs = nil
		ev := fmt.Sprintf(`{"id":%q,"type":"pageview","vid":"v1","url":"https://x.example/","fbc":%q,"fbp":%q}`, uuid.NewString(), fbc, fbp)
		resp := ts.do(t, req{path: "/e", body: batch(siteID, ev), headers: []string{"Origin", origin}})
		if resp.StatusCode() != 204 {
			t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
		}
		e := ts.store.enriched(t)[0]
		if e.Fbc != wantFbc || e.Fbp != wantFbp || (e.UA == browserUA) != wantUA || e.Browser != "Chrome" {
			t.Fatalf("%s fbc=%q fbp=%q: kept fbc=%q fbp=%q ua=%q browser=%q", siteID, fbc, fbp, e.Fbc, e.Fbp, e.UA, e.Browser)
		}
	}
	const fbc, fbp = "fb.1.1733300000000.IwAR2F4-dbP0l7Mn1_a", "fb.1.1733300000000.1098115397"
	f("meta", "https://meta.example.net", fbc, fbp, fbc, fbp, true)
	f("meta", "https://meta.example.net", fbc+".AQEAAQMB", fbp, fbc+".AQEAAQMB", fbp, true) // Meta's appendix
	f("meta", "https://meta.example.net", "", "", "", "", true)
	f("meta", "https://meta.example.net", "fb.1.x.y", "fbp", "", "", true)
	f("meta", "https://meta.example.net", "fb.1.1.a;b", "fb.1.1."+strings.Repeat("9", 600), "", "", true)
	f("meta", "https://meta.example.net", "fb.1.1.<script>", "fb.1.1733300000000.", "", "", true)
	f("demo", "https://shop.example.com", fbc, fbp, "", "", false)

	ts.store.msgs = nil
	body := `{"site":"meta","visitor_id":"v1","email":" Ann@Example.com"}`
	resp := ts.do(t, req{path: "/v1/identify", body: body, headers: []string{"Authorization", "Bearer meta-secret"}})
	if resp.StatusCode() != 202 {
		t.Fatalf("identify: status %d: %s", resp.StatusCode(), resp.Body())
	}
	if e := ts.store.enriched(t)[0]; e.Traits["email"] != "ann@example.com" {
		t.Fatalf("a site with webhook_include_email: traits %v", e.Traits)
	}
}

func TestMixedBatchSendsBadEventsToDLQ(t *testing.T) {
	ts := newTestServer(t, nil)
	now := time.Now().UnixMilli()
	good := pageview(uuid.NewString(), uuid.NewString(), now)
	f := func(bad, wantReason string) {
		t.Helper()
		ts.store.msgs = nil
		resp := ts.do(t, req{path: "/e", body: batch("demo", good, bad)})
		if resp.StatusCode() != 204 {
			t.Fatalf("%s: status %d, want 204 (the good event is accepted)", bad, resp.StatusCode())
		}
		dlq := ts.store.topic("dlq")
		if len(dlq) != 1 || len(ts.store.topic("events")) != 1 {
			t.Fatalf("%s: %d dead letters and %d events, want 1 and 1", bad, len(dlq), len(ts.store.topic("events")))
		}
		if got := header(dlq[0], "reason"); got != wantReason {
			t.Fatalf("%s: reason %q, want %q", bad, got, wantReason)
		}
		if string(dlq[0].Value) != bad || header(dlq[0], "site") != "demo" {
			t.Fatalf("dead letter %q (site %q), want the raw event", dlq[0].Value, header(dlq[0], "site"))
		}
	}
	id := uuid.NewString()
	f(`{"id":"not-a-uuid","type":"pageview"}`, "bad_id")
	f(`{"id":"`+id+`","type":"purchase"}`, "unknown_type")
	f(`{"id":"`+id+`","type":"track"}`, "bad_field")
	f(`{"id":"`+id+`","type":"pageview","ts":-5}`, "bad_timestamp")
	f(`{"id":"`+id+`","type":"pageview","ts":"yesterday"}`, "malformed_event")
	f(`{"id":"`+id+`","type":"pageview","title":"`+strings.Repeat("t", 2000)+`"}`, "field_too_long")
	f(`{"id":"`+id+`","type":"pageview","vid":"a b"}`, "bad_visitor_id")
	f(`{"id":"`+id+`","type":"track","name":"x","props":{"a":{"b":1}}}`, "bad_field")
	f(`{"id":"`+id+`","type":"conversion","conversion":{"currency":"euro"}}`, "bad_field")
	f(`42`, "malformed_event")

	resp := ts.do(t, req{path: "/e", body: batch("demo", `{"id":"x","type":"pageview"}`, `{"id":"`+id+`","type":"nope"}`)})
	if resp.StatusCode() != 400 || !strings.Contains(string(resp.Body()), `"index":1,"reason":"unknown_type"`) {
		t.Fatalf("all bad: status %d body %s, want 400 listing each event", resp.StatusCode(), resp.Body())
	}
}

func TestSpoolFullAnswers503(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.store.err = spool.ErrFull
	resp := ts.do(t, req{path: "/e", body: batch("demo", pageview(uuid.NewString(), "v", 0))})
	if resp.StatusCode() != 503 || reasonOf(resp) != "spool_full" || len(resp.Header.Peek("Retry-After")) == 0 {
		t.Fatalf("status %d reason %q Retry-After %q, want 503 spool_full with Retry-After", resp.StatusCode(), reasonOf(resp), resp.Header.Peek("Retry-After"))
	}
}

func TestRateLimits(t *testing.T) {
	f := func(mod func(*Config), peers []string, want []int, wantReason string) {
		t.Helper()
		ts := newTestServer(t, mod)
		for i, p := range peers {
			resp := ts.do(t, req{path: "/e", body: batch("demo", pageview(uuid.NewString(), "v", 0)), peer: p})
			if resp.StatusCode() != want[i] {
				t.Fatalf("request %d from %s: status %d, want %d", i, p, resp.StatusCode(), want[i])
			}
			if want[i] == 429 {
				if reasonOf(resp) != wantReason || len(resp.Header.Peek("Retry-After")) == 0 {
					t.Fatalf("429 with reason %q, Retry-After %q", reasonOf(resp), resp.Header.Peek("Retry-After"))
				}
			}
		}
	}
	perIP := func(c *Config) { c.IPRate, c.IPBurst = 0.01, 2 }
	f(perIP, []string{"192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.2"}, []int{204, 204, 429, 204}, "rate_limited_ip")
	// The tracker must be able to read a 429 and its Retry-After across origins.
	ts := newTestServer(t, perIP)
	var resp *fasthttp.Response
	for range 3 {
		resp = ts.do(t, req{path: "/e", body: batch("demo", pageview(uuid.NewString(), "v", 0)), headers: []string{"Origin", "http://localhost:3000"}})
	}
	if resp.StatusCode() != 429 || string(resp.Header.Peek("Access-Control-Allow-Origin")) != "http://localhost:3000" ||
		!strings.Contains(string(resp.Header.Peek("Access-Control-Expose-Headers")), "Retry-After") {
		t.Fatalf("cross-origin 429: status %d, headers %s", resp.StatusCode(), resp.Header.String())
	}
	perSite := func(c *Config) { c.SiteRate, c.SiteBurst = 0.01, 2 }
	f(perSite, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, []int{204, 204, 429}, "rate_limited_site")
}

func TestTrustedProxy(t *testing.T) {
	ts := newTestServer(t, nil) // trusts 10.0.0.0/8
	f := func(peer, xff, proto, wantIP string, wantSecure bool) {
		t.Helper()
		ts.store.msgs = nil
		h := []string{"X-Forwarded-For", xff, "X-Forwarded-Proto", proto}
		resp := ts.do(t, req{path: "/e", body: batch("demo", pageview(uuid.NewString(), "v1", 0)), peer: peer, headers: h})
		if resp.StatusCode() != 204 {
			t.Fatalf("status %d", resp.StatusCode())
		}
		if got := ts.store.enriched(t)[0].IP; got != wantIP {
			t.Fatalf("peer %s XFF %q: ip %q, want %q", peer, xff, got, wantIP)
		}
		if got := strings.Contains(string(resp.Header.PeekCookie("_tp_id")), "secure"); got != wantSecure {
			t.Fatalf("peer %s proto %s: Secure = %v, want %v", peer, proto, got, wantSecure)
		}
	}
	f("10.1.2.3", "203.0.113.9", "https", "203.0.113.0", true)
	f("10.1.2.3", "6.6.6.6, 203.0.113.9, 10.9.9.9", "https", "203.0.113.0", true)
	f("10.1.2.3", "2001:db8:aa:bb::1", "http", "2001:db8:aa::", false)
	f("198.51.100.20", "203.0.113.9", "https", "198.51.100.0", false)
}

func TestServerAPIs(t *testing.T) {
	ts := newTestServer(t, nil)
	auth := func(secret string) []string { return []string{"Authorization", "Bearer " + secret} }
	f := func(path, body string, headers []string, wantStatus int, wantReason string) {
		t.Helper()
		resp := ts.do(t, req{path: path, body: body, headers: headers})
		if resp.StatusCode() != wantStatus || reasonOf(resp) != wantReason {
			t.Fatalf("%s %s: status %d reason %q (%s), want %d %q", path, body, resp.StatusCode(), reasonOf(resp), resp.Body(), wantStatus, wantReason)
		}
	}
	conv := `{"site":"demo","conversion_id":"crm-42","type":"sale","value":99.5,"currency":"EUR","email":"a@b.c","occurred_at":"2026-01-02T03:04:05Z"}`
	f("/v1/conversions", conv, nil, 401, "unauthorized")
	f("/v1/conversions", conv, auth("wrong"), 401, "unauthorized")
	f("/v1/conversions", conv, auth(otherSecret), 401, "unauthorized") // another site's secret
	f("/v1/conversions", strings.Replace(conv, `"demo"`, `"nosuch"`, 1), auth(demoSecret), 401, "unauthorized")
	f("/v1/conversions", `{"site":"demo"`, auth(demoSecret), 400, "malformed_json")
	f("/v1/conversions", `{"site":"demo","conversion_id":"1","type":"sale","emial":"x"}`, auth(demoSecret), 400, "malformed_json")
	f("/v1/conversions", `{"site":"demo","conversion_id":"1","type":"Sale!","email":"x"}`, auth(demoSecret), 400, "bad_field")
	f("/v1/conversions", `{"site":"demo","conversion_id":"1","type":"sale"}`, auth(demoSecret), 400, "bad_field")
	f("/v1/conversions", `{"site":"demo","conversion_id":"1","type":"sale","user_id":"u","occurred_at":"soon"}`, auth(demoSecret), 400, "bad_timestamp")
	f("/v1/conversions", `{"site":"demo","conversion_id":"1","type":"sale","user_id":"u","occurred_at":99999999999999}`, auth(demoSecret), 400, "bad_timestamp")
	f("/v1/conversions", conv, auth(demoSecret), 202, "")
	f("/v1/conversions", conv, auth(demoSecret), 202, "") // repeated: same event id
	f("/v1/identify", `{"site":"demo","visitor_id":"v1"}`, auth(demoSecret), 400, "bad_field")
	f("/v1/identify", `{"site":"demo","visitor_id":"v1","user_id":"u-1"}`, auth(otherSecret), 401, "unauthorized")
	f("/v1/identify", `{"site":"demo","visitor_id":"v1","user_id":"u-1"}`, auth(demoSecret), 202, "")
	f("/v1/import", `{"site":"demo","events":[]}`, auth(demoSecret), 400, "no_events")
	f("/v1/import", `{"site":"demo","events":[{"id":"x"}]}`, auth(demoSecret), 400, "all_events_refused")

	evs := ts.store.enriched(t)
	if len(evs) != 3 {
		t.Fatalf("%d events produced, want 3", len(evs))
	}
	c1, c2 := evs[0], evs[1]
	if c1.ID != c2.ID || c1.ID != ConversionEventID("demo", "crm-42") || c1.ID == ConversionEventID("other", "crm-42") {
		t.Fatalf("conversion ids %s %s not deterministic per site", c1.ID, c2.ID)
	}
	if c1.Type != "conversion" || c1.Origin != "server" || c1.Site != "demo" || c1.TS != time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli() {
		t.Fatalf("conversion event = %+v", c1)
	}
	if c1.Conversion == nil || c1.Conversion.ID != "crm-42" || c1.Conversion.Type != "sale" || c1.Conversion.Value != 99.5 || c1.Conversion.Currency != "EUR" {
		t.Fatalf("conversion = %+v", c1.Conversion)
	}
	if c1.Traits["email_sha256"] != event.EmailSHA256("a@b.c") || c1.Traits["email"] != "" || c1.Bot {
		t.Fatalf("conversion traits = %v bot %v", c1.Traits, c1.Bot)
	}
	if evs[2].Type != "identify" || evs[2].VID != "v1" || evs[2].Traits["user_id"] != "u-1" {
		t.Fatalf("identify event = %+v", evs[2])
	}
}

func TestImportKeepsTimeAndClientData(t *testing.T) {
	ts := newTestServer(t, nil)
	old := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	future := time.Now().Add(time.Hour).UnixMilli()
	body := batch("demo",
		fmt.Sprintf(`{"id":%q,"type":"pageview","ts":%d,"vid":"v9","ip":"203.0.113.77","ua":%q}`, uuid.NewString(), old, browserUA),
		fmt.Sprintf(`{"id":%q,"type":"pageview","ts":%d,"vid":"v9"}`, uuid.NewString(), future),
		fmt.Sprintf(`{"id":%q,"type":"pageview","ts":%d,"vid":"v9","ip":"not-an-ip"}`, uuid.NewString(), old))
	resp := ts.do(t, req{path: "/v1/import", body: body, headers: []string{"Authorization", "Bearer " + demoSecret}})
	if resp.StatusCode() != 202 || !strings.Contains(string(resp.Body()), `"accepted":1`) {
		t.Fatalf("status %d body %s, want 202 accepted 1", resp.StatusCode(), resp.Body())
	}
	e := ts.store.enriched(t)[0]
	if e.TS != old || e.Origin != "import" || e.IP != "203.0.113.0" || e.Browser != "Chrome" || e.UA != "" {
		t.Fatalf("imported event = %+v", e)
	}
	dlq := ts.store.topic("dlq")
	if len(dlq) != 2 || header(dlq[0], "reason") != "bad_timestamp" || header(dlq[1], "reason") != "bad_field" {
		t.Fatalf("dead letters %d, want the future and the bad-ip event", len(dlq))
	}
}

func TestTrackerScript(t *testing.T) {
	ts := newTestServer(t, nil)
	resp := ts.do(t, req{method: "GET", path: "/t.js"})
	plain := string(resp.Body())
	if resp.StatusCode() != 200 || len(resp.Header.Peek("Content-Encoding")) != 0 || !strings.Contains(plain, "_tp_vid") {
		t.Fatalf("plain: status %d encoding %q", resp.StatusCode(), resp.Header.Peek("Content-Encoding"))
	}
	// Each browser gets the smallest encoding it accepts, and the same script; each
	// encoding has its own ETag.
	size, etags := map[string]int{}, map[string]string{"": string(resp.Header.Peek("ETag"))}
	for _, c := range []struct{ accept, want string }{{"gzip, deflate, br, zstd", "br"}, {"gzip, deflate", "gzip"}} {
		resp = ts.do(t, req{method: "GET", path: "/t.js", headers: []string{"Accept-Encoding", c.accept}})
		if resp.StatusCode() != 200 || string(resp.Header.Peek("Content-Encoding")) != c.want {
			t.Fatalf("Accept-Encoding %q: status %d encoding %q, want %s", c.accept, resp.StatusCode(), resp.Header.Peek("Content-Encoding"), c.want)
		}
		body, err := resp.BodyUncompressed()
		if err != nil || string(body) != plain {
			t.Fatalf("%s body differs from the plain script (%v)", c.want, err)
		}
		if !strings.Contains(string(resp.Header.Peek("Cache-Control")), "max-age=") || string(resp.Header.Peek("Vary")) != "Accept-Encoding" {
			t.Fatalf("%s: Cache-Control %q Vary %q", c.want, resp.Header.Peek("Cache-Control"), resp.Header.Peek("Vary"))
		}
		size[c.want], etags[c.want] = len(resp.Body()), string(resp.Header.Peek("ETag"))
	}
	if size["br"] >= size["gzip"] || size["gzip"] >= len(plain)*6/10 {
		t.Fatalf("brotli %d bytes, gzip %d, plain %d", size["br"], size["gzip"], len(plain))
	}
	t.Logf("t.js: brotli %d bytes, gzip %d, plain %d", size["br"], size["gzip"], len(plain))
	if etags[""] == "" || etags[""] == etags["br"] || etags[""] == etags["gzip"] || etags["br"] == etags["gzip"] {
		t.Fatalf("ETags %q: want one per encoding", etags)
	}
	// A cache revalidating the gzip bytes it holds hears 304; one holding another encoding's
	// bytes gets the gzip script.
	for _, c := range []struct {
		inm  string
		want int
	}{{etags["gzip"], 304}, {"W/" + etags["gzip"], 304}, {etags["br"] + ", " + etags["gzip"], 304}, {etags["br"], 200}, {etags[""], 200}} {
		resp = ts.do(t, req{method: "GET", path: "/t.js", headers: []string{"Accept-Encoding", "gzip", "If-None-Match", c.inm}})
		if resp.StatusCode() != c.want || (c.want == 304) != (len(resp.Body()) == 0) || string(resp.Header.Peek("ETag")) != etags["gzip"] {
			t.Fatalf("If-None-Match %s: status %d, %d bytes, ETag %q; want %d", c.inm, resp.StatusCode(), len(resp.Body()), resp.Header.Peek("ETag"), c.want)
		}
	}
}

// The cross-domain part is the same for every site: its domains come in its query.
func TestLinksScript(t *testing.T) {
	ts := newTestServer(t, nil)
	resp := ts.do(t, req{method: "GET", path: "/l.js?domains=example.net,%20example.org", headers: []string{"Accept-Encoding", "gzip"}})
	body, err := resp.BodyUncompressed()
	if resp.StatusCode() != 200 || string(resp.Header.Peek("Content-Encoding")) != "gzip" || err != nil || !bytes.Equal(body, trackerjs.Links.Plain) {
		t.Fatalf("GET /l.js: status %d, encoding %q, %d bytes (%v)", resp.StatusCode(), resp.Header.Peek("Content-Encoding"), len(body), err)
	}
	if resp = ts.do(t, req{method: "POST", path: "/l.js"}); resp.StatusCode() != 405 {
		t.Fatalf("POST /l.js: status %d, want 405", resp.StatusCode())
	}
}

func TestPixel(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.PathPrefix = "/tp" })
	id, vid := uuid.NewString(), uuid.NewString()
	f := func(path string, headers []string, want int) {
		t.Helper()
		resp := ts.do(t, req{method: "GET", path: path, headers: headers})
		if resp.StatusCode() != want {
			t.Fatalf("GET %s: status %d (%s), want %d", path, resp.StatusCode(), resp.Body(), want)
		}
		if want == 200 && string(resp.Header.ContentType()) != "image/gif" {
			t.Fatalf("content type %q", resp.Header.ContentType())
		}
	}
	q := "?site=demo&id=" + id + "&type=pageview&vid=" + vid + "&url=https%3A%2F%2Fshop.example.com%2F&ts=" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	f("/tp/p.gif"+q, nil, 200)
	f("/p.gif"+q, []string{"Referer", "https://shop.example.com/page"}, 200)
	f("/p.gif"+q, []string{"Referer", "https://evil.example.net/"}, 403)
	f("/p.gif?site=nosuch", nil, 403)
	f("/p.gif?site=demo&id=x&type=pageview", nil, 400)
	evs := ts.store.enriched(t)
	if len(evs) != 2 || evs[0].ID != id || evs[0].VID != vid || evs[0].Origin != "pixel" || evs[0].URL != "https://shop.example.com/" {
		t.Fatalf("pixel events = %+v", evs)
	}
}

func TestMetricsCountRefusals(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.do(t, req{path: "/e", body: "{"})
	rec := httptest.NewRecorder()
	promhttp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`tp_collector_refusals_total{reason="malformed_json"}`, `tp_collector_requests_total{endpoint="/e",status="400"}`, `tp_collector_step_seconds_bucket{step="validate"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
}

// The public port serves the tracker's and servers' endpoints only: metrics are on their
// own listener (-metrics.listen) and the profiler is off unless -debug.pprof names one.
func TestPublicPortServesNoMetricsOrProfiler(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/goroutine?debug=2", "/debug/vars"} {
		if resp := ts.do(t, req{method: "GET", path: path}); resp.StatusCode() != 404 || strings.Contains(string(resp.Body()), "tp_collector") {
			t.Fatalf("GET %s on the public port: status %d", path, resp.StatusCode())
		}
	}
}

// A site's own code often passes ids as numbers: tp('identify', {user_id: 42}).
func TestNumericAndBooleanTraitsKeptAsText(t *testing.T) {
	ts := newTestServer(t, nil)
	id, vid := uuid.NewString(), uuid.NewString()
	body := batch("demo", fmt.Sprintf(`{"id":%q,"type":"identify","ts":%d,"vid":%q,"traits":{"user_id":42,"vip":true,"score":1.50,"plan":null}}`,
		id, time.Now().UnixMilli(), vid))
	if resp := ts.do(t, req{path: "/e", body: body, headers: []string{"Origin", "http://localhost:3000"}}); resp.StatusCode() != 204 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	evs := ts.store.enriched(t)
	if len(evs) != 1 {
		t.Fatalf("%d events produced, want 1", len(evs))
	}
	want := event.Traits{"user_id": "42", "vip": "true", "score": "1.50"}
	if got := evs[0].Traits; len(got) != len(want) || got["user_id"] != "42" || got["vip"] != "true" || got["score"] != "1.50" {
		t.Fatalf("traits = %v, want %v", got, want)
	}
	resp := ts.do(t, req{path: "/e", body: batch("demo", fmt.Sprintf(`{"id":%q,"type":"identify","ts":%d,"vid":%q,"traits":{"user_id":{"id":42}}}`,
		uuid.NewString(), time.Now().UnixMilli(), vid))})
	if resp.StatusCode() != 400 {
		t.Fatalf("an object as a trait: status %d, want 400", resp.StatusCode())
	}
	// The server API's identify takes the same traits.
	resp = ts.do(t, req{path: "/v1/identify", body: `{"site":"demo","visitor_id":"v-9","traits":{"user_id":7}}`,
		headers: []string{"Authorization", "Bearer " + demoSecret}})
	if resp.StatusCode() != 200 && resp.StatusCode() != 202 && resp.StatusCode() != 204 {
		t.Fatalf("/v1/identify with a numeric trait: status %d: %s", resp.StatusCode(), resp.Body())
	}
	if evs = ts.store.enriched(t); evs[len(evs)-1].Traits["user_id"] != "7" {
		t.Fatalf("/v1/identify traits = %v", evs[len(evs)-1].Traits)
	}
}
