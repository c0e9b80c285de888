// Command benchstitcher measures the stitcher: Kafka → ClickHouse events/s when a
// fresh consumer group drains a pre-loaded topic into a fresh database, and the p99 time
// from an event's produce to it being queryable in ClickHouse under a steady live load.
// The events/s are given sustained, mid-drain, and from start to end of the drain, with
// the CPU time an event took in the stitcher and, given their process ids, in a local
// ClickHouse server and Kafka broker. It prints figures and never fails on them.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/internal/benchstat"
	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/internal/gctune"
	"touchpoint/internal/kafkabus"
	"touchpoint/stitcher"
)

func main() {
	n := flag.Int("events", 2000000, "events to pre-load and drain")
	visitors := flag.Int("visitors", 50000, "distinct visitors among them")
	rate := flag.Int("latency.rate", 1000, "events/s of the live load of the latency phase")
	dur := flag.Duration("latency.duration", 10*time.Second, "length of the latency phase")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the drain phase to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile at the end of the drain phase to this file")
	keep := flag.Bool("keep", false, "keep the benchmark database and topic")
	chPID := flag.Int("clickhouse.pid", 0, "process id of a ClickHouse server on this machine, to report its CPU time in the drain (0: none)")
	kafkaPID := flag.Int("kafka.pid", 0, "process id of a Kafka broker on this machine, to report its CPU time in the drain (0: none)")
	cfg := stitcher.RegisterFlags(flag.CommandLine)
	kc := kafkabus.RegisterFlags(flag.CommandLine)
	chc := chstore.RegisterFlags(flag.CommandLine)
	flag.Parse()
	log.SetFlags(0)
	gctune.Stitcher.Apply() // as cmd/stitcher does

	ctx := context.Background()
	stamp := time.Now().UnixNano()
	kc.Topic, kc.DLQ = fmt.Sprintf("tp-bench-%d", stamp), fmt.Sprintf("tp-bench-%d.dlq", stamp)
	chc.Database = fmt.Sprintf("tp_bench_%d", stamp)
	cfg.Group = kc.Topic
	conn, err := chstore.Open(ctx, *chc)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if _, err := chstore.Migrate(ctx, conn, chc.Database); err != nil {
		log.Fatal(err)
	}
	if !*keep {
		defer conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+chc.Database)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := kafkabus.EnsureTopics(tctx, kc); err != nil {
		log.Fatal(err)
	}
	cancel()
	if !*keep {
		defer kafkabus.DeleteTopics(context.Background(), kc)
	}
	w, err := kafkabus.NewProducer(kc, kafkabus.ProducerConfig{Topic: kc.Topic, Compression: "lz4"})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	// Phase 1: pre-load, then drain with a fresh group into a fresh database.
	t0 := time.Now()
	if err := preload(ctx, w, *n, *visitors); err != nil {
		log.Fatal(err)
	}
	log.Printf("pre-loaded %d events in %s", *n, time.Since(t0).Round(time.Millisecond))
	// The drain starts with the memory of a stitcher that has just started: none.
	debug.FreeOSMemory()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	others := []*benchstat.Process{{Name: "ClickHouse", PID: *chPID}, {Name: "the Kafka broker", PID: *kafkaPID}}
	others0 := make([]time.Duration, len(others))
	for i, o := range others {
		others0[i] = o.CPU()
	}
	merges0 := merges(ctx, conn)
	start, ru0 := time.Now(), benchstat.SelfUsage()
	heap := benchstat.WatchHeap()
	go func() {
		defer wg.Done()
		// Built here, as cmd/stitcher does at start: joining the group is part of the drain.
		src, dlq, err := stitcher.OpenKafka(kc, cfg.Group)
		if err != nil {
			log.Fatal(err)
		}
		stitcher.New(cfg, src, dlq, stitcher.NewClickHouseStore(conn, chc.Database)).Run(sctx)
	}()
	// The sustained rate is taken between the first counts that reach 20% and 80% of the
	// events: both ends fall mid-stream, with every stage of the pipeline busy. The whole
	// drain also counts the start (joining the group, the first batch going through each
	// stage alone) and the end (the last batches with stages idle), which a long-running
	// stitcher pays once.
	var from, to mark
	for {
		c := count(ctx, conn, chc.Database)
		now := time.Now()
		if from.at.IsZero() && c >= uint64(*n)/5 {
			from = mark{now, c}
		}
		if to.at.IsZero() && c >= uint64(*n)*4/5 {
			to = mark{now, c}
		}
		if c >= uint64(*n) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	total, ru1, peak := time.Since(start), benchstat.SelfUsage(), heap()
	merged := merges(ctx, conn).minus(merges0)
	othersCPU := make([]time.Duration, len(others))
	for i, o := range others {
		othersCPU[i] = o.CPU() - others0[i]
	}
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
	sustained := "n/a (too few batches: raise -events)"
	if to.count > from.count {
		sustained = fmt.Sprintf("%.0f events/s", float64(to.count-from.count)/to.at.Sub(from.at).Seconds())
	}
	fmt.Printf("stitcher Kafka -> ClickHouse, sustained: %s (from %d to %d events stored)\n", sustained, from.count, to.count)
	fmt.Printf("stitcher drain, start to end: %d events in %s = %.0f events/s\n",
		*n, total.Round(time.Millisecond), float64(*n)/total.Seconds())
	user, sys := ru1.User-ru0.User, ru1.System-ru0.System
	fmt.Printf("stitcher CPU in the drain: %.1f µs/event (user %s, system %s, %d page faults)\n",
		float64((user+sys).Microseconds())/float64(*n), user.Round(time.Millisecond), sys.Round(time.Millisecond), ru1.MinorFaults-ru0.MinorFaults)
	fmt.Printf("stitcher Go heap peak in the drain: %d MiB (target <= 1024)\n", peak>>20)
	// What the events cost the other processes on the machine, and the rate their CPU
	// together would allow on its cores with nothing else running.
	perEvent := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(*n) }
	all, metered := perEvent(user+sys), false
	for i, o := range others {
		if o.Metered() {
			fmt.Printf("%s CPU in the drain: %.1f µs/event\n", o.Name, perEvent(othersCPU[i]))
			all += perEvent(othersCPU[i])
			metered = true
		}
	}
	fmt.Printf("ClickHouse merges in the drain: %d rows merged in %.1f s of merge time\n", merged.rows, merged.took.Seconds())
	if metered {
		fmt.Printf("CPU of the drain's processes together: %.1f µs/event, at most %.0f events/s on %d cores\n",
			all, float64(runtime.NumCPU())*1e6/all, runtime.NumCPU())
	}

	// Phase 2: live load at a steady rate; time from produce to queryable.
	lat := latency(ctx, w, conn, chc.Database, *rate, *dur)
	stop()
	wg.Wait()
	if len(lat) == 0 {
		fmt.Println("stitcher latency: no probe events seen")
		return
	}
	slices.Sort(lat)
	fmt.Printf("event to queryable: p50 %s, p99 %s, max %s over %d events at %d/s (batch.flush %s)\n",
		benchstat.Quantile(lat, 0.5), benchstat.Quantile(lat, 0.99), benchstat.Quantile(lat, 1), len(lat), *rate, cfg.FlushEvery)
}

// mergeCounts are ClickHouse's counts of its merges so far (system.events, this server's).
type mergeCounts struct {
	rows uint64
	took time.Duration
}

func (a mergeCounts) minus(b mergeCounts) mergeCounts {
	return mergeCounts{a.rows - b.rows, a.took - b.took}
}

func merges(ctx context.Context, conn driver.Conn) mergeCounts {
	var rows, ms uint64
	err := conn.QueryRow(ctx, `SELECT sumIf(value, event = 'MergedRows'), sumIf(value, event = 'MergesTimeMilliseconds')
		FROM system.events`).Scan(&rows, &ms)
	if err != nil {
		log.Printf("no merge counts: %v", err)
	}
	return mergeCounts{rows, time.Duration(ms) * time.Millisecond}
}

// mark is when the stored event count first reached a point of the drain.
type mark struct {
	at    time.Time
	count uint64
}

func count(ctx context.Context, conn driver.Conn, db string) uint64 {
	var c uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".events").Scan(&c); err != nil {
		log.Printf("count: %v", err)
	}
	return c
}

var pages = []string{"/", "/pricing", "/features", "/blog/attribution-101", "/contact", "/signup", "/docs/getting-started"}
var arrivals = []struct{ query, ref string }{
	{"?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=touchpoint&gclid=Cj0KCQiA", "https://www.google.com/"},
	{"", "https://www.google.com/search?q=marketing+attribution"},
	{"?utm_source=newsletter&utm_medium=email&utm_campaign=november", ""},
	{"", "https://www.linkedin.com/feed/"},
	{"", ""},
	{"", "https://chatgpt.com/"},
}

// visitorEvents is one visitor's next visit: a landing pageview, a few more pages, sometimes
// a track event, a form and an identify.
func visitorEvents(r *rand.Rand, vid string, at time.Time) []event.Enriched {
	a := arrivals[r.Intn(len(arrivals))]
	base := func(typ, path, ref string, ts time.Time) event.Enriched {
		return event.Enriched{Event: event.Event{ID: uuid.NewString(), Type: typ, TS: ts.UnixMilli(), VID: vid,
			URL: "https://www.example.com" + path, Ref: ref, Title: "Example — " + path, Screen: "1920x1080", Lang: "en-GB", TZ: "Europe/London"},
			Site: "demo", ReceivedAt: ts.UnixMilli() + 40, Origin: event.OriginWeb, Country: "GB", Region: "ENG", City: "London",
			Browser: "Chrome", OS: "Windows", Device: "desktop"}
	}
	evs := []event.Enriched{base(event.Pageview, "/"+a.query, a.ref, at)}
	for i := range 3 + r.Intn(6) {
		at = at.Add(time.Duration(20+r.Intn(120)) * time.Second)
		evs = append(evs, base(event.Pageview, pages[r.Intn(len(pages))], "https://www.example.com"+pages[i%len(pages)], at))
	}
	if r.Intn(4) == 0 {
		e := base(event.Track, "/pricing", "", at.Add(time.Second))
		e.Name, e.Props = "plan_selected", json.RawMessage(`{"plan":"pro","seats":5}`)
		evs = append(evs, e)
	}
	if r.Intn(20) == 0 {
		f := base(event.FormSubmit, "/contact", "", at.Add(2*time.Second))
		f.Form = &event.Form{ID: "contact", Fields: []string{"email", "company"}}
		id := base(event.Identify, "/contact", "", at.Add(3*time.Second))
		id.Traits = map[string]string{"email_sha256": fmt.Sprintf("%064x", r.Int63())}
		evs = append(evs, f, id)
	}
	return evs
}

func preload(ctx context.Context, w *kafkabus.Producer, n, visitors int) error {
	r := rand.New(rand.NewSource(1))
	vids := make([]string, visitors)
	next := make([]time.Time, visitors)
	// The events begin on the 2nd of last month and, at the default sizes, end within it:
	// one month partition, as a steady stream writes, whatever the day the benchmark runs.
	// A backlog spanning two months makes each insert two parts per table, which cost
	// ClickHouse about a fifth more CPU time per event.
	now := time.Now().UTC()
	start := time.Date(now.Year(), now.Month()-1, 2, 0, 0, 0, 0, time.UTC)
	for i := range vids {
		vids[i] = uuid.NewString()
		next[i] = start.Add(time.Duration(r.Int63n(int64(24 * time.Hour))))
	}
	msgs := make([]kafkabus.Message, 0, 20000)
	sent := 0
	for sent < n {
		i := r.Intn(visitors)
		for _, e := range visitorEvents(r, vids[i], next[i]) {
			b, err := event.AppendJSON(nil, &e) // as the collector writes it
			if err != nil {
				return err
			}
			msgs = append(msgs, kafkabus.Message{Key: e.Key(), Value: b})
		}
		next[i] = next[i].Add(time.Duration(1+r.Intn(72)) * time.Hour)
		if len(msgs) >= 20000 || sent+len(msgs) >= n {
			msgs = msgs[:min(len(msgs), n-sent)]
			if err := w.Produce(ctx, msgs...); err != nil {
				return fmt.Errorf("cannot pre-load: %w", err)
			}
			sent += len(msgs)
			msgs = msgs[:0]
		}
	}
	return nil
}

// latency produces probe pageviews at rate for d and records when each is first seen.
func latency(ctx context.Context, w *kafkabus.Producer, conn driver.Conn, db string, rate int, d time.Duration) []time.Duration {
	sentAt := sync.Map{}
	sent := 0 // probes produced; read once done is closed
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := rand.New(rand.NewSource(2))
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		end := time.Now().Add(d)
		perTick := max(1, rate/100)
		for now := range tick.C {
			if now.After(end) {
				return
			}
			msgs := make([]kafkabus.Message, 0, perTick)
			for range perTick {
				e := visitorEvents(r, uuid.NewString(), now)[0]
				e.Name = "probe"
				b, _ := event.AppendJSON(nil, &e)
				sentAt.Store(e.ID, time.Now())
				msgs = append(msgs, kafkabus.Message{Key: e.Key(), Value: b})
			}
			if err := w.Produce(ctx, msgs...); err != nil {
				log.Printf("probe: %v", err)
				continue
			}
			sent += len(msgs)
		}
	}()
	seen := map[string]bool{}
	var out []time.Duration
	deadline := time.Now().Add(d + 30*time.Second)
	for time.Now().Before(deadline) {
		rows, err := conn.Query(ctx, "SELECT toString(event_id) FROM "+db+".events WHERE event_name = 'probe'")
		if err != nil {
			log.Printf("probe query: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		now := time.Now()
		for rows.Next() {
			var id string
			if rows.Scan(&id) != nil || seen[id] {
				continue
			}
			seen[id] = true
			if t, ok := sentAt.Load(id); ok {
				out = append(out, now.Sub(t.(time.Time)))
			}
		}
		rows.Close()
		select {
		case <-done:
			if len(seen) >= sent {
				return out
			}
		default:
		}
		time.Sleep(50 * time.Millisecond)
	}
	return out
}
