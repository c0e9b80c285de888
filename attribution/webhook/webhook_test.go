package webhook

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint/internal/site"
)

// memQueue is a Queue in memory: the sender's logic without ClickHouse (queue_test.go
// runs the Store itself).
type memQueue struct {
	mu       sync.Mutex
	rows     map[string]Delivery
	attempts []Attempt
	saves    int
	stale    []Delivery // returned by Since too, as by a read that started before later saves
}

func newMemQueue() *memQueue { return &memQueue{rows: map[string]Delivery{}} }

func (m *memQueue) Save(_ context.Context, ds ...Delivery) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range ds {
		ds[i].Version = nextVersion()
		m.rows[ds[i].ID] = ds[i]
		m.saves++
	}
	return nil
}

func (m *memQueue) Pending(context.Context) ([]Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Delivery
	for _, d := range m.rows {
		if d.State == Pending {
			out = append(out, d)
		}
	}
	return out, nil
}

func (m *memQueue) Since(_ context.Context, v uint64) ([]Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Delivery
	for _, d := range m.rows {
		if d.Version > v {
			out = append(out, d)
		}
	}
	return append(out, m.stale...), nil
}

func (m *memQueue) Record(_ context.Context, a Attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts = append(m.attempts, a)
	return nil
}

func (m *memQueue) get(id string) Delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rows[id]
}

func (m *memQueue) logged() []Attempt {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Attempt(nil), m.attempts...)
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"event":"lead.created"}`)
	sig := Sign("s3cret", 1763800000, body)
	f := func(secret, sig, ts string, body []byte, want bool) {
		t.Helper()
		if got := Verify(secret, sig, ts, body); got != want {
			t.Fatalf("Verify(%q, %q, %q, %q) = %v, want %v", secret, sig, ts, body, got, want)
		}
	}
	f("s3cret", sig, "1763800000", body, true)
	f("other", sig, "1763800000", body, false)
	f("s3cret", sig, "1763800001", body, false)
	f("s3cret", sig, "1763800000", []byte(`{"event":"lead.created "}`), false)
	f("s3cret", sig, "x", body, false)
}

// world is a sender with one site whose webhook is served by handler.
type world struct {
	q      *memQueue
	s      *Sender
	srv    *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func newWorld(t *testing.T, handler http.HandlerFunc, tune func(*Sender)) *world {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	sites, err := site.New(site.Config{Sites: []site.Site{{ID: "demo", WebhookURL: srv.URL + "/hook?key=k3y", WebhookSecret: "whsec"}}})
	if err != nil {
		t.Fatal(err)
	}
	q := newMemQueue()
	s := NewSender(q, map[string]Target{TargetWebhook: &Hook{Sites: sites}}, time.Second)
	s.Backoff = ExpBackoff(10*time.Millisecond, 50*time.Millisecond)
	s.Poll = 20 * time.Millisecond
	if tune != nil {
		tune(s)
	}
	w := &world{q: q, s: s, srv: srv, done: make(chan struct{})}
	w.start(t)
	return w
}

func (w *world) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() { w.s.Run(ctx); close(w.done) }()
	t.Cleanup(w.stop)
}

func (w *world) stop() {
	w.cancel()
	<-w.done
}

// add saves a pending delivery and hands it to the sender, as the notifier does.
func (w *world) add(t *testing.T, id, body string) {
	t.Helper()
	ds := []Delivery{{Site: "demo", ID: id, Target: TargetWebhook, Event: LeadCreated, ConversionID: "c-" + id,
		Payload: []byte(body), State: Pending}}
	if err := w.q.Save(context.Background(), ds...); err != nil {
		t.Fatal(err)
	}
	w.s.Enqueue(ds...)
}

// A receiver that fails twice then accepts gets the signed body three times, with the
// event and delivery id in headers, and the log shows two failed attempts with a retry
// time and one delivered attempt.
func TestSenderRetriesUntilDelivered(t *testing.T) {
	var mu sync.Mutex
	var calls int
	var verified []bool
	var headers []http.Header
	w := newWorld(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		verified = append(verified, Verify("whsec", r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader), b) && r.URL.Query().Get("key") == "k3y")
		headers = append(headers, r.Header.Clone())
		if calls <= 2 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}, nil)
	w.add(t, "d1", `{"event":"lead.created"}`)
	waitFor(t, "delivered", func() bool { return w.q.get("d1").State == Delivered })

	got := w.q.logged()
	if len(got) != 3 {
		t.Fatalf("logged %d attempts, want 3: %+v", len(got), got)
	}
	for i, a := range got {
		wantDelivered := i == 2
		if a.Attempt != i+1 || a.Delivered != wantDelivered || (a.NextRetryAt.IsZero() == !wantDelivered) || a.DeliveryID != "d1" {
			t.Fatalf("attempt %d logged as %+v", i+1, a)
		}
	}
	if got[0].Status != http.StatusBadGateway || got[2].Status != http.StatusNoContent || got[0].URL != w.srv.URL+"/hook" {
		t.Fatalf("attempts %+v", got)
	}
	d := w.q.get("d1")
	if d.Attempts != 3 || d.Status != 204 || d.Error != "" || d.URL != w.srv.URL+"/hook" {
		t.Fatalf("delivery after success: %+v", d)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, ok := range verified {
		if !ok {
			t.Fatalf("call %d: signature did not verify", i+1)
		}
	}
	if h := headers[0]; h.Get(EventHeader) != LeadCreated || h.Get(DeliveryHeader) != "d1" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", h)
	}
}

// Answers decide what happens next: a refusal (4xx) is tried three times and fails with
// the receiver's reason; a passing fault (5xx, 429, 408) until the attempts run out; a
// success at once.
func TestSenderVerdicts(t *testing.T) {
	f := func(status int, wantAttempts int, wantState string) {
		t.Helper()
		var mu sync.Mutex
		calls := 0
		w := newWorld(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls++
			mu.Unlock()
			w.WriteHeader(status)
			io.WriteString(w, "  the reason\n")
		}, func(s *Sender) { s.MaxAttempts = 5 })
		w.add(t, "d", `{}`)
		waitFor(t, "an end", func() bool { return w.q.get("d").State != Pending })
		w.stop()
		d := w.q.get("d")
		mu.Lock()
		defer mu.Unlock()
		if d.State != wantState || d.Attempts != wantAttempts || calls != wantAttempts || len(w.q.logged()) != wantAttempts {
			t.Fatalf("status %d: state %s after %d attempts (%d calls), want %s after %d", status, d.State, d.Attempts, calls, wantState, wantAttempts)
		}
		if status >= 300 && (!strings.Contains(d.Error, fmt.Sprintf("answered %d", status)) || !strings.HasSuffix(d.Error, ": the reason")) {
			t.Fatalf("status %d: error %q does not say what the receiver said", status, d.Error)
		}
	}
	f(200, 1, Delivered)
	f(202, 1, Delivered)
	f(400, 3, Failed)
	f(401, 3, Failed)
	f(404, 3, Failed)
	f(410, 3, Failed)
	f(408, 5, Failed)
	f(429, 5, Failed)
	f(500, 5, Failed)
	f(503, 5, Failed)
	f(302, 3, Failed)
}

// A redirect is not followed: it would turn the POST into a GET of another page, whose
// 200 would pass for a delivery.
func TestSenderFollowsNoRedirect(t *testing.T) {
	var mu sync.Mutex
	var elsewhere int
	w := newWorld(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			mu.Lock()
			elsewhere++
			mu.Unlock()
			return
		}
		http.Redirect(w, r, "http://"+r.Host+"/elsewhere?key=k3y", http.StatusMovedPermanently)
	}, nil)
	w.add(t, "d", `{}`)
	waitFor(t, "an end", func() bool { return w.q.get("d").State != Pending })
	mu.Lock()
	defer mu.Unlock()
	d := w.q.get("d")
	if d.State != Failed || d.Status != http.StatusMovedPermanently || elsewhere != 0 {
		t.Fatalf("after a redirect: %+v, %d requests where it pointed", d, elsewhere)
	}
	// The list tells where the receiver went, without the query that may hold a key.
	if !strings.Contains(d.Error, "pointing to "+w.srv.URL+"/elsewhere:") || strings.Contains(d.Error, "k3y") {
		t.Fatalf("error after a redirect: %q", d.Error)
	}
}

// Retry-After of a 429 or 503 is waited out (up to an hour) instead of the backoff.
func TestSenderHonoursRetryAfter(t *testing.T) {
	w := newWorld(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}, nil)
	start := time.Now()
	w.add(t, "d", `{}`)
	waitFor(t, "one attempt", func() bool { return w.q.get("d").Attempts == 1 })
	d := w.q.get("d")
	if d.State != Pending || d.NextAttemptAt.Sub(start) < 119*time.Second || d.NextAttemptAt.Sub(start) > 125*time.Second {
		t.Fatalf("after a 429 with Retry-After: 120: %+v", d)
	}
	if got := retryAfter(http.Header{"Retry-After": {"86400"}}, start); got != time.Hour {
		t.Fatalf("Retry-After of a day waits %s, want an hour", got)
	}
}

// A receiver that never answers holds only its own delivery: Enqueue returns at once,
// other deliveries go out meanwhile, and the hung one fails its attempt at the timeout.
func TestSlowReceiverBlocksNothing(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var mu sync.Mutex
	var got []string
	w := newWorld(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) == "slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}, func(s *Sender) {
		s.client.Timeout = 300 * time.Millisecond
		s.MaxAttempts = 1
	})
	start := time.Now()
	w.add(t, "slow", "slow")
	for i := 0; i < 20; i++ {
		w.add(t, "fast"+string(rune('a'+i)), "fast")
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("enqueueing took %s", d)
	}
	waitFor(t, "the fast ones", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 20
	})
	waitFor(t, "the slow one to fail", func() bool { return w.q.get("slow").State == Failed })
	if d := w.q.get("slow"); !strings.Contains(d.Error, "no answer within") {
		t.Fatalf("slow delivery: %+v", d)
	}
}

// Pending deliveries outlive the sender: a new one resumes them, at their due time.
func TestPendingDeliveriesResumeAfterRestart(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	up := false
	w := newWorld(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}, func(s *Sender) { s.Backoff = ExpBackoff(200*time.Millisecond, time.Second) })
	w.add(t, "d", `{}`)
	waitFor(t, "a failed attempt", func() bool { return w.q.get("d").Attempts == 1 })
	w.stop()
	mu.Lock()
	up = true
	mu.Unlock()

	// The same queue, a new sender (a restarted service).
	s := NewSender(w.q, w.s.targets, time.Second)
	s.Backoff = w.s.Backoff
	w.s = s
	w.start(t)
	waitFor(t, "delivered after the restart", func() bool { return w.q.get("d").State == Delivered })
	if d := w.q.get("d"); d.Attempts != 2 {
		t.Fatalf("after the restart: %+v", d)
	}
}

// A read of the queue that started before a delivery's last save (a slow query, a replica
// a moment behind) returns it as it was, pending: the sender, which delivered it
// meanwhile, does not send it again.
func TestStaleReadSendsNothingTwice(t *testing.T) {
	var calls atomic.Int32
	w := newWorld(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }, nil)
	ds := []Delivery{{Site: "demo", ID: "d", Target: TargetWebhook, Event: LeadCreated, ConversionID: "c-d", Payload: []byte(`{}`), State: Pending}}
	if err := w.q.Save(context.Background(), ds...); err != nil {
		t.Fatal(err)
	}
	w.s.Enqueue(ds...)
	waitFor(t, "delivered", func() bool { return w.q.get("d").State == Delivered })
	w.q.mu.Lock()
	w.q.stale = ds
	w.q.mu.Unlock()
	time.Sleep(10 * w.s.Poll)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls for one delivery", n)
	}
	// A newer version, "send again", is sent.
	d := w.q.get("d")
	d.State, d.Attempts = Pending, 0
	if err := w.q.Save(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sent again", func() bool { return calls.Load() == 2 })
}

// "Send again" of a failed delivery, written to the queue by another process, is seen by
// the sender's poll and delivered with every attempt available again.
func TestSendAgainFromTheQueue(t *testing.T) {
	var mu sync.Mutex
	fixed := false
	w := newWorld(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !fixed {
			w.WriteHeader(http.StatusNotFound)
		}
	}, nil)
	w.add(t, "d", `{}`)
	waitFor(t, "failed", func() bool { return w.q.get("d").State == Failed })
	mu.Lock()
	fixed = true
	mu.Unlock()
	d := w.q.get("d")
	d.State, d.Attempts, d.Error, d.NextAttemptAt = Pending, 0, "", time.Now()
	if err := w.q.Save(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivered", func() bool { return w.q.get("d").State == Delivered })
	if d := w.q.get("d"); d.Attempts != 1 {
		t.Fatalf("sent again: %+v", d)
	}
}

// A site whose webhook_url is gone has its deliveries dropped without a request; an
// erased conversion's delivery is forgotten without a request or a log entry.
func TestDroppedAndErased(t *testing.T) {
	calls := 0
	w := newWorld(t, func(w http.ResponseWriter, r *http.Request) { calls++ }, func(s *Sender) {
		s.Erased = func(_ context.Context, site, conv string) bool { return conv == "c-erased" }
	})
	w.add(t, "erased", `{}`)
	ds := []Delivery{{Site: "gone", ID: "other", Target: TargetWebhook, Event: LeadCreated, ConversionID: "c1", Payload: []byte(`{}`), State: Pending}}
	w.q.Save(context.Background(), ds...)
	w.s.Enqueue(ds...)
	waitFor(t, "dropped", func() bool { return w.q.get("other").State == Dropped })
	waitFor(t, "forgotten", func() bool {
		w.s.mu.Lock()
		defer w.s.mu.Unlock()
		return len(w.s.pending) == 0
	})
	if calls != 0 || len(w.q.logged()) != 0 || w.q.get("erased").Attempts != 0 {
		t.Fatalf("%d requests, %d attempts logged", calls, len(w.q.logged()))
	}
}

func TestRedact(t *testing.T) {
	if got := redact("token abc in abc", []string{"abc", ""}); got != "token [redacted] in [redacted]" {
		t.Fatal(got)
	}
	if got := clip(strings.Repeat("é", 200), 301); len(got) > 304 || !strings.HasSuffix(got, "…") {
		t.Fatalf("clip: %q", got)
	}
}

// An instance sends only the deliveries of the sites whose jobs it runs (holds their
// lease); the others wait, and go out once it gains the site.
func TestSenderSendsOnlyForSitesItRuns(t *testing.T) {
	var mu sync.Mutex
	runs := false
	calls := 0
	w := newWorld(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
	}, func(s *Sender) {
		s.Runs = func(site string) bool { mu.Lock(); defer mu.Unlock(); return runs }
	})
	w.add(t, "d", `{}`)
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	if calls != 0 || w.q.get("d").State != Pending {
		t.Fatalf("sent for a site another instance runs: %d calls", calls)
	}
	runs = true
	mu.Unlock()
	waitFor(t, "delivered once the site is run here", func() bool { return w.q.get("d").State == Delivered })
}
