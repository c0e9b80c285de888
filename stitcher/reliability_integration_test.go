package stitcher

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// journeys returns visitors' events: each visitor makes `visits` visits two hours apart
// (from a search engine, then a newsletter, then direct) of `pages` pageviews a minute apart.
func manyJourneys(visitors, visits, pages int) (evs []event.Enriched, sessions int) {
	arrivals := []struct{ query, ref string }{
		{"", "https://www.google.com/"}, {"?utm_source=news&utm_medium=email", ""}, {"", ""},
	}
	for range visitors {
		vid := uuid.NewString()
		for v := range visits {
			a := arrivals[v%len(arrivals)]
			for p := range pages {
				at := time.Duration(v)*2*time.Hour + time.Duration(p)*time.Minute
				if p == 0 {
					evs = append(evs, pageview(vid, at, "https://shop.example.com/"+a.query, a.ref))
				} else {
					evs = append(evs, pageview(vid, at, fmt.Sprintf("https://shop.example.com/p%d", p), "https://shop.example.com/"))
				}
			}
			sessions++
		}
	}
	return evs, sessions
}

// checkCounts waits for every event once, the expected sessions and their pageviews.
func (h *harness) checkCounts(timeout time.Duration, events, sessions, pageviews int) {
	h.t.Helper()
	h.waitCount(timeout, `SELECT count() FROM %s.events FINAL`, uint64(events))
	h.waitCount(timeout, `SELECT count() FROM (SELECT deleted FROM %s.sessions FINAL) WHERE deleted = 0`, uint64(sessions))
	if n := h.count(`SELECT sum(pageviews) FROM (SELECT pageviews, deleted FROM %s.sessions FINAL) WHERE deleted = 0`); n != uint64(pageviews) {
		h.t.Fatalf("sessions count %d pageviews, want %d", n, pageviews)
	}
	if n := h.count(`SELECT count() FROM %s.events FINAL WHERE session_id = '' AND origin != 'server'`); n != 0 {
		h.t.Fatalf("%d events without a session", n)
	}
}

func TestReplayedEventsAreCountedOnce(t *testing.T) {
	h := newHarness(t)
	evs, sessions := manyJourneys(50, 3, 4)
	pageviews := len(evs)
	evs = append(evs, serverConversion("order-1", "sale", time.Hour, evs[0].VID, "", 10), contactForm(evs[0].VID, time.Minute, "https://shop.example.com/"))
	stop := h.run(h.conn, h.db)
	h.send(evs...)
	h.checkCounts(30*time.Second, len(evs), sessions, pageviews)
	stop()
	// The same events again, and a new consumer group reading the whole topic from the start.
	h.send(evs...)
	h.group += "-replay"
	h.run(h.conn, h.db)
	testenv.Eventually(t, 30*time.Second, "the replay written", func() (bool, error) {
		return h.count(`SELECT count() FROM %s.events`) >= uint64(2*len(evs)), nil
	})
	h.checkCounts(30*time.Second, len(evs), sessions, pageviews)
	h.waitCount(30*time.Second, `SELECT count() FROM %s.conversions FINAL`, 2)
}

func TestStitcherKilledMidStreamLosesAndDoublesNothing(t *testing.T) {
	h := newHarness(t)
	bin := testenv.Binary(t, "./cmd/stitcher")
	start := func() *testenv.Process {
		return testenv.Start(t, bin, "-kafka.brokers", h.kc.Brokers, "-kafka.topic", h.kc.Topic, "-kafka.dlq", h.kc.DLQ,
			"-kafka.group", h.group, "-clickhouse.addr", testenv.Env("TP_CLICKHOUSE_ADDR", "127.0.0.1:9000"),
			"-clickhouse.database", h.db, "-http.listen", "127.0.0.1:0", "-batch.size", "250", "-batch.flush", "50ms")
	}
	evs, sessions := manyJourneys(300, 3, 5)
	cmd := start()
	h.send(evs[:len(evs)/2]...)
	testenv.Eventually(t, 30*time.Second, "first rows written", func() (bool, error) {
		return h.count(`SELECT count() FROM %s.events`) > 0, nil
	})
	if err := cmd.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	written := h.count(`SELECT count() FROM %s.events FINAL`)
	h.send(evs[len(evs)/2:]...)
	start()
	h.checkCounts(60*time.Second, len(evs), sessions, len(evs))
	t.Logf("killed after %d of %d events", written, len(evs))
}

func TestClickHouseOutageLosesAndDoublesNothing(t *testing.T) {
	h := newHarness(t)
	addr, stopCH, startCH := testenv.PrivateClickHouse(t)
	ctx := context.Background()
	conn, err := chstore.Open(ctx, chstore.Config{Addr: addr, Database: "touchpoint", User: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := chstore.Migrate(ctx, conn, "touchpoint"); err != nil {
		t.Fatal(err)
	}
	h.conn, h.db = conn, "touchpoint"
	h.run(conn, "touchpoint")
	evs, sessions := manyJourneys(200, 3, 4)
	h.send(evs[:len(evs)/3]...)
	h.waitCount(30*time.Second, `SELECT count() FROM %s.events FINAL`, uint64(len(evs)/3))
	stopCH()
	h.send(evs[len(evs)/3:]...)
	time.Sleep(30 * time.Second)
	startCH()
	h.checkCounts(60*time.Second, len(evs), sessions, len(evs))
}

func TestBatchOfManyVisitors(t *testing.T) {
	// More visitors in one batch than ids fit into one ClickHouse query, and more events
	// than one block of an INSERT holds.
	h := newHarness(t)
	h.batch, h.flush = 20000, 3*time.Second
	evs, sessions := manyJourneys(4*maxListLen, 1, 3)
	if len(evs) < h.batch || h.batch < 2*blockRows {
		t.Fatalf("%d events in batches of %d do not fill several blocks of %d rows", len(evs), h.batch, blockRows)
	}
	h.send(evs...)
	h.run(h.conn, h.db)
	h.checkCounts(60*time.Second, len(evs), sessions, len(evs))
	// Every row came out whole: its columns belong to one event.
	if n := h.count(`SELECT uniqExact(visitor_id) FROM %s.events FINAL`); n != uint64(sessions) {
		t.Fatalf("events of %d visitors, want %d", n, sessions)
	}
	if n := h.count(`SELECT count() FROM %s.events FINAL WHERE url != concat('https://shop.example.com', path)`); n != 0 {
		t.Fatalf("%d events whose path is not their URL's", n)
	}
	if n := h.count(`SELECT count() FROM (SELECT session_id, visitor_id FROM %[1]s.events FINAL)
		ANY INNER JOIN (SELECT toString(session_id) AS session_id, visitor_id AS session_visitor FROM %[1]s.sessions FINAL) USING session_id
		WHERE session_visitor = visitor_id`); n != uint64(len(evs)) {
		t.Fatalf("%d of %d events in a session of their own visitor", n, len(evs))
	}
}
