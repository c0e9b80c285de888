package kafkabus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
	produceAPI "github.com/segmentio/kafka-go/protocol/produce"
)

// ProducerConfig tunes a Producer.
type ProducerConfig struct {
	Topic          string        // of messages that name none
	Compression    string        // of produced batches: none (the default), gzip, snappy, lz4 or zstd
	Linger         time.Duration // how long a batch waits for more messages once the first arrived
	RequestTimeout time.Duration // longest wait for the answer to one produce request; 10s when zero
	MaxQueued      int           // messages that may wait for a produce before Send refuses more; 50,000 when zero
}

// Producer writes messages with acks=all. Messages sent while a produce request is in
// flight wait and share the next one: a quiet producer sends each message at once, a busy
// one sends large batches, and one request is in flight at a time, so messages of a
// partition land in the order they were sent. A message's partition is chosen from its
// key as Kafka's Java client does (murmur2), so one key's messages share a partition.
//
// What the broker answers as retriable (no leader yet, not enough replicas…) is tried
// again, ahead of the partition's later messages, until RequestTimeout has passed since
// Send; a request whose connection broke is sent once more on a new one. Other failures,
// and a broker that cannot be reached, fail the Send at once: its caller decides what to
// do (see Refused). kafka.Writer does not fit: it waits for BatchTimeout even when idle,
// and goes on writing messages whose caller gave up.
type Producer struct {
	addr      net.Addr
	transport *kafka.Transport
	topics    []string
	cfg       ProducerConfig
	codec     kafka.Compression

	mu     sync.Mutex
	queue  []entry // in the order of Send
	closed bool
	wake   chan struct{}
	done   chan struct{}

	// Owned by the sending goroutine.
	meta  *layout
	spare []entry
}

// entry is one message waiting to be produced.
type entry struct {
	m *Message
	d *Delivery
}

// ErrClosed is the error of a Send on a closed Producer.
var ErrClosed = errors.New("kafka producer closed")

// errQueueFull is the error of a Send while MaxQueued messages wait already.
var errQueueFull = errors.New("too many messages waiting for Kafka")

const (
	// maxBatchBytes caps a partition's messages in one request, under the broker's
	// default message.max.bytes; the rest waits for the next request.
	maxBatchBytes = 1 << 20
	// metadataMaxAge is how long partition counts and leaders are used before they are
	// read again from the transport's cache (which it refreshes every metadataTTL).
	metadataMaxAge = time.Second
	metadataTTL    = 2 * time.Second
)

var codecs = map[string]kafka.Compression{"none": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd}

// NewProducer returns a producer to c's events and dead-letter topics. It connects on
// first use, so it can be created while Kafka is away.
func NewProducer(c *Config, pc ProducerConfig) (*Producer, error) {
	if pc.Compression == "" {
		pc.Compression = "none"
	}
	codec, ok := codecs[pc.Compression]
	if !ok {
		return nil, fmt.Errorf("cannot use compression %q: want none, gzip, snappy, lz4 or zstd", pc.Compression)
	}
	brokers := c.BrokerList()
	if len(brokers) == 0 {
		return nil, errors.New("cannot create Kafka producer: no brokers configured")
	}
	if pc.RequestTimeout <= 0 {
		pc.RequestTimeout = 10 * time.Second
	}
	if pc.MaxQueued <= 0 {
		pc.MaxQueued = 50000
	}
	var topics []string
	for _, t := range []string{c.Topic, c.DLQ, pc.Topic} {
		if t != "" && !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	p := &Producer{
		addr: kafka.TCP(brokers...),
		// The transport keeps one connection per broker and the cluster's metadata,
		// refreshed in the background, for these topics only.
		transport: &kafka.Transport{ClientID: "touchpoint", MetadataTTL: metadataTTL, MetadataTopics: topics},
		topics:    topics,
		cfg:       pc,
		codec:     codec,
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	go p.run()
	return p, nil
}

// Delivery is the outcome of one Send.
type Delivery struct {
	sent      time.Time
	done      chan struct{}
	left      atomic.Int64
	err       atomic.Pointer[error]
	abandoned atomic.Bool
}

// Done is closed once every message was acknowledged or failed.
func (d *Delivery) Done() <-chan struct{} { return d.done }

// Err is the first failure once Done is closed; nil when Kafka acknowledged every message.
func (d *Delivery) Err() error {
	if e := d.err.Load(); e != nil {
		return *e
	}
	return nil
}

// Abandon tells the producer nobody waits any more: messages not yet sent are dropped.
// Those already sent may still land.
func (d *Delivery) Abandon() { d.abandoned.Store(true) }

func (d *Delivery) settle(n int, err error) {
	if err != nil {
		d.err.CompareAndSwap(nil, &err)
	}
	if d.left.Add(-int64(n)) == 0 {
		close(d.done)
	}
}

// Send queues msgs for the next produce request and returns at once. msgs must stay
// unchanged until the delivery is done or abandoned.
func (p *Producer) Send(msgs []Message) *Delivery {
	d := &Delivery{sent: time.Now(), done: make(chan struct{})}
	if len(msgs) == 0 {
		close(d.done)
		return d
	}
	d.left.Store(int64(len(msgs)))
	var err error
	p.mu.Lock()
	switch {
	case p.closed:
		err = ErrClosed
	case len(p.queue) >= p.cfg.MaxQueued:
		err = errQueueFull
	default:
		for i := range msgs {
			p.queue = append(p.queue, entry{&msgs[i], d})
		}
	}
	p.mu.Unlock()
	if err != nil {
		d.settle(len(msgs), fmt.Errorf("cannot produce %d messages: %w", len(msgs), err))
		return d
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return d
}

// Produce sends msgs and waits until Kafka acknowledged them all, one failed or ctx ended.
func (p *Producer) Produce(ctx context.Context, msgs ...Message) error {
	d := p.Send(msgs)
	select {
	case <-d.Done():
		return d.Err()
	case <-ctx.Done():
		d.Abandon()
		return fmt.Errorf("cannot produce %d messages: %w", len(msgs), ctx.Err())
	}
}

// Close produces what is queued, waiting for the requests it takes, and stops.
func (p *Producer) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	<-p.done
	p.transport.CloseIdleConnections()
	return nil
}

// run produces the queue, one request at a time, until closed and empty.
func (p *Producer) run() {
	defer close(p.done)
	for {
		p.mu.Lock()
		for len(p.queue) == 0 {
			if p.closed {
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
			<-p.wake
			p.mu.Lock()
		}
		p.mu.Unlock()
		if p.cfg.Linger > 0 {
			time.Sleep(p.cfg.Linger)
		}
		p.flush()
	}
}

// batch is one partition's share of a request.
type batch struct {
	topic     string
	partition int32
	leader    int32
	entries   []entry
	bytes     int
	full      bool // entries that did not fit wait for the next request
	err       error
	transient bool // err may pass: the broker's metadata or leaders are changing
}

type topicPartition struct {
	topic     string
	partition int32
}

// flush takes the queue and produces it.
func (p *Producer) flush() {
	lay, err := p.layout()
	p.mu.Lock()
	q := p.queue
	p.queue = p.spare[:0]
	p.mu.Unlock()
	if err != nil {
		for _, e := range q {
			e.d.settle(1, err)
		}
	} else {
		batches, rest, again := p.assign(lay, q)
		p.requeue(rest)
		p.produce(batches)
		p.settle(lay, batches, again)
	}
	clear(q)
	p.spare = q[:0]
}

// requeue puts entries back at the head of the queue, before later ones.
func (p *Producer) requeue(entries []entry) {
	if len(entries) == 0 {
		return
	}
	p.mu.Lock()
	p.queue = append(entries, p.queue...)
	p.mu.Unlock()
}

// retryWait is the pause before batches the broker could not take yet are sent again.
const retryWait = 50 * time.Millisecond

// settle tells the senders of batches how their produce went. Batches refused for a
// reason that may pass go back to the queue while their oldest message is young enough,
// with again, the entries whose partition had no leader.
func (p *Producer) settle(lay *layout, batches []*batch, again []entry) {
	var failed map[topicPartition]error
	for _, b := range batches {
		if b.err != nil && b.transient && p.young(b.entries[0]) {
			again = append(again, b.entries...)
			continue
		}
		if b.err != nil {
			b.err = fmt.Errorf("cannot produce to %s/%d: %w", b.topic, b.partition, b.err)
			if failed == nil {
				failed = map[topicPartition]error{}
			}
			failed[topicPartition{b.topic, b.partition}] = b.err
		}
		// Consecutive entries mostly belong to one delivery: settle them together.
		for i := 0; i < len(b.entries); {
			j := i + 1
			for j < len(b.entries) && b.entries[j].d == b.entries[i].d {
				j++
			}
			b.entries[i].d.settle(j-i, b.err)
			i = j
		}
	}
	if failed != nil {
		p.failBehind(lay, failed)
	}
	if len(again) > 0 {
		p.requeue(again)
		p.meta = nil // read leaders again
		time.Sleep(retryWait)
	}
}

// young reports whether e may wait for another attempt.
func (p *Producer) young(e entry) bool { return time.Since(e.d.sent) < p.cfg.RequestTimeout }

// assign puts the entries of q into one batch per partition, in order. It returns the
// entries left for the next request (rest) and those whose partition has no leader yet
// (again). Entries nobody waits for are dropped, and those of a topic the cluster does
// not know fail at once.
func (p *Producer) assign(lay *layout, q []entry) (batches []*batch, rest, again []entry) {
	byPartition := map[topicPartition]*batch{}
	for _, e := range q {
		if e.d.abandoned.Load() {
			continue
		}
		topic := e.m.Topic
		if topic == "" {
			topic = p.cfg.Topic
		}
		part, leader, err := lay.route(topic, e.m.Key)
		if errors.Is(err, kafka.LeaderNotAvailable) && p.young(e) {
			again = append(again, e)
			continue
		}
		if err != nil {
			e.d.settle(1, fmt.Errorf("cannot produce to %s: %w", topic, err))
			continue
		}
		tp := topicPartition{topic, part}
		b := byPartition[tp]
		if b == nil {
			b = &batch{topic: topic, partition: part, leader: leader}
			byPartition[tp] = b
			batches = append(batches, b)
		}
		size := messageSize(e.m)
		if b.full || len(b.entries) > 0 && b.bytes+size > maxBatchBytes {
			b.full = true
			rest = append(rest, e)
			continue
		}
		b.entries = append(b.entries, e)
		b.bytes += size
	}
	return batches, rest, again
}

func messageSize(m *Message) int {
	n := len(m.Key) + len(m.Value) + 24 // lengths, offset and time deltas, attributes
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value) + 4
	}
	return n
}

// produce sends one request per partition leader, all at once.
func (p *Producer) produce(batches []*batch) {
	byLeader := map[int32][]*batch{}
	for _, b := range batches {
		byLeader[b.leader] = append(byLeader[b.leader], b)
	}
	var wg sync.WaitGroup
	for _, bs := range byLeader {
		if len(byLeader) == 1 {
			p.request(bs)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.request(bs)
		}()
	}
	wg.Wait()
}

// request produces batches that share a leader in one request and sets their errors.
func (p *Producer) request(batches []*batch) {
	r, err := p.roundTrip(batches)
	var routing *produceAPI.Error
	timedOut := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
	if err != nil && !errors.As(err, &routing) && !timedOut {
		// The connection broke, most often one the broker closed while it was idle (a
		// restart): a new one is tried once. When the broker is away that fails at once.
		// A request that did reach the broker lands twice; duplicates are removed
		// downstream by event id.
		r, err = p.roundTrip(batches)
	}
	if err != nil {
		// The transport routes by its own copy of the metadata; a request it could not
		// route waits for that copy to catch up.
		for _, b := range batches {
			b.err, b.transient = err, errors.As(err, &routing)
		}
		return
	}
	answered := map[topicPartition]error{}
	for _, t := range r.Topics {
		for _, pt := range t.Partitions {
			var err error
			if pt.ErrorCode != 0 {
				err = kafka.Error(pt.ErrorCode)
				if pt.ErrorMessage != "" {
					err = fmt.Errorf("%w: %s", err, pt.ErrorMessage)
				}
			}
			answered[topicPartition{t.Topic, pt.Partition}] = err
		}
	}
	for _, b := range batches {
		err, ok := answered[topicPartition{b.topic, b.partition}]
		if !ok {
			err = errors.New("the broker did not answer for this partition")
		}
		var ke kafka.Error
		b.err, b.transient = err, errors.As(err, &ke) && ke.Temporary()
	}
}

// roundTrip sends one produce request for batches and waits for the answer.
func (p *Producer) roundTrip(batches []*batch) (*produceAPI.Response, error) {
	req := &produceAPI.Request{
		Acks: int16(kafka.RequireAll),
		// The broker's wait for the in-sync replicas ends well before ours, so a slow
		// replica shows as its error rather than as a dropped connection.
		Timeout: int32(p.cfg.RequestTimeout / 2 / time.Millisecond),
	}
	for _, b := range batches {
		i := slices.IndexFunc(req.Topics, func(t produceAPI.RequestTopic) bool { return t.Topic == b.topic })
		if i < 0 {
			req.Topics = append(req.Topics, produceAPI.RequestTopic{Topic: b.topic})
			i = len(req.Topics) - 1
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, produceAPI.RequestPartition{
			Partition: b.partition,
			RecordSet: protocol.RecordSet{Attributes: protocol.Attributes(p.codec) & 7, Records: &records{entries: b.entries}},
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.RequestTimeout)
	defer cancel()
	r, err := p.transport.RoundTrip(ctx, p.addr, req)
	if err != nil {
		return nil, err
	}
	return r.(*produceAPI.Response), nil
}

// failBehind fails the queued messages of partitions whose produce failed: none may land
// before the failed ones, which their senders will send again.
func (p *Producer) failBehind(lay *layout, failed map[topicPartition]error) {
	var behind []entry
	var errs []error
	p.mu.Lock()
	kept := p.queue[:0]
	for _, e := range p.queue {
		topic := e.m.Topic
		if topic == "" {
			topic = p.cfg.Topic
		}
		if part, _, err := lay.route(topic, e.m.Key); err == nil {
			if err := failed[topicPartition{topic, part}]; err != nil {
				behind, errs = append(behind, e), append(errs, err)
				continue
			}
		}
		kept = append(kept, e)
	}
	clear(p.queue[len(kept):])
	p.queue = kept
	p.mu.Unlock()
	for i, e := range behind {
		e.d.settle(1, errs[i])
	}
}

// layout is what the producer knows of its topics: partition counts and leaders.
type layout struct {
	at     time.Time
	topics map[string]*topicLayout
}

type topicLayout struct {
	partitions []int   // 0…n-1, as kafka.Balancer takes them
	leaders    []int32 // broker id by partition, -1 when none
	err        error
}

// balancer picks a key's partition as the Java client does: murmur2 of the key, modulo
// the partition count.
var balancer = kafka.Murmur2Balancer{}

// route returns the partition of a key in topic and the broker leading it.
func (l *layout) route(topic string, key []byte) (int32, int32, error) {
	t := l.topics[topic]
	switch {
	case t == nil:
		return 0, 0, kafka.UnknownTopicOrPartition
	case t.err != nil:
		return 0, 0, t.err
	}
	part := balancer.Balance(Message{Key: key}, t.partitions...)
	if t.leaders[part] < 0 {
		return 0, 0, kafka.LeaderNotAvailable
	}
	return int32(part), t.leaders[part], nil
}

// layout returns the producer's topics as the transport last saw them.
func (p *Producer) layout() (*layout, error) {
	if p.meta != nil && time.Since(p.meta.at) < metadataMaxAge {
		return p.meta, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.RequestTimeout)
	defer cancel()
	// Served from the transport's cache once it has reached a broker.
	r, err := p.transport.RoundTrip(ctx, p.addr, &metadataAPI.Request{TopicNames: p.topics})
	if err != nil {
		return nil, fmt.Errorf("cannot read Kafka metadata: %w", err)
	}
	l := &layout{at: time.Now(), topics: map[string]*topicLayout{}}
	for _, t := range r.(*metadataAPI.Response).Topics {
		n := len(t.Partitions)
		tl := &topicLayout{partitions: make([]int, n), leaders: make([]int32, n)}
		for i := range n {
			tl.partitions[i], tl.leaders[i] = i, -1
		}
		for _, pt := range t.Partitions {
			if i := int(pt.PartitionIndex); i >= 0 && i < n {
				tl.leaders[i] = pt.LeaderID
			}
		}
		switch {
		case t.ErrorCode != 0:
			tl.err = kafka.Error(t.ErrorCode)
		case n == 0:
			tl.err = kafka.UnknownTopicOrPartition
		}
		l.topics[t.Name] = tl
	}
	p.meta = l
	return l, nil
}

// records reads a batch's messages into a produce request.
type records struct {
	entries    []entry
	rec        kafka.Record
	key, value bytesReader
}

func (r *records) ReadRecord() (*kafka.Record, error) {
	if len(r.entries) == 0 {
		return nil, io.EOF
	}
	m := r.entries[0].m
	r.entries = r.entries[1:]
	r.rec = kafka.Record{Time: m.Time, Headers: m.Headers}
	if m.Key != nil {
		r.key.Reset(m.Key)
		r.rec.Key = &r.key
	}
	if m.Value != nil {
		r.value.Reset(m.Value)
		r.rec.Value = &r.value
	}
	return &r.rec, nil
}

type bytesReader struct{ bytes.Reader }

func (*bytesReader) Close() error { return nil }
