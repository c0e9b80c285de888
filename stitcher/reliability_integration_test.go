package stitcher

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
	"touchpoint/internal/kafkabus"
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
	t.Parallel()
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
	t.Parallel()
	h := newHarness(t)
	addr, stopCH, startCH := testenv.PrivateClickHouse(t)
	conn := testenv.MigratedAt(t, addr, "touchpoint")
	h.conn, h.db = conn, "touchpoint"
	h.run(conn, "touchpoint")
	evs, sessions := manyJourneys(200, 3, 4)
	h.send(evs[:len(evs)/3]...)
	h.waitCount(30*time.Second, `SELECT count() FROM %s.events FINAL`, uint64(len(evs)/3))
	stopCH()
	h.send(evs[len(evs)/3:]...)
	// Long enough for the stitcher's retries to reach their longest wait (5 s, after 11 s).
	time.Sleep(15 * time.Second)
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
	if n := h.count(`SELECT count() FROM (SELECT session_id, visitor_id FROM %[1]s.events FINAL) AS e
		ANY INNER JOIN (SELECT toString(session_id) AS session_id, visitor_id AS session_visitor FROM %[1]s.sessions FINAL) AS s USING session_id
		WHERE session_visitor = visitor_id`); n != uint64(len(evs)) {
		t.Fatalf("%d of %d events in a session of their own visitor", n, len(evs))
	}
}

// feeder produces pageviews to topic at a steady pace until stopped, as the collector
// does: five a minute apart per visitor, in order. It keeps the ids Kafka acknowledged;
// while the broker is away produces fail and it tries again, so some events that failed
// may still land (a timed-out request), as with the collector.
type feeder struct {
	t     *testing.T
	mu    sync.Mutex
	acked map[string]bool
	stop  chan struct{}
	done  chan struct{}
}

func feed(t *testing.T, kc *kafkabus.Config, perSecond int) *feeder {
	p, err := kafkabus.NewProducer(kc, kafkabus.ProducerConfig{Topic: kc.Topic, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f := &feeder{t: t, acked: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer p.Close()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		n, vid := 0, ""
		for {
			select {
			case <-f.stop:
				return
			case <-tick.C:
			}
			var ids []string
			var msgs []kafkabus.Message
			for range perSecond / 10 {
				if n%5 == 0 {
					vid = uuid.NewString()
				}
				e := pageview(vid, time.Duration(n%5)*time.Minute, fmt.Sprintf("https://shop.example.com/p%d", n%5), "")
				n++
				b, err := json.Marshal(&e)
				if err != nil {
					t.Error(err)
					return
				}
				ids, msgs = append(ids, e.ID), append(msgs, kafkabus.Message{Key: e.Key(), Value: b})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err := p.Produce(ctx, msgs...)
			cancel()
			if err != nil {
				continue // the broker is away: these events are not acknowledged
			}
			f.mu.Lock()
			for _, id := range ids {
				f.acked[id] = true
			}
			f.mu.Unlock()
		}
	}()
	return f
}

// count is how many events Kafka acknowledged so far.
func (f *feeder) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.acked)
}

// end stops producing and returns the acknowledged ids.
func (f *feeder) end() map[string]bool {
	close(f.stop)
	<-f.done
	return f.acked
}

// waitingFor reads the stitcher's /readyz: its status and the dependencies it waits for.
func waitingFor(t *testing.T, base string) (int, []string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var body struct {
		Waiting []struct {
			Dependency string    `json:"dependency"`
			Since      time.Time `json:"since"`
		} `json:"waiting_for"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	var deps []string
	for _, w := range body.Waiting {
		if w.Since.IsZero() {
			t.Fatalf("/readyz does not say since when it waits for %s", w.Dependency)
		}
		deps = append(deps, w.Dependency)
	}
	return resp.StatusCode, deps
}

// kafkaOutage is how long the broker stays down: longer than kafka-go's retries (three
// attempts within about two seconds, after which its reader reports errors to Fetch) and
// than the consumer group's 10 s session (kafkabus), so that the group is formed anew.
const kafkaOutage = 15 * time.Second

// The stitcher process starts before Kafka and ClickHouse, says on /readyz that it waits
// for both, and works once they are up; a broker killed for longer than the client's
// retries leaves it running, waiting, and it goes on by itself when the broker returns:
// every acknowledged event is stored once and sessions count each pageview once.
func TestStitcherWaitsOutDependencies(t *testing.T) {
	t.Parallel()
	k := testenv.PrivateKafkaServer(t)
	kc := testenv.Topics(t, k.Brokers, 2)
	chAddr, stopCH, startCH := testenv.PrivateClickHouse(t)
	ctx := context.Background()
	conn := testenv.MigratedAt(t, chAddr, "touchpoint")
	h := &harness{t: t, conn: conn, db: "touchpoint"}

	// Both dependencies down before the stitcher starts.
	k.Stop()
	stopCH()
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	base := "http://" + listen
	proc := testenv.Start(t, testenv.Binary(t, "./cmd/stitcher"), "-kafka.brokers", kc.Brokers, "-kafka.topic", kc.Topic,
		"-kafka.dlq", kc.DLQ, "-kafka.group", kc.Topic, "-clickhouse.addr", chAddr, "-clickhouse.database", "touchpoint",
		"-http.listen", listen, "-batch.size", "500", "-batch.flush", "100ms")
	exited := make(chan struct{})
	go func() { proc.Wait(); close(exited) }()
	alive := func(when string) {
		t.Helper()
		select {
		case <-exited:
			t.Fatalf("the stitcher exited %s:\n%s", when, proc.Output())
		default:
		}
	}
	testenv.Eventually(t, 20*time.Second, "/readyz waits for Kafka and ClickHouse", func() (bool, error) {
		status, deps := waitingFor(t, base)
		return status == http.StatusServiceUnavailable && fmt.Sprint(deps) == "[kafka clickhouse]", fmt.Errorf("%d %v", status, deps)
	})
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz while waiting: %v %v", resp, err)
	}
	time.Sleep(3 * time.Second)
	alive("while Kafka and ClickHouse were down at start")

	k.Start()
	startCH()
	f := feed(t, kc, 200)
	testenv.Eventually(t, 60*time.Second, "first events stored", func() (bool, error) {
		return h.count(`SELECT count() FROM %s.events`) > 0, nil
	})
	testenv.Eventually(t, 10*time.Second, "/readyz ready", func() (bool, error) {
		status, deps := waitingFor(t, base)
		return status == http.StatusOK, fmt.Errorf("%d %v", status, deps)
	})

	before := f.count()
	k.Kill()
	deadline := time.Now().Add(kafkaOutage)
	testenv.Eventually(t, 20*time.Second, "/readyz waits for Kafka", func() (bool, error) {
		status, deps := waitingFor(t, base)
		return status == http.StatusServiceUnavailable && fmt.Sprint(deps) == "[kafka]", fmt.Errorf("%d %v", status, deps)
	})
	time.Sleep(time.Until(deadline))
	alive("during a Kafka outage of " + kafkaOutage.String())
	if n := f.count(); n != before {
		t.Logf("%d events acknowledged while the broker was down (requests that landed before it died)", n-before)
	}
	k.Start()
	testenv.Eventually(t, 60*time.Second, "events acknowledged after the outage", func() (bool, error) {
		return f.count() >= before+400, nil
	})
	acked := f.end()
	endAt := time.Now()

	testenv.Eventually(t, 90*time.Second, "every acknowledged event stored", func() (bool, error) {
		rows, err := conn.Query(ctx, `SELECT toString(event_id) FROM touchpoint.events FINAL`)
		if err != nil {
			return false, err
		}
		defer rows.Close()
		stored := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return false, err
			}
			stored[id] = true
		}
		missing := 0
		for id := range acked {
			if !stored[id] {
				missing++
			}
		}
		return missing == 0, fmt.Errorf("%d of %d acknowledged events missing", missing, len(acked))
	})
	t.Logf("every acknowledged event stored %s after the last was produced", time.Since(endAt).Round(time.Millisecond))
	events := h.count(`SELECT count() FROM %s.events FINAL`)
	h.waitCount(60*time.Second, `SELECT sum(pageviews) FROM (SELECT pageviews, deleted FROM %s.sessions FINAL) WHERE deleted = 0`, events)
	if n := h.count(`SELECT count() FROM (SELECT event_id FROM %s.events FINAL GROUP BY event_id HAVING count() > 1)`); n != 0 {
		t.Fatalf("%d events stored twice", n)
	}
	if status, deps := waitingFor(t, base); status != http.StatusOK {
		t.Fatalf("/readyz %d waiting for %v after the outage", status, deps)
	}
	alive("after the outage")
	t.Logf("%d events acknowledged, %d stored once each, across a start without dependencies and a %s broker outage",
		len(acked), events, kafkaOutage)
}
