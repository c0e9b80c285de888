package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

type memLog struct {
	mu sync.Mutex
	a  []Attempt
}

func (m *memLog) Record(_ context.Context, a Attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.a = append(m.a, a)
	return nil
}

func (m *memLog) attempts() []Attempt {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Attempt(nil), m.a...)
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

// A receiver that fails twice then accepts gets the signed body three times, and the log
// shows two failed attempts with a retry time and one delivered attempt.
func TestSenderRetriesUntilDelivered(t *testing.T) {
	var mu sync.Mutex
	var calls int
	var verified []bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		verified = append(verified, Verify("whsec", r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader), b))
		if calls <= 2 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	l := &memLog{}
	s := NewSender(l, 5, 20*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Enqueue(Delivery{Site: "demo", ConversionID: "c1", URL: srv.URL, Secret: "whsec", Body: []byte(`{"event":"lead.created"}`)})

	deadline := time.Now().Add(5 * time.Second)
	for len(l.attempts()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := l.attempts()
	if len(got) != 3 {
		t.Fatalf("logged %d attempts, want 3: %+v", len(got), got)
	}
	for i, a := range got {
		wantDelivered := i == 2
		if a.Attempt != i+1 || a.Delivered != wantDelivered || (a.NextRetryAt.IsZero() == !wantDelivered) {
			t.Fatalf("attempt %d logged as %+v", i+1, a)
		}
	}
	if got[0].Status != http.StatusBadGateway || got[2].Status != http.StatusNoContent {
		t.Fatalf("statuses %d, %d", got[0].Status, got[2].Status)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, ok := range verified {
		if !ok {
			t.Fatalf("call %d: signature did not verify", i+1)
		}
	}
}

func TestSenderGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	l := &memLog{}
	s := NewSender(l, 2, 5*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Enqueue(Delivery{Site: "demo", ConversionID: "c2", URL: srv.URL, Secret: "x", Body: []byte(`{}`)})
	time.Sleep(300 * time.Millisecond)
	got := l.attempts()
	if len(got) != 2 || got[1].Delivered || !got[1].NextRetryAt.IsZero() {
		t.Fatalf("want 2 failed attempts, the last without retry: %+v", got)
	}
}
