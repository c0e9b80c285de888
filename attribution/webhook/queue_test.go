package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

// The queue in ClickHouse keeps a delivery's latest state: listing, one delivery, pending
// ones, rows newer than a version, "send again", and the attempt log.
func TestStoreKeepsTheLatestState(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	q := &Store{Conn: conn, DB: db}
	ctx := context.Background()
	made := time.Now().UTC().Truncate(time.Second)
	a := Delivery{Site: "s1", ID: DeliveryID("s1", "a"), Target: TargetWebhook, Event: LeadCreated, ConversionID: "c1",
		URL: "https://crm.example/hook", Payload: []byte(`{"id":"a"}`), State: Pending, NextAttemptAt: made, CreatedAt: made}
	b := a
	b.ID, b.ConversionID, b.Target, b.Event, b.CreatedAt = DeliveryID("s1", "b"), "c2", TargetMeta, "Purchase", made.Add(time.Second)
	other := a
	other.Site = "s2"
	if err := q.Save(ctx, a, b, other); err != nil {
		t.Fatal(err)
	}
	pending, err := q.Pending(ctx)
	if err != nil || len(pending) != 3 {
		t.Fatalf("pending %d (%v), want 3", len(pending), err)
	}
	list, err := q.List(ctx, "s1", Filter{}, 10)
	if err != nil || len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("list %+v (%v)", list, err)
	}
	if list, _ := q.List(ctx, "s1", Filter{Target: TargetMeta}, 10); len(list) != 1 || list[0].ConversionID != "c2" {
		t.Fatalf("list of Meta deliveries %+v", list)
	}
	var mark uint64
	for _, d := range pending {
		mark = max(mark, d.Version)
	}

	// An attempt fails for good; the row is written again.
	a.State, a.Attempts, a.Status, a.Error, a.NextAttemptAt = Failed, 3, 404, "answered 404 Not Found", time.Time{}
	if err := q.Save(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := q.Record(ctx, Attempt{Site: "s1", DeliveryID: a.ID, Target: a.Target, Event: a.Event, ConversionID: "c1", URL: a.URL,
		Attempt: 3, Status: 404, Error: a.Error, At: made}); err != nil {
		t.Fatal(err)
	}
	got, err := q.Get(ctx, "s1", a.ID)
	if err != nil || got.State != Failed || got.Attempts != 3 || got.Status != 404 || !got.NextAttemptAt.IsZero() || string(got.Payload) != `{"id":"a"}` ||
		!got.CreatedAt.Equal(made) {
		t.Fatalf("get %+v (%v)", got, err)
	}
	if _, err := q.Get(ctx, "s2", b.ID); err != ErrNoDelivery {
		t.Fatalf("another site's delivery: %v", err)
	}
	since, err := q.Since(ctx, mark)
	if err != nil || len(since) != 1 || since[0].ID != a.ID || since[0].State != Failed {
		t.Fatalf("since %+v (%v)", since, err)
	}
	as, err := q.Attempts(ctx, "s1", a.ID)
	if err != nil || len(as) != 1 || as[0].Status != 404 || as[0].Delivered || as[0].Target != TargetWebhook {
		t.Fatalf("attempts %+v (%v)", as, err)
	}

	again, err := q.Resend(ctx, "s1", a.ID)
	if err != nil || again.State != Pending || again.Attempts != 0 || again.Error != "" {
		t.Fatalf("send again: %+v (%v)", again, err)
	}
	if got, _ := q.Get(ctx, "s1", a.ID); got.State != Pending || got.Version != again.Version {
		t.Fatalf("after send again: %+v", got)
	}
	if _, err := q.Resend(ctx, "s1", "dlv_none"); err != ErrNoDelivery {
		t.Fatalf("send again of nothing: %v", err)
	}
}

// A delivery pending when the sender stops is sent by the next one: the state is in
// ClickHouse, not in the process.
func TestDeliverySurvivesARestart(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	var up atomic.Bool
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	sites, _ := site.New(site.Config{Sites: []site.Site{{ID: "s1", WebhookURL: srv.URL, WebhookSecret: "x"}}})
	targets := map[string]Target{TargetWebhook: &Hook{Sites: sites}}
	q := &Store{Conn: conn, DB: db}
	run := func() (*Sender, context.CancelFunc, chan struct{}) {
		s := NewSender(q, targets, time.Second)
		s.Backoff = ExpBackoff(300*time.Millisecond, time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		return s, cancel, done
	}
	s, cancel, done := run()
	d := Delivery{Site: "s1", ID: "dlv_restart", Target: TargetWebhook, Event: LeadCreated, ConversionID: "c1", Payload: []byte(`{}`), State: Pending}
	if err := q.Save(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	s.Enqueue(d)
	testenv.Eventually(t, 10*time.Second, "a failed attempt", func() (bool, error) { return calls.Load() >= 1, nil })
	cancel()
	<-done
	testenv.Eventually(t, 10*time.Second, "the failure saved", func() (bool, error) {
		got, err := q.Get(context.Background(), "s1", d.ID)
		return got.Attempts == 1 && got.State == Pending, err
	})
	up.Store(true)
	_, cancel, done = run()
	defer func() { cancel(); <-done }()
	testenv.Eventually(t, 10*time.Second, "delivered by the next sender", func() (bool, error) {
		got, err := q.Get(context.Background(), "s1", d.ID)
		return got.State == Delivered && got.Attempts == 2, err
	})
}
