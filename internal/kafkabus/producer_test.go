package kafkabus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"touchpoint/internal/kafkabus"
	"touchpoint/internal/testenv"
)

func newProducer(t *testing.T, c *kafkabus.Config, pc kafkabus.ProducerConfig) *kafkabus.Producer {
	t.Helper()
	p, err := kafkabus.NewProducer(c, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// readAll reads topic from its start, as a consumer group of its own, until n messages
// arrived or 30 s passed.
func readAll(t *testing.T, c *kafkabus.Config, topic string, n int) []kafkabus.Message {
	t.Helper()
	rc := *c
	rc.Topic = topic
	cons, err := kafkabus.NewConsumer(&rc, fmt.Sprintf("%s-reader-%d", topic, time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []kafkabus.Message
	for len(out) < n {
		m, err := cons.Fetch(ctx)
		if err != nil {
			t.Fatalf("%d of %d messages read from %s: %v", len(out), n, topic, err)
		}
		out = append(out, m)
	}
	return out
}

// A key's partition is the one Kafka's Java client picks (murmur2), so that every
// producer of the topic keeps one visitor's events on one partition. The expected
// partitions were computed with org.apache.kafka.common.utils.Utils.murmur2 of
// kafka-clients 4.1.1, as its default partitioner does.
func TestKeyPartitionIsTheJavaClients(t *testing.T) {
	c := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 4)
	want := map[string]int{
		"demo/visitor-0": 0, "demo/visitor-1": 3, "demo/visitor-2": 0, "demo/visitor-3": 3,
		"demo/visitor-4": 1, "demo/visitor-7": 3, "demo/visitor-10": 2, "demo/": 1,
		"shop-eu/0b6f4e1c-8d2a-4f3b-9c7e-5a1d2e3f4b5c": 3,
	}
	p := newProducer(t, c, kafkabus.ProducerConfig{Topic: c.Topic, Compression: "lz4"})
	var msgs []kafkabus.Message
	for k := range want {
		msgs = append(msgs, kafkabus.Message{Key: []byte(k), Value: []byte("v")})
	}
	if err := p.Produce(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	for _, m := range readAll(t, c, c.Topic, len(want)) {
		if m.Partition != want[string(m.Key)] {
			t.Errorf("key %q on partition %d, the Java client's is %d", m.Key, m.Partition, want[string(m.Key)])
		}
	}
}

// Concurrent senders share requests, and each key's messages land in the order they were
// sent, with their headers, on the topic each names.
func TestConcurrentSendsKeepEachKeysOrder(t *testing.T) {
	c := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 4)
	p := newProducer(t, c, kafkabus.ProducerConfig{Topic: c.Topic, Compression: "zstd"})
	const keys, perKey = 40, 25
	var wg sync.WaitGroup
	errs := make(chan error, keys)
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perKey {
				m := kafkabus.Message{Key: fmt.Appendf(nil, "site/%d", k), Value: fmt.Appendf(nil, "%d", i)}
				if i%10 == 9 {
					m.Topic = c.DLQ
					m.Headers = []kafkabus.Header{{Key: "reason", Value: fmt.Appendf(nil, "r%d", i)}}
				}
				if err := p.Produce(context.Background(), m); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	dead := readAll(t, c, c.DLQ, keys*2)
	for _, m := range dead {
		if len(m.Headers) != 1 || string(m.Headers[0].Value) != "r"+string(m.Value) {
			t.Fatalf("dead letter %q with headers %v", m.Value, m.Headers)
		}
	}
	got := map[string][]string{}
	for _, m := range readAll(t, c, c.Topic, keys*(perKey-2)) {
		got[string(m.Key)] = append(got[string(m.Key)], string(m.Value))
	}
	for k := range keys {
		var want []string
		for i := range perKey {
			if i%10 != 9 {
				want = append(want, fmt.Sprint(i))
			}
		}
		if key := fmt.Sprintf("site/%d", k); fmt.Sprint(got[key]) != fmt.Sprint(want) {
			t.Fatalf("key %s: %v, want %v", key, got[key], want)
		}
	}
}

// A batch larger than a partition's share of one request goes out over several requests,
// in order.
func TestLargeSendSpansRequestsInOrder(t *testing.T) {
	c := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 1)
	p := newProducer(t, c, kafkabus.ProducerConfig{Topic: c.Topic})
	const n = 3000
	value := bytes.Repeat([]byte("x"), 1000) // 3 MB in all
	msgs := make([]kafkabus.Message, n)
	for i := range msgs {
		msgs[i] = kafkabus.Message{Key: []byte("k"), Value: fmt.Appendf(bytes.Clone(value), "%d", i)}
	}
	if err := p.Produce(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	for i, m := range readAll(t, c, c.Topic, n) {
		if !bytes.Equal(m.Value, msgs[i].Value) {
			t.Fatalf("message %d is %q…, want %q…", i, m.Value[len(m.Value)-8:], msgs[i].Value[len(msgs[i].Value)-8:])
		}
	}
}

// Messages nobody waits for any more are not sent.
func TestAbandonedSendIsDropped(t *testing.T) {
	c := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 1)
	p := newProducer(t, c, kafkabus.ProducerConfig{Topic: c.Topic, Linger: 300 * time.Millisecond})
	d := p.Send([]kafkabus.Message{{Value: []byte("abandoned")}})
	d.Abandon()
	if err := p.Produce(context.Background(), kafkabus.Message{Value: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(context.Background(), kafkabus.Message{Value: []byte("last")}); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, c, c.Topic, 2)
	if string(got[0].Value) != "kept" || string(got[1].Value) != "last" {
		t.Fatalf("topic holds %q, %q; want kept, last", got[0].Value, got[1].Value)
	}
}

// Close produces what is still queued before it returns.
func TestCloseFlushesQueue(t *testing.T) {
	c := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 2)
	p, err := kafkabus.NewProducer(c, kafkabus.ProducerConfig{Topic: c.Topic, Linger: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d := p.Send([]kafkabus.Message{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}})
	p.Close()
	select {
	case <-d.Done():
	default:
		t.Fatal("Close returned before the queued messages were produced")
	}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	readAll(t, c, c.Topic, 2)
	if err := p.Produce(context.Background(), kafkabus.Message{Value: []byte("late")}); !errors.Is(err, kafkabus.ErrClosed) {
		t.Fatalf("send after Close: %v, want ErrClosed", err)
	}
}

// With no broker, a send fails at once instead of waiting for its caller to give up, and
// the failure is one to retry, not a refusal.
func TestUnreachableBrokerFailsFast(t *testing.T) {
	c := &kafkabus.Config{Brokers: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), Topic: "tp.events", DLQ: "tp.events.dlq"}
	p := newProducer(t, c, kafkabus.ProducerConfig{Topic: c.Topic})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := p.Produce(ctx, kafkabus.Message{Value: []byte("v")})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("produce without a broker: %v (context: %v)", err, ctx.Err())
	}
	if kafkabus.Refused(err) {
		t.Fatalf("unreachable broker counted as a refusal: %v", err)
	}
}

// Past MaxQueued waiting messages, Send refuses at once rather than growing without bound.
func TestSendRefusedWhileQueueIsFull(t *testing.T) {
	c := &kafkabus.Config{Brokers: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), Topic: "tp.events"}
	p := newProducer(t, c, kafkabus.ProducerConfig{Topic: c.Topic, MaxQueued: 3, Linger: time.Second})
	first := p.Send(make([]kafkabus.Message, 3))
	second := p.Send(make([]kafkabus.Message, 1))
	select {
	case <-second.Done():
	default:
		t.Fatal("a send beyond MaxQueued was queued")
	}
	if second.Err() == nil || kafkabus.Refused(second.Err()) {
		t.Fatalf("send beyond MaxQueued: %v", second.Err())
	}
	first.Abandon()
}

// A message larger than the broker takes is refused for good; a topic the cluster does not
// know is not (it may be created).
func TestRefusedOnlyForBadMessages(t *testing.T) {
	kc := testenv.KafkaConfig(t)
	c := testenv.Topics(t, kc.Brokers, 1)
	p := newProducer(t, c, kafkabus.ProducerConfig{Topic: c.Topic})
	huge := make([]byte, 3<<20) // over the broker's message.max.bytes, and incompressible
	rand.New(rand.NewSource(1)).Read(huge)
	err := p.Produce(context.Background(), kafkabus.Message{Value: huge})
	if !kafkabus.Refused(err) {
		t.Fatalf("3 MiB message: %v, want a refusal", err)
	}
	if err := p.Produce(context.Background(), kafkabus.Message{Value: []byte("fine")}); err != nil {
		t.Fatalf("after a refused message: %v", err)
	}

	missing := &kafkabus.Config{Brokers: kc.Brokers, Topic: fmt.Sprintf("tp.test.%d.missing", time.Now().UnixNano())}
	q := newProducer(t, missing, kafkabus.ProducerConfig{Topic: missing.Topic})
	err = q.Produce(context.Background(), kafkabus.Message{Value: []byte("v")})
	if err == nil || kafkabus.Refused(err) {
		t.Fatalf("unknown topic: %v, want a failure to retry", err)
	}
}

func TestRefused(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("cannot produce to t/0: %w", kafka.MessageSizeTooLarge), true},
		{fmt.Errorf("cannot produce to t/0: %w: %s", kafka.InvalidRecord, "bad timestamp"), true},
		{kafka.NotLeaderForPartition, false},
		{kafka.TopicAuthorizationFailed, false},
		{context.DeadlineExceeded, false},
		{errors.New("dial tcp 127.0.0.1:9092: connect: connection refused"), false},
	} {
		if got := kafkabus.Refused(c.err); got != c.want {
			t.Errorf("Refused(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// After the broker restarts, the first send goes through: the connection the broker
// dropped is replaced rather than failing the send.
func TestSendAfterBrokerRestart(t *testing.T) {
	brokers, stop, start := testenv.PrivateKafka(t)
	c := testenv.Topics(t, brokers, 2)
	p := newProducer(t, c, kafkabus.ProducerConfig{Topic: c.Topic})
	if err := p.Produce(context.Background(), kafkabus.Message{Key: []byte("a"), Value: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	stop()
	start()
	// The restarted broker may take a moment to lead its partitions again: that is retried.
	if err := p.Produce(context.Background(), kafkabus.Message{Key: []byte("a"), Value: []byte("after")}); err != nil {
		t.Fatalf("first send after the restart: %v", err)
	}
	got := readAll(t, c, c.Topic, 2)
	if string(got[0].Value) != "before" || string(got[1].Value) != "after" {
		t.Fatalf("topic holds %q, %q", got[0].Value, got[1].Value)
	}
}
