package leases

import (
	"context"
	"errors"
	"testing"
	"time"

	"touchpoint/internal/testenv"
)

var pool = []string{"+442079460001", "+442079460002"}

func TestLeasesAreSharedExclusiveAndSurviveARestart(t *testing.T) {
	addr, stop, start := testenv.PrivateRedis(t)
	ctx := context.Background()
	a, b := Open(Config{Addr: addr}), Open(Config{Addr: addr}) // two collectors
	defer a.Close()
	defer b.Close()
	now := time.Now()
	hold := 30 * time.Minute

	l1, err := a.Acquire(ctx, "s", "main", pool, "v1", hold, now)
	if err != nil || !l1.New {
		t.Fatalf("first lease: %+v, %v", l1, err)
	}
	l2, err := b.Acquire(ctx, "s", "main", pool, "v2", hold, now)
	if err != nil || l2.Number == l1.Number {
		t.Fatalf("second visitor got %+v (%v), first holds %s", l2, err, l1.Number)
	}
	if _, err := a.Acquire(ctx, "s", "main", pool, "v3", hold, now); !errors.Is(err, ErrExhausted) {
		t.Fatalf("third visitor with two numbers held: %v, want ErrExhausted", err)
	}

	stop()
	if _, err := a.Acquire(ctx, "s", "main", pool, "v1", hold, now); err == nil {
		t.Fatal("a lease with the store down")
	}
	start()
	var renewed *Lease
	testenv.Eventually(t, 5*time.Second, "the store answers again", func() (bool, error) {
		renewed, err = b.Acquire(ctx, "s", "main", pool, "v1", hold, now.Add(time.Minute))
		return err == nil, err
	})
	if renewed.New || renewed.Number != l1.Number || renewed.ID != l1.ID {
		t.Fatalf("after a restart v1 has %+v, want its lease %s on %s renewed", renewed, l1.ID, l1.Number)
	}

	// v2's time runs out: its number goes to v3, and a call at a time v2 held it is still v2's.
	later := now.Add(hold + 2*time.Minute)
	l3, err := a.Acquire(ctx, "s", "main", pool, "v3", hold, later)
	if err != nil || l3.Number != l2.Number {
		t.Fatalf("v3 after v2's hold ran out: %+v, %v (want %s)", l3, err, l2.Number)
	}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(time.Minute), "v2"}, {later.Add(time.Minute), "v3"}, {now.Add(-time.Hour), ""},
		// A start reported to the second, or by a clock a little behind: the lease that
		// began just after it, when none held the number then.
		{now.Add(-2 * time.Second), "v2"}, {later.Add(-2 * time.Second), "v3"}, {now.Add(-Slack - time.Second), ""},
	} {
		h, err := b.Holder(ctx, "s", l2.Number, c.at)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if h != nil {
			got = h.Visitor
		}
		if got != c.want {
			t.Errorf("holder of %s at %s: %q, want %q", l2.Number, c.at, got, c.want)
		}
	}
}

func TestPoolChangesReachTheStore(t *testing.T) {
	addr, _, _ := testenv.PrivateRedis(t)
	ctx := context.Background()
	s := Open(Config{Addr: addr})
	defer s.Close()
	now := time.Now()
	if _, err := s.Acquire(ctx, "s", "p", pool[:1], "v1", time.Hour, now); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncPool(ctx, "s", "p", pool); err != nil {
		t.Fatal(err)
	}
	l, err := s.Acquire(ctx, "s", "p", pool, "v2", time.Hour, now)
	if err != nil || l.Number != pool[1] {
		t.Fatalf("after adding a number: %+v, %v", l, err)
	}
}

func TestRecordCallOnceAndFirstCaller(t *testing.T) {
	addr, _, _ := testenv.PrivateRedis(t)
	ctx := context.Background()
	s := Open(Config{Addr: addr})
	defer s.Close()
	matches := 0
	match := func(context.Context) (*Lease, error) { matches++; return &Lease{Visitor: "v1", ID: "l1"}, nil }
	start := time.Now().UnixMilli()

	ringing, isNew, err := s.RecordCall(ctx, "s", "twilio:CA1", "caller-a", Call{Start: start, Status: "ringing"}, match)
	if err != nil || !isNew || !ringing.First || ringing.Visitor != "v1" {
		t.Fatalf("first callback: %+v new=%v %v", ringing, isNew, err)
	}
	// The status callback arrives later, with another start estimate: the first one holds.
	done, isNew, err := s.RecordCall(ctx, "s", "twilio:CA1", "caller-a", Call{Start: start + 5000, Status: "completed", Duration: 42, Answered: true, Final: true}, match)
	if err != nil || isNew || done.Start != start || done.Duration != 42 || !done.Answered || !done.First || done.Visitor != "v1" {
		t.Fatalf("status callback: %+v new=%v %v", done, isNew, err)
	}
	// A replayed ringing callback does not undo the end.
	again, _, _ := s.RecordCall(ctx, "s", "twilio:CA1", "caller-a", Call{Start: start, Status: "ringing"}, match)
	if again.Status != "completed" || again.Duration != 42 {
		t.Fatalf("replayed ringing callback changed the call: %+v", again)
	}
	if matches != 1 {
		t.Errorf("matched %d times, want once", matches)
	}
	second, _, _ := s.RecordCall(ctx, "s", "twilio:CA2", "caller-a", Call{Start: start + 60000}, match)
	if second.First {
		t.Error("a second call of the same caller is a first call")
	}
	anon1, _, _ := s.RecordCall(ctx, "s", "twilio:CA3", "", Call{Start: start}, match)
	anon2, _, _ := s.RecordCall(ctx, "s", "twilio:CA4", "", Call{Start: start}, match)
	if !anon1.First || !anon2.First {
		t.Error("calls with a withheld number are not first calls")
	}
}
