package collector

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"github.com/valyala/fasthttp/fasthttputil"

	"touchpoint/collector/enrich"
	"touchpoint/collector/spool"
	"touchpoint/internal/kafkabus"
	"touchpoint/internal/testenv"
)

// kafkaServer is a collector with a real Sink and a spool of its own, served over an
// in-memory listener; it stops, closing the sink, when the test ends.
func kafkaServer(t *testing.T, kc *kafkabus.Config, timeout time.Duration, so spool.Options) (*testServer, *KafkaSink) {
	t.Helper()
	sp, err := spool.Open(t.TempDir(), so)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := NewKafkaSink(KafkaSinkConfig{Kafka: kc, Spool: sp, WriteTimeout: timeout, Compression: "lz4"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := RegisterFlags(flag.NewFlagSet("test", flag.PanicOnError))
	cfg.IPRate, cfg.SiteRate = 0, 0
	srv, err := New(cfg, testSites(t), enrich.New(enrich.Options{}), sink, KafkaCheck(kc), kc.Topic, kc.DLQ)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln)
	t.Cleanup(func() {
		// Tests have read what they wait for by now; a spool that cannot drain (Kafka
		// unreachable) would otherwise hold the shutdown for the whole deadline.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &testServer{srv: srv, ln: ln}, sink
}

// consume reads every partition of topic from the start until enough, called with each
// message, says true or timeout passes; it returns the messages in partition order.
func consume(t *testing.T, brokers, topic string, timeout time.Duration, enough func(kafka.Message) bool) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var mu sync.Mutex
	var got []kafka.Message
	var wg sync.WaitGroup
	for p := range 4 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{brokers}, Topic: topic, Partition: p, MaxWait: 200 * time.Millisecond})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				got = append(got, m)
				if enough(m) {
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return got
}

// ids returns the event ids in messages, in order.
func ids(t *testing.T, msgs []kafka.Message) []string {
	t.Helper()
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		var e struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatalf("message %q is not an event: %v", m.Value, err)
		}
		out = append(out, e.ID)
	}
	return out
}

// covers says true once every id of want was seen.
func covers(t *testing.T, want map[string]bool) func(kafka.Message) bool {
	seen := map[string]bool{}
	return func(m kafka.Message) bool {
		for _, id := range ids(t, []kafka.Message{m}) {
			if want[id] {
				seen[id] = true
			}
		}
		return len(seen) >= len(want)
	}
}

func TestKafkaKeyedOrderedAndDeadLettered(t *testing.T) {
	kc := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 4)
	ts, _ := kafkaServer(t, kc, 5*time.Second, spool.Options{MaxBytes: 64 << 20})
	sent := map[string][]string{} // visitor → event ids in send order
	want := map[string]bool{}
	now := time.Now().UnixMilli()
	for round := range 5 {
		for v := range 6 {
			vid := fmt.Sprintf("visitor-%d", v)
			a, b := uuid.NewString(), uuid.NewString()
			body := batch("demo", pageview(a, vid, now+int64(round)), pageview(b, vid, now+int64(round)))
			if round == 2 && v == 0 {
				body = batch("demo", pageview(a, vid, now), `{"id":"broken","type":"pageview","vid":"`+vid+`"}`, pageview(b, vid, now))
			}
			if resp := ts.do(t, req{path: "/e", body: body}); resp.StatusCode() != 204 {
				t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
			}
			sent[vid] = append(sent[vid], a, b)
			want[a], want[b] = true, true
		}
	}
	msgs := consume(t, kc.Brokers, kc.Topic, 30*time.Second, covers(t, want))
	got := map[string][]string{}
	partition := map[string]int{}
	for i, id := range ids(t, msgs) {
		key := string(msgs[i].Key)
		vid := key[len("demo/"):]
		if p, ok := partition[key]; ok && p != msgs[i].Partition {
			t.Fatalf("key %s on partitions %d and %d", key, p, msgs[i].Partition)
		}
		partition[key] = msgs[i].Partition
		got[vid] = append(got[vid], id)
	}
	for vid, w := range sent {
		if fmt.Sprint(got[vid]) != fmt.Sprint(w) {
			t.Fatalf("visitor %s: events in Kafka\n %v\nwant (send order)\n %v", vid, got[vid], w)
		}
	}

	dlq := consume(t, kc.Brokers, kc.DLQ, 30*time.Second, func(kafka.Message) bool { return true })
	if len(dlq) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dlq))
	}
	hdr := map[string]string{}
	for _, h := range dlq[0].Headers {
		hdr[h.Key] = string(h.Value)
	}
	if hdr["reason"] != "bad_id" || hdr["site"] != "demo" || string(dlq[0].Value) != `{"id":"broken","type":"pageview","vid":"visitor-0"}` {
		t.Fatalf("dead letter %q with headers %v", dlq[0].Value, hdr)
	}
}

func TestBrokerOutageSpoolsAndReplays(t *testing.T) {
	brokers, stop, start := testenv.PrivateKafka(t)
	kc := testenv.Topics(t, brokers, 4)
	ts, sink := kafkaServer(t, kc, time.Second, spool.Options{MaxBytes: 64 << 20})
	if resp := ts.do(t, req{method: "GET", path: "/readyz"}); resp.StatusCode() != 200 {
		t.Fatalf("/readyz = %d with Kafka up", resp.StatusCode())
	}

	// Four clients post without pause while the broker goes down and comes back.
	var mu sync.Mutex
	acked := map[string]bool{}
	var refused []string
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				a, b := uuid.NewString(), uuid.NewString()
				vid := uuid.NewString()
				resp := ts.do(t, req{path: "/e", body: batch("demo", pageview(a, vid, 0), pageview(b, vid, 0))})
				mu.Lock()
				if resp.StatusCode() == 204 {
					acked[a], acked[b] = true, true
				} else {
					refused = append(refused, fmt.Sprintf("%d %s", resp.StatusCode(), resp.Body()))
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Second)
	stop()
	time.Sleep(2 * time.Second)
	spooling := sink.Spooling()
	start()
	time.Sleep(time.Second)
	close(done)
	wg.Wait()
	if len(refused) > 0 {
		t.Fatalf("%d requests refused during the outage, first: %s", len(refused), refused[0])
	}
	if !spooling {
		t.Fatal("broker down but the sink was not spooling")
	}
	msgs := consume(t, kc.Brokers, kc.Topic, 90*time.Second, covers(t, acked))
	seen := map[string]bool{}
	for _, id := range ids(t, msgs) {
		seen[id] = true
	}
	for id := range acked {
		if !seen[id] {
			t.Fatalf("acknowledged event %s never reached Kafka (%d of %d arrived)", id, len(seen), len(acked))
		}
	}
	t.Logf("%d events acknowledged across the outage, all in Kafka", len(acked))
	testenv.Eventually(t, 30*time.Second, "spool drained", func() (bool, error) { return !sink.Spooling(), nil })
}

// replaying is a sink over sp producing to kc, closed when the test ends.
func replaying(t *testing.T, kc *kafkabus.Config, sp *spool.Spool) *KafkaSink {
	t.Helper()
	sink, err := NewKafkaSink(KafkaSinkConfig{Kafka: kc, Spool: sp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sink.Close(ctx)
	})
	return sink
}

// unreachableKafka is a broker address nobody listens on.
func unreachableKafka(t *testing.T) *kafkabus.Config {
	return &kafkabus.Config{Brokers: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), Topic: "tp.events", DLQ: "tp.events.dlq", Partitions: 4}
}

func TestSpoolFullAnswers503WithRetryAfter(t *testing.T) {
	ts, _ := kafkaServer(t, unreachableKafka(t), 300*time.Millisecond, spool.Options{MaxBytes: 4 << 10, NoSync: true})
	spooled := 0
	for i := range 50 {
		resp := ts.do(t, req{path: "/e", body: batch("demo", pageview(uuid.NewString(), "v", 0))})
		switch resp.StatusCode() {
		case 204:
			spooled++
			continue
		case 503:
			if reasonOf(resp) != "spool_full" || len(resp.Header.Peek("Retry-After")) == 0 {
				t.Fatalf("503 with reason %q Retry-After %q", reasonOf(resp), resp.Header.Peek("Retry-After"))
			}
			if spooled == 0 {
				t.Fatal("the first request was refused: nothing went to the spool")
			}
			if resp := ts.do(t, req{method: "GET", path: "/readyz"}); resp.StatusCode() != 503 {
				t.Fatalf("/readyz = %d with Kafka unreachable, want 503", resp.StatusCode())
			}
			return
		default:
			t.Fatalf("request %d: status %d (%s)", i, resp.StatusCode(), resp.Body())
		}
	}
	t.Fatalf("%d requests accepted into a 4 KiB spool", spooled)
}

func TestSpoolOfEarlierRunIsReplayed(t *testing.T) {
	kc := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 4)
	dir := t.TempDir()
	want := map[string]bool{}
	var order []string

	// First run: Kafka unreachable, events acknowledged from the spool, then stopped.
	sp, err := spool.Open(dir, spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	down := unreachableKafka(t)
	down.Topic, down.DLQ = kc.Topic, kc.DLQ
	sink, err := NewKafkaSink(KafkaSinkConfig{Kafka: down, Spool: sp, WriteTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		msgs := []spool.Message{}
		for range 3 {
			id := uuid.NewString()
			want[id] = true
			order = append(order, id)
			msgs = append(msgs, spool.Message{Topic: kc.Topic, Key: []byte("demo/v"), Value: fmt.Appendf(nil, `{"id":%q}`, id)})
		}
		if err := sink.Write(context.Background(), msgs); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	sink.Close(ctx)
	cancel()

	// Second run, Kafka back: the spool drains before anything else.
	sp, err = spool.Open(dir, spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	sink = replaying(t, kc, sp)
	if !sink.Spooling() {
		t.Fatal("a spool left by the last run is not replayed first")
	}
	msgs := consume(t, kc.Brokers, kc.Topic, 30*time.Second, covers(t, want))
	got := ids(t, msgs)
	if fmt.Sprint(got) != fmt.Sprint(order) {
		t.Fatalf("replayed\n %v\nwant, in order,\n %v", got, order)
	}
	testenv.Eventually(t, 10*time.Second, "spool drained", func() (bool, error) { return !sink.Spooling(), nil })
}

// A spooled message that Kafka refuses for good (larger than the broker's
// message.max.bytes) goes to the dead-letter file and is counted; the messages around it,
// in the same spool record or not, are replayed in order and the spool drains.
func TestRefusedSpoolMessageIsSetAside(t *testing.T) {
	kc := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 4)
	dir := t.TempDir()
	sp, err := spool.Open(dir, spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	want := map[string]bool{}
	msg := func() spool.Message {
		id := uuid.NewString()
		order, want[id] = append(order, id), true
		return spool.Message{Topic: kc.Topic, Key: []byte("demo/v"), Value: fmt.Appendf(nil, `{"id":%q}`, id)}
	}
	// Larger than the stack broker's message.max.bytes (2 MiB): refused whatever it is batched with.
	huge := func(n int) spool.Message {
		return spool.Message{Topic: kc.Topic, Key: []byte("demo/v"), Value: fmt.Appendf(nil, `{"id":"huge-%d","pad":%q}`, n, strings.Repeat("x", 3<<20))}
	}
	for _, rec := range [][]spool.Message{{msg(), msg()}, {huge(1)}, {msg(), huge(2), msg(), msg()}, {msg()}} {
		if err := sp.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	before := testutil.ToFloat64(spoolDeadLetters)
	sink := replaying(t, kc, sp)
	testenv.Eventually(t, 60*time.Second, "spool drained past the refused messages", func() (bool, error) { return !sink.Spooling(), nil })
	got := ids(t, consume(t, kc.Brokers, kc.Topic, 30*time.Second, covers(t, want)))
	// A refused part is sent again in halves, so a message may land twice; the order stays.
	var first []string
	seen := map[string]bool{}
	for _, id := range got {
		if strings.HasPrefix(id, "huge-") {
			t.Fatalf("a message over the broker's limit reached Kafka: %s", id)
		}
		if !seen[id] {
			seen[id] = true
			first = append(first, id)
		}
	}
	if fmt.Sprint(first) != fmt.Sprint(order) {
		t.Fatalf("replayed\n %v\nwant, in order,\n %v", first, order)
	}
	if n := testutil.ToFloat64(spoolDeadLetters) - before; n != 2 {
		t.Fatalf("tp_collector_spool_dead_letters_total rose by %v, want 2", n)
	}
	raw, err := os.ReadFile(filepath.Join(dir, deadLetterName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d dead letters in the file, want 2", len(lines))
	}
	for i, l := range lines {
		var d struct {
			Error, Topic, Key string
			Value             struct{ ID string }
		}
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("dead letter %d: %v", i, err)
		}
		if d.Value.ID != fmt.Sprintf("huge-%d", i+1) || d.Topic != kc.Topic || d.Key != "demo/v" || !strings.Contains(d.Error, "Message Size Too Large") {
			t.Fatalf("dead letter %d: id %q topic %q key %q error %q", i, d.Value.ID, d.Topic, d.Key, d.Error)
		}
	}
}
