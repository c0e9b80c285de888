package lease_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint/internal/chstore"
	"touchpoint/internal/lease"
	"touchpoint/internal/testenv"
)

const job = "attribution/demo"

// candidate runs one Leases on its own connection, as an instance would.
type candidate struct {
	l      *lease.Leases
	conn   interface{ Close() error }
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t *testing.T, db string, ttl time.Duration) *candidate {
	t.Helper()
	conn, err := chstore.Open(context.Background(), chstore.Config{Addr: testenv.Env("TP_CLICKHOUSE_ADDR", "127.0.0.1:9000"), Database: db, User: "default"})
	if err != nil {
		t.Fatal(err)
	}
	c := &candidate{l: lease.New(conn, db, func() []string { return []string{job} }, ttl), conn: conn, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { c.l.Run(ctx); close(c.done) }()
	t.Cleanup(func() { c.stop(); conn.Close() })
	return c
}

func (c *candidate) stop() { c.cancel(); <-c.done }

func (c *candidate) holds() bool { _, ok := c.l.Held(job); return ok }

// watch samples who holds the job every 10 ms until stop is closed, failing the test
// the moment two candidates hold it at once.
func watch(t *testing.T, cs []*candidate) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	var both atomic.Bool
	go func() {
		defer close(done)
		for {
			n := 0
			for _, c := range cs {
				if c.holds() {
					n++
				}
			}
			if n > 1 {
				both.Store(true)
			}
			select {
			case <-quit:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		if both.Load() {
			t.Fatal("two candidates held the lease at once")
		}
	}
}

func holder(cs []*candidate) *candidate {
	for _, c := range cs {
		if c.holds() {
			return c
		}
	}
	return nil
}

// Of three instances started together, one runs the job; when it stops cleanly another
// takes over within a few beats, not a whole TTL.
func TestOneHolderAndCleanHandOver(t *testing.T) {
	_, db := testenv.FreshDatabase(t)
	ttl := 4 * time.Second // a holder stalled for half of it (a loaded machine) lets go
	cs := []*candidate{start(t, db, ttl), start(t, db, ttl), start(t, db, ttl)}
	stopWatch := watch(t, cs)
	var first *candidate
	testenv.Eventually(t, 5*ttl, "one holder", func() (bool, error) { first = holder(cs); return first != nil, nil })
	time.Sleep(ttl)
	if holder(cs) != first {
		t.Fatal("the lease changed hands while its holder renewed it")
	}
	first.stop()
	at := time.Now()
	var rest []*candidate
	for _, c := range cs {
		if c != first {
			rest = append(rest, c)
		}
	}
	testenv.Eventually(t, 2*ttl, "another holder", func() (bool, error) { return holder(rest) != nil, nil })
	t.Logf("clean hand-over in %s", time.Since(at).Round(10*time.Millisecond))
	stopWatch()
}

// A holder that can no longer reach ClickHouse stops within TTL/2 and a beat; another
// takes over after the TTL, never while the first still runs the job.
func TestDeadHolderIsReplacedAfterTheTTL(t *testing.T) {
	_, db := testenv.FreshDatabase(t)
	ttl := 2 * time.Second
	cs := []*candidate{start(t, db, ttl), start(t, db, ttl)}
	stopWatch := watch(t, cs)
	testenv.Eventually(t, 5*ttl, "one holder", func() (bool, error) { return holder(cs) != nil, nil })
	dead := holder(cs)
	other := cs[0]
	if other == dead {
		other = cs[1]
	}
	dead.conn.Close()
	at := time.Now()
	testenv.Eventually(t, ttl, "the cut-off holder stops", func() (bool, error) { return !dead.holds(), nil })
	testenv.Eventually(t, 3*ttl, "the other takes over", func() (bool, error) { return other.holds(), nil })
	took := time.Since(at)
	t.Logf("taken over %s after the holder lost ClickHouse", took.Round(10*time.Millisecond))
	if took < ttl/2 {
		t.Fatalf("taken over after %s, before the TTL of the holder's last renewal", took)
	}
	stopWatch()
}
