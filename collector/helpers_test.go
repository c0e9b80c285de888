package collector

import (
	"context"
	"encoding/json"
	"flag"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"touchpoint/collector/enrich"
	"touchpoint/collector/spool"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
)

// memSink keeps written messages in memory, or fails with err.
type memSink struct {
	mu   sync.Mutex
	msgs []spool.Message
	err  error
}

func (m *memSink) Write(_ context.Context, msgs []spool.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.msgs = append(m.msgs, msgs...)
	return nil
}

func (m *memSink) Close(context.Context) error { return nil }

// topic returns the messages written to topic.
func (m *memSink) topic(name string) []spool.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []spool.Message
	for _, msg := range m.msgs {
		if msg.Topic == name {
			out = append(out, msg)
		}
	}
	return out
}

func (m *memSink) enriched(t *testing.T) []event.Enriched {
	t.Helper()
	var out []event.Enriched
	for _, msg := range m.topic("events") {
		var e event.Enriched
		if err := json.Unmarshal(msg.Value, &e); err != nil {
			t.Fatalf("cannot decode produced event: %v", err)
		}
		out = append(out, e)
	}
	return out
}

func header(m spool.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

const (
	demoSecret  = "demo-secret"
	otherSecret = "other-secret"
	browserUA   = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)

func testSites(t testing.TB) *site.Registry {
	t.Helper()
	c := site.Config{Sites: []site.Site{
		{ID: "demo", Origins: []string{"http://localhost:*", "https://shop.example.com"}, CookieDomain: "example.com",
			Lifecycle: site.Lifecycle{Stages: []string{"lead", "mql", "demo_booked", "customer"}}},
		{ID: "other", Origins: []string{"https://other.example.org"}, KeepPII: true},
		{ID: "meta", Origins: []string{"https://meta.example.net"}, Meta: &site.Meta{PixelID: "1234567890"}, WebhookIncludeEmail: true},
	}}
	if err := site.ApplyEnv(&c, func(k string) (string, bool) {
		v, ok := map[string]string{"TP_SITE_DEMO_SECRET": demoSecret, "TP_SITE_OTHER_SECRET": otherSecret, "TP_SITE_META_SECRET": "meta-secret"}[k]
		return v, ok
	}); err != nil {
		t.Fatal(err)
	}
	r, err := site.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testServer serves a collector over an in-memory listener; mod adjusts the defaults.
type testServer struct {
	srv   *Server
	store *memSink
	ln    *fasthttputil.InmemoryListener
}

func newTestServer(t testing.TB, mod func(*Config)) *testServer {
	t.Helper()
	cfg := RegisterFlags(flag.NewFlagSet("test", flag.PanicOnError))
	cfg.IPRate, cfg.SiteRate = 0, 0
	cfg.TrustedProxies = "10.0.0.0/8"
	if mod != nil {
		mod(cfg)
	}
	store := &memSink{}
	srv, err := New(cfg, testSites(t), enrich.New(enrich.Options{}), store, func(context.Context) error { return nil }, "events", "dlq")
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	return &testServer{srv: srv, store: store, ln: ln}
}

// req describes one request; peer is the client address the server sees.
type req struct {
	method, path, body string
	headers            []string // name, value, name, value…
	peer               string
}

func (ts *testServer) do(t testing.TB, r req) *fasthttp.Response {
	t.Helper()
	peer := r.peer
	if peer == "" {
		peer = "198.51.100.7"
	}
	c := &fasthttp.Client{Dial: func(string) (net.Conn, error) {
		return ts.ln.DialWithLocalAddr(&net.TCPAddr{IP: net.ParseIP(peer), Port: 40000})
	}}
	rq := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(rq)
	if r.method == "" {
		r.method = "POST"
	}
	rq.Header.SetMethod(r.method)
	rq.SetRequestURI("http://t.example.com" + r.path)
	rq.Header.Set("User-Agent", browserUA)
	if r.body != "" {
		rq.Header.SetContentType("text/plain")
		rq.SetBodyString(r.body)
	}
	for i := 0; i+1 < len(r.headers); i += 2 {
		rq.Header.Set(r.headers[i], r.headers[i+1])
	}
	resp := &fasthttp.Response{}
	if err := c.Do(rq, resp); err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	return resp
}

// reasonOf is the "error" field of a JSON refusal.
func reasonOf(resp *fasthttp.Response) string {
	var b struct {
		Error string `json:"error"`
	}
	json.Unmarshal(resp.Body(), &b)
	return b.Error
}

func batch(site string, events ...string) string {
	return `{"site":"` + site + `","events":[` + strings.Join(events, ",") + `]}`
}
