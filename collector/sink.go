package collector

import (
	"context"
	"errors"
	"fmt"
	"log"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"touchpoint/collector/spool"
	"touchpoint/internal/kafkabus"
)

var (
	kafkaErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_collector_kafka_errors_total", Help: "Produce calls that failed (their messages went to the spool).",
	})
	spooledMessages = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_collector_spooled_messages_total", Help: "Messages written to the local spool.",
	})
	replayedMessages = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_collector_replayed_messages_total", Help: "Spooled messages produced to Kafka.",
	})
	spoolBytes = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "tp_collector_spool_bytes", Help: "Disk space used by the spool.",
	})
	spoolMaxBytes = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "tp_collector_spool_max_bytes", Help: "Size at which the spool is full and requests get 503 (0: no limit).",
	})
)

// errSpoolFull tells the handler to answer 503 with Retry-After.
var errSpoolFull = spool.ErrFull

// KafkaSink makes messages durable: produced to Kafka with acks=all, or, while Kafka is
// unreachable, appended to the local spool and replayed in order when it returns.
// While the spool holds anything, new messages go behind it, so order is kept.
type KafkaSink struct {
	producer  *kafkabus.Producer
	sp        *spool.Spool
	dead      *deadLetterFile
	timeout   time.Duration
	deadlines *deadlines

	mu       sync.Mutex // orders "spool is empty, go direct" against appends
	spooling atomic.Bool
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	logged   atomic.Int64 // unix seconds of the last logged Kafka error (throttling)
	failed   atomic.Int64 // replay attempts that failed
}

// KafkaSinkConfig tunes a KafkaSink.
type KafkaSinkConfig struct {
	Kafka        *kafkabus.Config
	Spool        *spool.Spool
	WriteTimeout time.Duration // how long to wait for Kafka before spooling
	Linger       time.Duration // how long a produce batch waits for more messages
	Compression  string        // none, gzip, snappy, lz4 or zstd
}

// NewKafkaSink starts a sink and its replayer.
func NewKafkaSink(c KafkaSinkConfig) (*KafkaSink, error) {
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 5 * time.Second
	}
	producer, err := kafkabus.NewProducer(c.Kafka, kafkabus.ProducerConfig{
		Compression: c.Compression,
		Linger:      c.Linger,
		// A request may take longer than a write waits for it: the write is then spooled,
		// and a request that still lands makes duplicates, removed downstream by event id.
		RequestTimeout: max(c.WriteTimeout, 10*time.Second),
	})
	if err != nil {
		return nil, err
	}
	s := &KafkaSink{
		producer:  producer,
		sp:        c.Spool,
		dead:      &deadLetterFile{path: filepath.Join(c.Spool.Dir(), deadLetterName)},
		timeout:   c.WriteTimeout,
		deadlines: newDeadlines(10 * time.Millisecond),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if !s.sp.Empty() {
		s.spooling.Store(true) // replay what an earlier run left before anything new
	}
	spoolBytes.Set(float64(s.sp.Bytes()))
	spoolMaxBytes.Set(float64(s.sp.MaxBytes()))
	go s.replay()
	return s, nil
}

// Write returns nil once every message is acknowledged by Kafka or on disk in the spool.
func (s *KafkaSink) Write(ctx context.Context, msgs []spool.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if s.spooling.Load() {
		return s.spoolWrite(ctx, msgs, false)
	}
	err := s.produce(msgs, s.timeout, nil)
	if err == nil {
		return nil
	}
	kafkaErrors.Inc()
	s.logThrottled("collector: Kafka write failed, spooling: %v", err)
	// The write may still land later (a sent request cannot be called back): the
	// spooled copy is then a duplicate, removed downstream by event id.
	return s.spoolWrite(ctx, msgs, true)
}

// spoolWrite appends msgs to the spool; unless force, it goes to Kafka instead when the
// replayer emptied the spool in the meantime.
func (s *KafkaSink) spoolWrite(ctx context.Context, msgs []spool.Message, force bool) error {
	s.mu.Lock()
	if !force && !s.spooling.Load() {
		s.mu.Unlock()
		return s.Write(ctx, msgs)
	}
	s.spooling.Store(true)
	err := s.sp.Append(msgs)
	s.mu.Unlock()
	if err != nil {
		if errors.Is(err, spool.ErrFull) {
			return errSpoolFull
		}
		return fmt.Errorf("cannot spool %d messages: %w", len(msgs), err)
	}
	spooledMessages.Add(float64(len(msgs)))
	spoolBytes.Set(float64(s.sp.Bytes()))
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// errStopped ends a replay produce when the sink closes.
var errStopped = errors.New("sink closing")

// produce waits at most timeout, and not after stop is closed, for Kafka to acknowledge
// msgs. A request already sent cannot be called back, so the wait is bounded here;
// messages that land after it are duplicates of their spooled copy, removed downstream by
// event id. Messages not yet sent when the wait is over are dropped.
func (s *KafkaSink) produce(msgs []spool.Message, timeout time.Duration, stop <-chan struct{}) error {
	out := make([]kafkabus.Message, len(msgs))
	for i, m := range msgs {
		out[i] = kafkabus.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
		if len(m.Headers) > 0 {
			out[i].Headers = make([]kafkabus.Header, len(m.Headers))
			for j, h := range m.Headers {
				out[i].Headers[j] = kafkabus.Header{Key: h.Key, Value: h.Value}
			}
		}
	}
	expired := s.deadlines.after(timeout)
	d := s.producer.Send(out)
	select {
	case <-d.Done():
		return d.Err()
	case <-expired:
		d.Abandon()
		return fmt.Errorf("cannot produce %d messages: %w", len(msgs), context.DeadlineExceeded)
	case <-stop:
		d.Abandon()
		return errStopped
	}
}

// replay drains the spool to Kafka, oldest record first, until stopped.
func (s *KafkaSink) replay() {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if s.spooling.Load() {
			ok := s.replayOne()
			if ok {
				backoff = 100 * time.Millisecond
				continue
			}
			s.failed.Add(1)
			backoff = min(backoff*2, 2*time.Second)
			select {
			case <-s.stop:
				return
			case <-time.After(backoff):
			}
			continue
		}
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// replayBatch is how many spooled messages one replay produce carries: replay has to
// outpace the requests that keep arriving while it drains.
const replayBatch = 5000

// replayTimeout bounds one replay produce.
const replayTimeout = 30 * time.Second

// replayOne produces the oldest spooled records; false means "try again later".
func (s *KafkaSink) replayOne() bool {
	msgs, err := s.sp.Peek(replayBatch)
	if err != nil {
		s.logThrottled("collector: cannot read spool: %v", err)
		return false
	}
	if msgs == nil {
		s.mu.Lock()
		if s.sp.Empty() {
			s.spooling.Store(false)
		}
		s.mu.Unlock()
		return !s.spooling.Load()
	}
	if err := s.replayAll(msgs); err != nil {
		if !errors.Is(err, errStopped) {
			s.logThrottled("collector: Kafka still unreachable, %d bytes spooled: %v", s.sp.Bytes(), err)
		}
		return false
	}
	if err := s.sp.Commit(); err != nil {
		s.logThrottled("collector: cannot advance spool: %v", err)
		return false
	}
	s.dead.forget()
	replayedMessages.Add(float64(len(msgs)))
	spoolBytes.Set(float64(s.sp.Bytes()))
	return true
}

// replayAll produces msgs in order. A part that Kafka refuses for good (a message larger
// than the broker takes, say) is cut in halves until each refused message is alone; those
// go to the dead-letter file, so that one bad message does not hold back the spool. A
// refused half's messages that did land are sent again: duplicates, removed downstream by
// event id.
func (s *KafkaSink) replayAll(msgs []spool.Message) error {
	// Nobody waits on a replay: give large batches time rather than failing and resending them.
	err := s.produce(msgs, replayTimeout, s.stop)
	if err == nil || !kafkabus.Refused(err) {
		return err
	}
	// Messages set aside by an earlier attempt at these records, which failed later on,
	// are not sent or set aside again.
	if rest := slices.DeleteFunc(slices.Clone(msgs), s.dead.has); len(rest) < len(msgs) {
		return s.replayAll(rest)
	}
	if len(msgs) == 1 {
		return s.dead.add(msgs[0], err)
	}
	half := len(msgs) / 2
	if err := s.replayAll(msgs[:half]); err != nil {
		return err
	}
	return s.replayAll(msgs[half:])
}

// Spooling reports whether messages currently go to the spool.
func (s *KafkaSink) Spooling() bool { return s.spooling.Load() }

// closeReserve is the part of the shutdown deadline kept for stopping the replay and
// closing the producer and the spool after Kafka had its chance to drain the spool.
const closeReserve = 500 * time.Millisecond

// Close gives Kafka until shortly before ctx's deadline to take what is spooled, unless a
// replay fails meanwhile; then it stops replaying (a produce in flight is abandoned) and
// closes the producer and the spool, all before the deadline. What Kafka has not taken
// stays in the spool for the next start: a stop while Kafka is away is no error. Call it
// once no Write is in progress.
func (s *KafkaSink) Close(ctx context.Context) error {
	drain := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		drain, cancel = context.WithDeadline(ctx, dl.Add(-closeReserve))
		defer cancel()
	}
	failed := s.failed.Load()
	for s.spooling.Load() && drain.Err() == nil && s.failed.Load() == failed {
		time.Sleep(50 * time.Millisecond)
	}
	close(s.stop)
	<-s.done
	// Every message the producer still holds was abandoned by a Write that spooled it
	// instead, or by the replay: closing it is tidiness, not durability.
	closed := make(chan struct{})
	go func() { s.producer.Close(); close(closed) }()
	cctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		cctx, cancel = context.WithDeadline(ctx, dl.Add(-closeReserve/5)) // the rest for the spool and the exit
		defer cancel()
	}
	select {
	case <-closed:
	case <-cctx.Done():
		log.Print("collector: Kafka producer not closed before the shutdown deadline")
	}
	if n := s.sp.Bytes(); !s.sp.Empty() {
		log.Printf("collector: %d bytes stay in the spool for the next start", n)
	}
	if err := s.sp.Close(); err != nil {
		return fmt.Errorf("cannot close spool: %w", err)
	}
	return nil
}

func (s *KafkaSink) logThrottled(format string, args ...any) {
	now := time.Now().Unix()
	if last := s.logged.Load(); now-last >= 5 && s.logged.CompareAndSwap(last, now) {
		line := fmt.Sprintf(format, args...)
		if len(line) > 400 {
			line = line[:400] + "…"
		}
		log.Print(line)
	}
}
