package collector

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"touchpoint/collector/enrich"
	"touchpoint/collector/leases"
	"touchpoint/internal/callsig"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

const (
	twilioToken = "twilio-token"
	callRailKey = "callrail-key"
)

// callSites has one site with a pool of two numbers, a static number and Twilio and
// CallRail keys.
func callSites(t testing.TB) *site.Registry {
	t.Helper()
	c := site.Config{Sites: []site.Site{{ID: "demo", Origins: []string{"https://shop.example.com"},
		CallTracking: site.CallTracking{CountryCode: "44", TwilioAuthToken: twilioToken, CallRailSigningKey: callRailKey,
			Pools: []site.NumberPool{
				{ID: "main", Numbers: []string{"+442079460001", "+442079460002"}, Default: "020 7946 0000", ForwardTo: "+442079460000"},
				{ID: "paid", Numbers: []string{"+442079460011"}, Default: "0800 123 456", Channels: []string{"Paid Search"}},
				{ID: "print", Numbers: []string{"+442079460099"}, Source: "yellowpages", Medium: "directory", Campaign: "2026"},
			}}}, {ID: "us", Origins: []string{"https://www.example.com"},
		CallTracking: site.CallTracking{CountryCode: "1", CallRailSigningKey: "us-callrail-key",
			Pools: []site.NumberPool{{ID: "us", Numbers: []string{"+15550100001", "+15550100002"}, Default: "+1 (555) 010-0000"}}}}}}
	site.ApplyEnv(&c, func(k string) (string, bool) {
		return demoSecret, k == "TP_SITE_DEMO_SECRET" || k == "TP_SITE_US_SECRET"
	})
	r, err := site.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newCallServer is a collector with callSites and a lease store of the test's own.
func newCallServer(t testing.TB) (*testServer, func(), func()) {
	t.Helper()
	addr, stop, start := testenv.PrivateRedis(t)
	cfg := RegisterFlags(flag.NewFlagSet("test", flag.PanicOnError))
	cfg.IPRate, cfg.SiteRate = 0, 0
	cfg.TrustedProxies = "10.0.0.0/8"
	store := &memSink{}
	srv, err := New(cfg, callSites(t), enrich.New(enrich.Options{}), store, func(context.Context) error { return nil }, "events", "dlq")
	if err != nil {
		t.Fatal(err)
	}
	srv.UseLeases(leases.Open(leases.Config{Addr: addr}))
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	return &testServer{srv: srv, store: store, ln: ln}, stop, start
}

func numbersOf(t *testing.T, resp *fasthttp.Response) map[string]string {
	t.Helper()
	if resp.StatusCode() != 200 {
		t.Fatalf("/v1/number: %d %s", resp.StatusCode(), resp.Body())
	}
	var a numberAnswer
	if err := json.Unmarshal(resp.Body(), &a); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range a.Numbers {
		out[n.Pool] = n.Number
	}
	return out
}

func TestNumberPoolsLeaseOneNumberPerVisitor(t *testing.T) {
	ts, stop, start := newCallServer(t)
	ask := func(vid, query string) map[string]string {
		return numbersOf(t, ts.do(t, req{method: "GET", path: "/v1/number?site=demo&vid=" + vid + query,
			headers: []string{"Origin", "https://shop.example.com"}}))
	}
	a, b := ask("v1", ""), ask("v2", "")
	if a["main"] == "" || b["main"] == "" || a["main"] == b["main"] {
		t.Fatalf("two visitors got %q and %q", a["main"], b["main"])
	}
	if _, ok := a["print"]; ok {
		t.Error("a static number is handed to visitors")
	}
	exhausted := testutil.ToFloat64(numberAnswers.WithLabelValues("demo", "main", "exhausted"))
	if c := ask("v3", ""); c["main"] != "" {
		t.Fatalf("a third visitor got %q from a pool of two", c["main"])
	}
	if got := testutil.ToFloat64(numberAnswers.WithLabelValues("demo", "main", "exhausted")); got != exhausted+1 {
		t.Errorf("exhausted pool counted %g times, want once", got-exhausted)
	}
	if again := ask("v1", ""); again["main"] != a["main"] {
		t.Errorf("v1 asked again and got %q, had %q", again["main"], a["main"])
	}
	if anon := ask("", ""); anon["main"] != "" {
		t.Errorf("a request without visitor got %q", anon["main"])
	}
	// A search engine rendering the page keeps the site's number and holds none.
	crawler := numbersOf(t, ts.do(t, req{method: "GET", path: "/v1/number?site=demo&vid=g1",
		headers: []string{"User-Agent", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/131.0.6778.204 Safari/537.36"}}))
	if crawler["main"] != "" || testutil.ToFloat64(numberAnswers.WithLabelValues("demo", "main", "bot")) == 0 {
		t.Errorf("a crawler got %q", crawler["main"])
	}
	// The paid pool is for Paid Search sessions only.
	if p := ask("v4", "&url="+url.QueryEscape("https://shop.example.com/?gclid=abc")); p["paid"] == "" {
		t.Error("a Paid Search session got no number of the paid pool")
	}
	if p := ask("v5", "&url="+url.QueryEscape("https://shop.example.com/")); p["paid"] != "" {
		t.Errorf("a Direct session got %q of the paid pool", p["paid"])
	}
	// Leases reach Kafka with the visitor and the number.
	testenv.Eventually(t, 5*time.Second, "lease events", func() (bool, error) {
		n := 0
		for _, e := range ts.store.enriched(t) {
			if e.Type == event.NumberLease && e.VID == "v1" && strings.Contains(string(e.Props), a["main"]) {
				n++
			}
		}
		return n == 1, nil
	})

	// Without the lease store the page keeps its default numbers, and /readyz says why.
	stop()
	if d := ask("v1", ""); d["main"] != "" {
		t.Errorf("with the store down v1 got %q", d["main"])
	}
	if r := ts.do(t, req{method: "GET", path: "/readyz"}); r.StatusCode() != 200 || !strings.Contains(string(r.Body()), `"degraded":[{"dependency":"lease_store"`) {
		t.Errorf("/readyz with the store down: %d %s", r.StatusCode(), r.Body())
	}
	start()
	testenv.Eventually(t, 5*time.Second, "leases resume", func() (bool, error) { return ask("v1", "")["main"] == a["main"], nil })
}

// twilioSign signs params for u as Twilio does.
func twilioSign(token, u string, params url.Values) string { return callsig.Twilio(token, u, params) }

// Twilio's published example: auth token 12345, this URL and these parameters.
func TestTwilioSignatureExample(t *testing.T) {
	form := &fasthttp.Args{}
	for k, v := range map[string]string{"CallSid": "CA1234567890ABCDE", "Caller": "+14158675310", "Digits": "1234", "From": "+14158675310", "To": "+18005551212"} {
		form.Add(k, v)
	}
	u := "https://mycompany.com/myapp.php?foo=1&bar=2"
	if !twilioValid("12345", "GvWf1cFY/Q7PnoempGyD5oXAezc=", []string{u}, form) {
		t.Error("Twilio's example signature is refused")
	}
	if twilioValid("12345", "GvWf1cFY/Q7PnoempGyD5oXAezc=", []string{u + "&baz=3"}, form) {
		t.Error("the example signature passes for another URL")
	}
}

type callProps struct {
	Touch, Pool, Number, Status, Caller string
	CallerSHA256                        string `json:"caller_sha256"`
	Duration                            int
	Answered                            bool
	FirstCall                           bool `json:"first_call"`
	Source                              string
}

// callEvents returns the call events written, latest last, by call id.
func callEvents(t *testing.T, ts *testServer) map[string][]event.Enriched {
	out := map[string][]event.Enriched{}
	for _, e := range ts.store.enriched(t) {
		if e.Type == event.Call {
			var p struct {
				CallID string `json:"call_id"`
			}
			json.Unmarshal(e.Props, &p)
			out[p.CallID] = append(out[p.CallID], e)
		}
	}
	return out
}

func propsOf(t *testing.T, e event.Enriched) callProps {
	var p callProps
	if err := json.Unmarshal(e.Props, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTwilioCallsAreMatchedSignedAndCountedOnce(t *testing.T) {
	ts, _, _ := newCallServer(t)
	held := numbersOf(t, ts.do(t, req{method: "GET", path: "/v1/number?site=demo&vid=v1"}))["main"]
	post := func(params url.Values, sign func(string) string) *fasthttp.Response {
		path := "/v1/calls/twilio?site=demo"
		h := []string{"Content-Type", "application/x-www-form-urlencoded"}
		if sign != nil {
			h = append(h, "X-Twilio-Signature", sign("http://t.example.com"+path))
		}
		return ts.do(t, req{path: path, body: params.Encode(), headers: h})
	}
	signed := func(params url.Values) func(string) string {
		return func(u string) string { return twilioSign(twilioToken, u, params) }
	}
	voice := url.Values{"CallSid": {"CA100"}, "From": {"07700 900123"}, "To": {held}, "CallStatus": {"ringing"}, "Direction": {"inbound"}}

	if r := post(voice, nil); r.StatusCode() != 401 {
		t.Fatalf("unsigned webhook: %d", r.StatusCode())
	}
	if r := post(voice, func(u string) string { return twilioSign("wrong", u, voice) }); r.StatusCode() != 401 {
		t.Fatalf("webhook signed with another token: %d", r.StatusCode())
	}
	r := post(voice, signed(voice))
	if r.StatusCode() != 200 || !strings.Contains(string(r.Body()), "<Dial>+442079460000</Dial>") {
		t.Fatalf("voice webhook: %d %s", r.StatusCode(), r.Body())
	}
	status := url.Values{"CallSid": {"CA100"}, "From": {"+447700900123"}, "To": {held}, "CallStatus": {"completed"}, "CallDuration": {"75"},
		"Direction": {"inbound"}, "Timestamp": {time.Now().UTC().Format(time.RFC1123Z)}}
	for range 2 { // a status callback, then Twilio's retry of it
		if r := post(status, signed(status)); r.StatusCode() != 200 {
			t.Fatalf("status callback: %d %s", r.StatusCode(), r.Body())
		}
	}
	// The same caller again, as a national number, to the number written nationally.
	repeat := url.Values{"CallSid": {"CA101"}, "From": {"+44 7700 900123"}, "To": {"(020) 7946 000" + held[len(held)-1:]}, "CallStatus": {"no-answer"},
		"Direction": {"inbound"}}
	if r := post(repeat, signed(repeat)); r.StatusCode() != 200 {
		t.Fatalf("repeat call: %d %s", r.StatusCode(), r.Body())
	}
	withheld := url.Values{"CallSid": {"CA102"}, "From": {"+266696687"}, "To": {"+442079469999"}, "CallStatus": {"busy"}, "Direction": {"inbound"}}
	if r := post(withheld, signed(withheld)); r.StatusCode() != 200 {
		t.Fatalf("call to an unknown number: %d %s", r.StatusCode(), r.Body())
	}
	static := url.Values{"CallSid": {"CA103"}, "From": {"+447700900555"}, "To": {"+442079460099"}, "CallStatus": {"completed"}, "CallDuration": {"20"}, "Direction": {"inbound"}}
	if r := post(static, signed(static)); r.StatusCode() != 200 {
		t.Fatalf("call to a static number: %d %s", r.StatusCode(), r.Body())
	}

	calls := callEvents(t, ts)
	first := calls["CA100"]
	if len(first) != 3 {
		t.Fatalf("%d events for CA100, want 3 (voice, status, retry)", len(first))
	}
	last := first[2]
	p := propsOf(t, last)
	if last.ID != first[0].ID || last.TS != first[0].TS || last.VID != "v1" || p.Touch != touchSession || p.Duration != 75 || !p.Answered ||
		last.Conversion.Type != "lead" || last.Conversion.LeadType != "call" || p.Caller != "" || p.CallerSHA256 == "" {
		t.Fatalf("CA100's last event %+v, props %+v", last, p)
	}
	rp := propsOf(t, calls["CA101"][0])
	if calls["CA101"][0].Conversion.Type != "call" || rp.FirstCall || rp.CallerSHA256 != p.CallerSHA256 || calls["CA101"][0].VID != "v1" {
		t.Errorf("the repeat call: %+v, props %+v", calls["CA101"][0].Conversion, rp)
	}
	wp := propsOf(t, calls["CA102"][0])
	if wp.Touch != touchUnmatched || wp.Caller != "withheld" || calls["CA102"][0].Conversion.Type != "lead" || calls["CA102"][0].VID != "" {
		t.Errorf("the withheld call to an unknown number: %+v", wp)
	}
	if sp := propsOf(t, calls["CA103"][0]); sp.Touch != touchStatic || sp.Source != "yellowpages" {
		t.Errorf("the static number's call: %+v", sp)
	}
}

func TestTwilioBehindAProxyAndStatusWithoutVoice(t *testing.T) {
	ts, _, _ := newCallServer(t)
	ts.srv.cfg.CallsPublicURL = "https://calls.example.com/tp"
	params := url.Values{"CallSid": {"CA200"}, "From": {"+447700900124"}, "To": {"+442079460001"}, "CallStatus": {"completed"},
		"CallDuration": {"10"}, "Timestamp": {"Tue, 01 Dec 2026 10:00:30 +0000"}}
	sig := twilioSign(twilioToken, "https://calls.example.com/tp/v1/calls/twilio", params)
	r := ts.do(t, req{path: "/v1/calls/twilio", body: params.Encode(),
		headers: []string{"Content-Type", "application/x-www-form-urlencoded", "X-Twilio-Signature", sig}})
	if r.StatusCode() != 200 {
		t.Fatalf("signed for the public URL: %d %s", r.StatusCode(), r.Body())
	}
	e := callEvents(t, ts)["CA200"]
	if len(e) != 1 || time.UnixMilli(e[0].TS).UTC() != time.Date(2026, 12, 1, 10, 0, 20, 0, time.UTC) {
		t.Fatalf("a status callback alone: %+v (want a start 10 s before its timestamp)", e)
	}
}

func TestCallRailAndOwnCalls(t *testing.T) {
	ts, _, _ := newCallServer(t)
	body := `{"resource_id":"CAL8154748ae6bd4e278a7cddd38a662f4f","answered":true,"customer_phone_number":"+447700900777",
		"tracking_phone_number":"+442079460002","duration":"42","start_time":"2026-12-01T10:00:00.000-05:00","direction":"inbound"}`
	sig := callsig.CallRail(callRailKey, []byte(body))
	if r := ts.do(t, req{path: "/v1/calls/callrail", body: body, headers: []string{"Signature", "bm9wZQ=="}}); r.StatusCode() != 401 {
		t.Fatalf("CallRail webhook with a wrong signature: %d", r.StatusCode())
	}
	if r := ts.do(t, req{path: "/v1/calls/callrail", body: body, headers: []string{"Signature", sig}}); r.StatusCode() != 204 {
		t.Fatalf("CallRail webhook: %d %s", r.StatusCode(), r.Body())
	}
	e := callEvents(t, ts)["CAL8154748ae6bd4e278a7cddd38a662f4f"]
	if len(e) != 1 || time.UnixMilli(e[0].TS).UTC() != time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC) || propsOf(t, e[0]).Duration != 42 {
		t.Fatalf("CallRail call: %+v", e)
	}

	// CallRail's older webhooks write flags as strings: a missed call with a voicemail.
	missed := `{"id":"CAL-old-1","answered":"false","voicemail":"true","callernum":"+447700900778",
		"trackingnum":"+442079460002","duration":"35","datetime":"2026-12-01 10:05:00"}`
	if r := ts.do(t, req{path: "/v1/calls/callrail", body: missed, headers: []string{"Signature", callsig.CallRail(callRailKey, []byte(missed))}}); r.StatusCode() != 204 {
		t.Fatalf("CallRail webhook with string flags: %d %s", r.StatusCode(), r.Body())
	}
	if p := propsOf(t, callEvents(t, ts)["CAL-old-1"][0]); p.Answered || p.Status != "voicemail" {
		t.Errorf("CallRail call with answered \"false\" and voicemail \"true\": %+v", p)
	}

	own := `{"site":"demo","call_id":"pbx-1","to":"020 7946 0001","from":"07700 900888","duration":15,"started_at":"2026-12-01T09:00:00Z"}`
	if r := ts.do(t, req{path: "/v1/calls", body: own}); r.StatusCode() != 401 {
		t.Fatalf("/v1/calls without the secret: %d", r.StatusCode())
	}
	r := ts.do(t, req{path: "/v1/calls", body: own, headers: []string{"Authorization", "Bearer " + demoSecret}})
	if r.StatusCode() != 202 {
		t.Fatalf("/v1/calls: %d %s", r.StatusCode(), r.Body())
	}
	p := propsOf(t, callEvents(t, ts)["pbx-1"][0])
	if p.Number != "+442079460001" || p.Pool != "main" || !p.Answered {
		t.Errorf("/v1/calls call: %+v", p)
	}
}

// A US site: pages, PBXs and CallRail write its numbers in every North American style;
// webhooks are replayed; a pool number nobody held is called.
func TestUSNumbersReplaysAndCallsWithoutLease(t *testing.T) {
	ts, _, _ := newCallServer(t)
	held := numbersOf(t, ts.do(t, req{method: "GET", path: "/v1/number?site=us&vid=u1"}))["us"]
	if held != "+15550100001" && held != "+15550100002" {
		t.Fatalf("u1 got %q", held)
	}
	free := map[string]string{"+15550100001": "+15550100002", "+15550100002": "+15550100001"}[held]
	local := held[2:] // 5550100001
	recorded := func(provider, match string) float64 {
		return testutil.ToFloat64(callsRecorded.WithLabelValues(provider, match))
	}
	before := recorded(providerAPI, touchSession)

	// Our own API, the number as a page shows it, the caller as a PBX logs it; sent twice.
	own := fmt.Sprintf(`{"site":"us","call_id":"pbx-us-1","to":"(%s) %s-%s","from":"404.555.1234","duration":30,"started_at":%q}`,
		local[:3], local[3:6], local[6:], time.Now().UTC().Format(time.RFC3339))
	for range 2 {
		if r := ts.do(t, req{path: "/v1/calls", body: own, headers: []string{"Authorization", "Bearer " + demoSecret}}); r.StatusCode() != 202 {
			t.Fatalf("/v1/calls: %d %s", r.StatusCode(), r.Body())
		}
	}
	if got := recorded(providerAPI, touchSession) - before; got != 1 {
		t.Errorf("a replayed call counted %g times", got)
	}
	first := callEvents(t, ts)["pbx-us-1"]
	if len(first) != 2 || first[0].ID != first[1].ID || first[0].Conversion.ID != first[1].Conversion.ID {
		t.Fatalf("the call and its replay: %+v", first)
	}
	fp := propsOf(t, first[0])
	if fp.Number != held || fp.Pool != "us" || fp.Touch != touchSession || first[0].VID != "u1" || first[0].Conversion.Type != "lead" {
		t.Fatalf("own call: %+v props %+v", first[0], fp)
	}

	// CallRail's older webhook: ten-digit tracking number, the same caller with +1, a
	// numeric id and a string duration; then CallRail's retry of it.
	body := fmt.Sprintf(`{"id":987654,"trackingnum":%q,"callernum":"+1 (404) 555-1234","datetime":%q,"duration":"12"}`,
		local, time.Now().UTC().Format(time.RFC3339))
	sig := callsig.CallRail("us-callrail-key", []byte(body))
	beforeCR := recorded(providerCallRail, touchSession)
	for range 2 {
		if r := ts.do(t, req{path: "/v1/calls/callrail", body: body, headers: []string{"Signature", sig}}); r.StatusCode() != 204 {
			t.Fatalf("CallRail webhook: %d %s", r.StatusCode(), r.Body())
		}
	}
	if got := recorded(providerCallRail, touchSession) - beforeCR; got != 1 {
		t.Errorf("a retried CallRail webhook counted %g times", got)
	}
	repeat := callEvents(t, ts)["987654"]
	if len(repeat) != 2 {
		t.Fatalf("%d events for CallRail's call, want 2", len(repeat))
	}
	rp := propsOf(t, repeat[1])
	if repeat[1].Conversion.Type != "call" || rp.FirstCall || rp.CallerSHA256 != fp.CallerSHA256 || repeat[1].VID != "u1" || rp.Duration != 12 {
		t.Errorf("the same caller's second call: %+v props %+v", repeat[1].Conversion, rp)
	}

	// The pool's other number, written 1-555-010-000x, which no visitor held.
	beforeUn := recorded(providerAPI, touchUnmatched)
	nobody := fmt.Sprintf(`{"site":"us","call_id":"pbx-us-2","to":"1-%s-%s-%s","from":"+14045559999"}`, free[2:5], free[5:8], free[8:])
	if r := ts.do(t, req{path: "/v1/calls", body: nobody, headers: []string{"Authorization", "Bearer " + demoSecret}}); r.StatusCode() != 202 {
		t.Fatalf("/v1/calls: %d %s", r.StatusCode(), r.Body())
	}
	e := callEvents(t, ts)["pbx-us-2"]
	if len(e) != 1 || e[0].VID != "" || e[0].Conversion.Type != "lead" {
		t.Fatalf("a call nobody's lease matched: %+v", e)
	}
	if p := propsOf(t, e[0]); p.Touch != touchUnmatched || p.Pool != "us" || p.Number != free {
		t.Errorf("a call nobody's lease matched: %+v", p)
	}
	if got := recorded(providerAPI, touchUnmatched) - beforeUn; got != 1 {
		t.Errorf("unmatched calls counted %g times, want once", got)
	}
}
