//go:build cluster

// Tests that need the local cluster of scripts/cluster.sh (run them with
// `scripts/cluster.sh test`): they kill its processes.

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/attribution/model"
	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// load posts journeys to the collectors until stop is closed: each visitor makes a few
// pageviews (one POST /e) and then a sale through POST /v1/conversions. It keeps the ids of
// what the collectors acknowledged: all of them, and those posted after killed was set.
type load struct {
	collectors []string
	killed     atomic.Bool
	mu         sync.Mutex
	all, after acked
	refused    atomic.Int64
}

// acked are the ids of acknowledged events, their visitors and sales.
type acked struct {
	events, visitors, sales []string
}

func (l *load) add(after bool, f func(a *acked)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(&l.all)
	if after {
		f(&l.after)
	}
}

func (l *load) run(stop <-chan struct{}, worker int) {
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		after := l.killed.Load()
		url := l.collectors[(worker+i)%len(l.collectors)]
		vid := uuid.NewString()
		ip := fmt.Sprintf("203.0.113.%d", (worker*97+i)%250+1)
		now := time.Now().Add(-time.Minute).UnixMilli()
		var evs []event.Event
		for p := range 4 {
			evs = append(evs, event.Event{ID: uuid.NewString(), Type: event.Pageview, TS: now + int64(p)*1000, VID: vid,
				URL: fmt.Sprintf("https://shop.example.com/p%d?utm_source=cluster&utm_medium=cpc&utm_campaign=load", p)})
		}
		if l.post(client, url+"/e", ip, "", event.Batch{Site: "demo", Events: evs}) {
			l.add(after, func(a *acked) {
				for _, e := range evs {
					a.events = append(a.events, e.ID)
				}
				a.visitors = append(a.visitors, vid)
			})
		}
		sale := "cluster-" + uuid.NewString()
		if l.post(client, url+"/v1/conversions", ip, "demo-secret", map[string]any{"site": "demo", "conversion_id": sale, "type": "sale",
			"visitor_id": vid, "value": 10, "currency": "EUR", "occurred_at": time.Now().UTC().Format(time.RFC3339)}) {
			l.add(after, func(a *acked) { a.sales = append(a.sales, sale) })
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *load) post(client *http.Client, url, ip, secret string, body any) bool {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("X-Forwarded-For", ip)
	if secret != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+secret)
	} else {
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", "http://127.0.0.1:3000")
	}
	resp, err := client.Do(req)
	if err != nil {
		l.refused.Add(1)
		return false
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		l.refused.Add(1)
		return false
	}
	return true
}

func cluster(t *testing.T, args ...string) {
	t.Helper()
	script := os.Getenv("TP_CLUSTER_SCRIPT")
	if script == "" {
		t.Fatal("TP_CLUSTER_SCRIPT is not set: run scripts/cluster.sh test")
	}
	out, err := exec.Command(script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("cluster.sh %v: %v\n%s", args, err, out)
	}
}

// Under load, one Kafka broker and one ClickHouse replica (the first replica of shard 1,
// the server the services talk to first) are killed. While both are down, every event and
// sale posted after the kill must be in ClickHouse exactly once, and every sale credited:
// nothing waits for them. Once they are back and the replica has caught up, so must every
// event and sale the collectors acknowledged. Those posted before the kill are not checked
// in between: replication is asynchronous, and rows the replica took just before it died
// are readable again only when it is back (docs/deploy.md).
func TestBrokerAndReplicaKilledUnderLoad(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	l := &load{collectors: []string{"http://127.0.0.1:18180", "http://127.0.0.1:18190"}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); l.run(stop, w) }()
	}
	start := time.Now()
	time.Sleep(8 * time.Second)
	// Whatever this test finds, the tests after it need the whole cluster.
	t.Cleanup(func() { _ = exec.Command(os.Getenv("TP_CLUSTER_SCRIPT"), "up").Run() })
	cluster(t, "kill", "kafka2")
	cluster(t, "kill", "ch1")
	l.killed.Store(true)
	t.Logf("killed kafka2 and ch1 after %s", time.Since(start).Round(time.Second))
	time.Sleep(15 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("load of %s: %d events and %d sales acknowledged (%d and %d after the kill), %d requests refused",
		time.Since(start).Round(time.Second), len(l.all.events), len(l.all.sales), len(l.after.events), len(l.after.sales), l.refused.Load())

	count := func(q string, args ...any) (uint64, uint64, error) {
		var n, uniq uint64
		err := conn.QueryRow(context.Background(), fmt.Sprintf(q, db), args...).Scan(&n, &uniq)
		return n, uniq, err
	}
	check := func(a acked, when string) {
		t.Helper()
		at := time.Now()
		testenv.Eventually(t, 3*time.Minute, "every acknowledged event once "+when, func() (bool, error) {
			n, uniq, err := count(`SELECT count(), uniqExact(event_id) FROM %s.events FINAL
				WHERE site_id = 'demo' AND event_type = 'pageview' AND visitor_id IN (SELECT arrayJoin(?))`, a.visitors)
			if err == nil && n != uniq {
				t.Fatalf("%d event rows for %d events %s", n, uniq, when)
			}
			return n == uint64(len(a.events)) && n > 0, fmt.Errorf("%d of %d events (%v)", n, len(a.events), err)
		})
		testenv.Eventually(t, 3*time.Minute, "every acknowledged sale once "+when, func() (bool, error) {
			n, uniq, err := count(`SELECT count(), uniqExact(conversion_id) FROM %s.conversions FINAL
				WHERE site_id = 'demo' AND conversion_id IN (SELECT arrayJoin(?))`, a.sales)
			if err == nil && n != uniq {
				t.Fatalf("%d conversion rows for %d sales %s", n, uniq, when)
			}
			return n == uint64(len(a.sales)) && n > 0, fmt.Errorf("%d of %d sales (%v)", n, len(a.sales), err)
		})
		testenv.Eventually(t, 3*time.Minute, "every sale credited once "+when, func() (bool, error) {
			n, uniq, err := count(`SELECT count(), uniqExact(conversion_id) FROM %s.touch_credits FINAL
				WHERE site_id = 'demo' AND removed = 0 AND `+model.CreditColumn(model.LastClick)+` > 0 AND conversion_id IN (SELECT arrayJoin(?))`, a.sales)
			if err == nil && n != uniq {
				t.Fatalf("%d last-click credits for %d sales %s", n, uniq, when)
			}
			return n == uint64(len(a.sales)), fmt.Errorf("%d of %d sales credited (%v)", n, len(a.sales), err)
		})
		t.Logf("%d events and %d sales there exactly once, and credited, %s (checked in %s)", len(a.events), len(a.sales), when,
			time.Since(at).Round(100*time.Millisecond))
	}
	check(l.after, "posted after the kill, with kafka2 and ch1 down")
	if n, _, err := count(`SELECT count(), toUInt64(0) FROM %s.conversions FINAL WHERE site_id = 'demo' AND conversion_id IN (SELECT arrayJoin(?))`,
		l.all.sales); err == nil {
		t.Logf("%d of the %d sales posted before the kill readable while ch1 is down", n-uint64(len(l.after.sales)), len(l.all.sales)-len(l.after.sales))
	}
	// No service gave up meanwhile.
	out, _ := exec.Command(os.Getenv("TP_CLUSTER_SCRIPT"), "status").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(line, " stopped") && !strings.HasPrefix(line, "cluster-ch1 ") && !strings.HasPrefix(line, "cluster-kafka2 ") {
			t.Errorf("%s while kafka2 and ch1 were down", line)
		}
	}

	cluster(t, "up")
	// The replica fetches what it missed once its old ZooKeeper session expired: then both
	// replicas of shard 1 hold the same rows.
	testenv.Eventually(t, 2*time.Minute, "ch1 caught up with ch2", func() (bool, error) {
		var n1, n2 uint64
		if err := replicaCount(9101, db, &n1); err != nil {
			return false, err
		}
		if err := replicaCount(9102, db, &n2); err != nil {
			return false, err
		}
		return n1 == n2 && n1 > 0, fmt.Errorf("ch1 has %d event rows, ch2 %d", n1, n2)
	})
	check(l.all, "with kafka2 and ch1 back")
}

// replicaCount counts the event rows of one server's shard.
func replicaCount(port int, db string, n *uint64) error {
	c, err := chstore.Open(context.Background(), chstore.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port), Database: db, User: "default"})
	if err != nil {
		return err
	}
	defer c.Close()
	return c.QueryRow(context.Background(), "SELECT count() FROM "+db+".events_local").Scan(n)
}

// A replica that dies while it answers an insert may already have registered the block
// before the other replica fetched it. The service then sends the same rows to the other
// replica, which must store them rather than skip them as a known block: otherwise they
// stay unreadable until the dead replica is back. Here ch2 does not fetch, as if ch1 had
// died right after its insert.
func TestRetriedInsertIsStoredOnTheOtherReplica(t *testing.T) {
	_, db := testenv.ClickHouse(t)
	ctx := context.Background()
	replica := func(port int) driver.Conn {
		c, err := chstore.Open(ctx, chstore.Config{Addr: fmt.Sprintf("127.0.0.1:%d", port), Database: db, User: "default"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ch1, ch2 := replica(9101), replica(9102)
	if err := ch2.Exec(ctx, "SYSTEM STOP FETCHES "+db+".conversions_local"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch2.Exec(ctx, "SYSTEM START FETCHES "+db+".conversions_local") })

	id := "retried-" + uuid.NewString()
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	insert := func(ctx context.Context, conn driver.Conn) {
		t.Helper()
		b, err := chstore.PrepareBatch(ctx, conn, "INSERT INTO "+db+".conversions_local (site_id, conversion_id, type, occurred_at, version)")
		if err == nil {
			err = b.Append("demo", id, "sale", at, uint64(1))
		}
		if err == nil {
			err = b.Send()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The first attempt as ClickHouse's default would take it, registering the block.
	insert(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_deduplicate": 1})), ch1)
	// The retry, with the services' settings.
	insert(ctx, ch2)
	var n uint64
	if err := ch2.QueryRow(ctx, "SELECT count() FROM "+db+".conversions_local WHERE conversion_id = ?", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("the retried insert left %d rows on ch2, want 1", n)
	}
}
