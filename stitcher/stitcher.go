// Package stitcher consumes enriched events from Kafka and writes them to
// ClickHouse as events, sessions with their touchpoint, the identity graph and
// conversions. Offsets are committed only after every row of a batch was written, and all
// rows are keyed so that writing them again replaces them: replays never double count.
package stitcher

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
	"touchpoint/internal/health"
	"touchpoint/internal/kafkabus"
	siteconf "touchpoint/internal/site"
	"touchpoint/stitcher/identity"
)

// Config holds the stitcher's settings.
type Config struct {
	Group       string
	BatchSize   int
	FlushEvery  time.Duration
	Listen      string
	MaxVisitors int
	SitesFile   string
	Sites       *siteconf.Registry // loaded from SitesFile by the caller; nil: default rules for every site
}

// RegisterFlags declares the stitcher's flags.
func RegisterFlags(fs *flag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Group, "kafka.group", "tp-stitcher", "Kafka consumer group")
	fs.IntVar(&c.BatchSize, "batch.size", 30000, "most events in one ClickHouse insert")
	fs.DurationVar(&c.FlushEvery, "batch.flush", time.Second, "longest time an event waits for its batch")
	fs.StringVar(&c.Listen, "http.listen", "127.0.0.1:8082", "address of /healthz and /metrics")
	fs.IntVar(&c.MaxVisitors, "state.visitors", 500000, "visitors whose last session is kept in memory")
	fs.StringVar(&c.SitesFile, "sites", "config/dev.json", "site configuration file (referral and lead rules)")
	return c
}

// Source is the stream of events: a member of the events topic's consumer group
// (kafkabus.Consumer), or messages held in memory in tests.
type Source interface {
	// Fetch returns the next message; it ends with ctx.
	Fetch(ctx context.Context) (kafkabus.Message, error)
	// Commit marks msgs done: they are not read again after a restart.
	Commit(ctx context.Context, msgs []kafkabus.Message) error
	Close() error
}

// DeadLetters takes the events that can never be written (kafkabus.Producer to the
// dead-letter topic).
type DeadLetters interface {
	// Produce returns once msgs are durable.
	Produce(ctx context.Context, msgs ...kafkabus.Message) error
	Close() error
}

// OpenKafka returns a stitcher's Kafka clients: a member of group on kc's events topic and
// a producer to its dead-letter topic.
func OpenKafka(kc *kafkabus.Config, group string) (Source, DeadLetters, error) {
	src, err := kafkabus.NewConsumer(kc, group)
	if err != nil {
		return nil, nil, err
	}
	dlq, err := kafkabus.NewProducer(kc, kafkabus.ProducerConfig{Topic: kc.DLQ})
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	return src, dlq, nil
}

// Stitcher is one consumer-group member.
type Stitcher struct {
	// Ready hears about Kafka and ClickHouse failures and recoveries (nil: nobody).
	Ready *health.Readiness

	cfg      *Config
	src      Source
	dlq      DeadLetters
	store    Store
	states   *visitorStates
	persons  map[personKey]string
	inflight *insertion // the batch being inserted while the next one is prepared
	buf      buffers
	rules    rulebook
	erased   erasures
}

// New builds a stitcher reading src and writing to store. Run closes src and dlq when it
// returns.
func New(cfg *Config, src Source, dlq DeadLetters, store Store) *Stitcher {
	return &Stitcher{cfg: cfg, src: src, dlq: dlq, store: store,
		states: newVisitorStates(cfg.MaxVisitors), persons: map[personKey]string{}, buf: newBuffers(), rules: newRulebook(cfg.Sites)}
}

// Run consumes until ctx is done. Four stages overlap: fetching a batch, decoding the
// next one, preparing the one before (sessions, persons, rows) and inserting the one before
// that; batches are inserted and committed in order. Rows of a batch are inserted before its
// offsets are committed; a failed insert is retried with backoff and nothing is committed
// past it. Run never gives up: while Kafka or ClickHouse is away it waits, however long,
// and tells st.Ready what it waits for.
func (st *Stitcher) Run(ctx context.Context) {
	defer st.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if l, ok := st.src.(lagger); ok {
		go watchLag(ctx, l, lagEvery)
	}
	batches := make(chan []kafkabus.Message)
	decoded := make(chan decodedBatch)
	go func() {
		defer close(batches)
		st.fetch(ctx, batches)
	}()
	go func() {
		defer close(decoded)
		for b := range batches {
			ins, bad := decode(b, st.buf.ins.get(), st.rules)
			select {
			case decoded <- decodedBatch{b, ins, bad}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var cur *insertion // the batch being inserted
loop:
	for {
		var inserted <-chan struct{}
		if cur != nil {
			inserted = cur.done
		}
		select {
		case d, ok := <-decoded:
			if !ok || ctx.Err() != nil {
				break loop
			}
			cur = st.take(ctx, cur, d)
		case <-inserted:
			st.settle(ctx, cur)
			cur = nil
		}
	}
	if cur != nil {
		<-cur.done
		st.settle(ctx, cur)
	}
	cancel()
	for range decoded {
	}
}

// insertion is a batch whose rows are being inserted in the background.
type insertion struct {
	d       decodedBatch
	touched touched
	done    chan struct{} // closed when the insert ended, with err set
	err     error
}

// touched is what a batch writes that preparing a later batch may read back from
// ClickHouse: the visitors whose browser events and sessions it writes, its identity
// links by identifier and the persons it aliases to others.
type touched struct {
	visitors map[visitorKey]int32 // as sessionized.visitors
	links    map[siteKey][]identity.Link
	aliased  map[sitePerson]bool
}

type sitePerson struct{ site, person string }

type siteKey struct {
	site string
	key  identity.Key
}

func touchedBy(ins []incoming, rows *batchRows) touched {
	t := touched{visitors: rows.visitors, links: map[siteKey][]identity.Link{}, aliased: map[sitePerson]bool{}}
	for i := range ins {
		in := &ins[i]
		if l, ok := linkOf(in); ok && !in.unlinked {
			for _, k := range l.Keys() {
				sk := siteKey{in.e.Site, k}
				t.links[sk] = append(t.links[sk], l)
			}
		}
	}
	for _, a := range rows.ids.aliases {
		t.aliased[sitePerson{a[0].(string), a[1].(string)}] = true
	}
	return t
}

// take prepares batch d while cur (if any) is being inserted, then waits for cur and
// starts inserting d. Preparing reads rows of cur from ClickHouse only once they are in
// (awaitInsert), so it sees what it would if the batches were written one after the other.
func (st *Stitcher) take(ctx context.Context, cur *insertion, d decodedBatch) *insertion {
	batchEvents.Observe(float64(len(d.msgs)))
	st.observe(d)
	st.inflight = cur
	err := st.deadLetter(ctx, d.bad)
	var rows *batchRows
	if err == nil {
		d.bad = nil
		var kept []incoming
		if kept, err = st.withoutErased(ctx, d.ins); err == nil {
			d.ins = kept
			rows, err = st.prepare(ctx, d.ins)
		}
	}
	st.inflight = nil
	if cur != nil {
		<-cur.done
		if !st.settle(ctx, cur) && err == nil {
			// cur was written again from a fresh state: so is d, after it.
			st.writeUntilDone(ctx, d, nil)
			return nil
		}
	}
	if err != nil {
		st.writeUntilDone(ctx, d, err)
		return nil
	}
	next := &insertion{d: d, touched: touchedBy(d.ins, rows), done: make(chan struct{})}
	go func() {
		defer close(next.done)
		next.err = st.insert(ctx, rows)
	}()
	return next
}

// awaitInsert waits for the batch being inserted, if there is one and it writes rows
// that a read from ClickHouse while preparing the next batch must see (reads reports
// whether it does). Rows of earlier batches are in already.
func (st *Stitcher) awaitInsert(reads func(*touched) bool) {
	if cur := st.inflight; cur != nil && reads(&cur.touched) {
		<-cur.done
	}
}

// settle commits an inserted batch, or writes it again until that succeeds when its insert
// failed (then the visitor states were reset, and it returns false). Either way the batch
// is done, and its buffers are kept for later batches.
func (st *Stitcher) settle(ctx context.Context, cur *insertion) bool {
	if cur.err != nil {
		st.writeUntilDone(ctx, cur.d, cur.err)
		return false
	}
	st.commit(ctx, cur.d.msgs)
	st.buf.recycle(cur.d)
	return true
}

type decodedBatch struct {
	msgs []kafkabus.Message
	ins  []incoming
	bad  []poison
}

// fetch cuts the topic into batches of at most BatchSize messages, closing a batch after
// FlushEvery at the latest, until ctx is done. Unwritten messages are never committed:
// after a stop they are read again. While Kafka is away the consumer keeps reconnecting
// in the background and its errors only say it has not managed yet: fetch waits and
// reads on, however long that takes.
func (st *Stitcher) fetch(ctx context.Context, out chan<- []kafkabus.Message) {
	size := 1024 // the last batch's size: the next one is likely alike
	failures := 0
	for {
		batch, err := st.fetchBatch(ctx, size)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			st.Ready.Set("kafka", err)
		case len(batch) > 0 && failures > 0:
			failures = 0
			st.Ready.Set("kafka", nil)
		}
		if len(batch) > 0 {
			size = len(batch)
			select {
			case out <- batch:
			case <-ctx.Done():
				return
			}
		}
		if err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff(failures)):
		}
	}
}

// backoff is the wait before retry n (from 1) of something that failed: 200 ms, doubling
// up to 5 s.
func backoff(n int) time.Duration {
	return min(time.Duration(1<<min(n-1, 5))*200*time.Millisecond, 5*time.Second)
}

// fetchBatch reads messages until BatchSize or FlushEvery is reached, or until Kafka
// fails: then it returns what it has with the error. One deadline for the whole batch: a
// context per message was a noticeable share of the stitcher's work.
func (st *Stitcher) fetchBatch(ctx context.Context, size int) ([]kafkabus.Message, error) {
	fctx, cancel := context.WithTimeout(ctx, st.cfg.FlushEvery)
	defer cancel()
	batch := st.buf.msgs.get()
	if batch == nil {
		batch = make([]kafkabus.Message, 0, min(size, st.cfg.BatchSize))
	}
	for len(batch) < st.cfg.BatchSize {
		m, err := st.src.Fetch(fctx)
		switch {
		case err == nil:
			batch = append(batch, m)
		case ctx.Err() != nil:
			return nil, nil
		case errors.Is(err, context.DeadlineExceeded):
			return batch, nil
		case len(batch) > 0:
			// Written first: the reader has moved past them. The error comes back next time.
			return batch, nil
		default:
			return batch, fmt.Errorf("cannot read from Kafka: %w", err)
		}
	}
	return batch, nil
}

func (st *Stitcher) close() {
	done := make(chan struct{})
	go func() {
		// Close can hang while the broker is unreachable.
		st.src.Close()
		st.dlq.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		log.Print("stitcher: Kafka clients did not close in 5s")
	}
}

// observe tells the visitor states which offsets a batch holds, so that a gap (another
// member had the partition meanwhile) makes them read ClickHouse again.
func (st *Stitcher) observe(d decodedBatch) {
	for i := range d.msgs {
		st.states.observe(d.msgs[i].Partition, d.msgs[i].Offset)
	}
}

// writeUntilDone writes one batch until it succeeds, then commits its offsets. While
// ClickHouse or the dead-letter topic is unavailable it waits with backoff, however long;
// nothing is committed meanwhile. failed is the error of a first attempt made elsewhere,
// if any.
func (st *Stitcher) writeUntilDone(ctx context.Context, d decodedBatch, failed error) {
	defer st.buf.recycle(d)
	ins, bad := d.ins, d.bad
	err := failed
	var waitedFor string
	for attempt := 1; ; attempt++ {
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			writeFailures.Inc()
			waitedFor = dependencyOf(err)
			st.Ready.Set(waitedFor, err)
			// The visitor states may hold this batch's events that were never written.
			st.states.forgetAll()
			wait := backoff(attempt)
			if attempt <= 3 || attempt%12 == 0 { // about once a minute during a long outage
				log.Printf("stitcher: writing %d events failed %d times (retrying in %s): %v", len(ins), attempt, wait, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		err = st.deadLetter(ctx, bad)
		if err == nil {
			bad = nil
			err = st.write(ctx, ins)
		}
		if err == nil {
			break
		}
	}
	if waitedFor != "" {
		st.Ready.Set(waitedFor, nil)
	}
	st.commit(ctx, d.msgs)
}

// errDeadLetters marks a failure to write to the dead-letter topic: Kafka's, not ClickHouse's.
var errDeadLetters = errors.New("cannot write to the dead-letter topic")

// dependencyOf names the service whose failure err is.
func dependencyOf(err error) string {
	if errors.Is(err, errDeadLetters) {
		return "kafka"
	}
	return "clickhouse"
}

// commitTimeout bounds a commit: while Kafka is away a commit waits for the group to be
// joined again, and the next batch's commit covers this one's offsets anyway.
const commitTimeout = 10 * time.Second

func (st *Stitcher) commit(ctx context.Context, msgs []kafkabus.Message) {
	eventsWritten.Add(float64(len(msgs)))
	cctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	if err := st.src.Commit(cctx, msgs); err != nil && ctx.Err() == nil {
		// After a rebalance the partitions belong to another member, which reads the
		// batch again; rows are replaced, not added.
		log.Printf("stitcher: cannot commit offsets: %v", err)
	}
}

// deadLetter sends messages that can never be written to the dead-letter topic, with the
// reason in the "reason" header, so they do not stall their partition.
func (st *Stitcher) deadLetter(ctx context.Context, bad []poison) error {
	if len(bad) == 0 {
		return nil
	}
	out := make([]kafkabus.Message, len(bad))
	for i, b := range bad {
		log.Printf("stitcher: message %s/%d@%d to dead-letter topic: %s", b.msg.Topic, b.msg.Partition, b.msg.Offset, b.reason)
		out[i] = kafkabus.Message{Key: b.msg.Key, Value: b.msg.Value, Headers: []kafkabus.Header{
			{Key: "reason", Value: []byte(b.reason)},
			{Key: "source", Value: fmt.Appendf(nil, "%s/%d@%d", b.msg.Topic, b.msg.Partition, b.msg.Offset)},
		}}
	}
	if err := st.dlq.Produce(ctx, out...); err != nil {
		return fmt.Errorf("%w: %w", errDeadLetters, err)
	}
	deadLetters.Add(float64(len(out)))
	return nil
}

// write turns a batch into rows and writes them.
func (st *Stitcher) write(ctx context.Context, ins []incoming) error {
	ins, err := st.withoutErased(ctx, ins)
	if err != nil {
		return err
	}
	rows, err := st.prepare(ctx, ins)
	if err != nil {
		return err
	}
	return st.insert(ctx, rows)
}

// batchRows are the rows of a batch for every table.
type batchRows struct {
	events                *eventBlock
	sessions, conversions [][]any
	leases                [][]any
	ids                   identityRows
	rewrites              []rewrite
	visitors              map[visitorKey]int32
	version               uint64
}

// prepare turns a batch into rows: identity links first (they decide persons), then
// sessions, events and conversions.
func (st *Stitcher) prepare(ctx context.Context, ins []incoming) (*batchRows, error) {
	// Persons and sessions do not depend on each other: both read ClickHouse at once.
	var ids identityRows
	var persons *resolved
	var personErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if ids, personErr = st.link(ctx, ins); personErr == nil {
			persons, personErr = st.resolve(ctx, ins)
		}
	}()
	jr, err := st.sessionize(ctx, ins)
	<-done
	if err := errors.Join(err, personErr); err != nil {
		return nil, err
	}
	for i := range jr.sessions {
		r := &jr.sessions[i]
		r.person = persons.of(personKey{r.site, identity.Key{Kind: identity.Visitor, Value: r.vid}})
	}
	out := &batchRows{ids: ids, rewrites: jr.rewrites, visitors: jr.visitors, version: uint64(time.Now().UnixNano()), events: st.buf.eventBlock(len(ins))}
	for i := range ins {
		in := &ins[i]
		person, sess := persons.ofEvent(i), ""
		if in.session != uuid.Nil {
			sess = in.session.String()
		} else if in.e.Type == event.NumberLease {
			sess = st.states.sessionAt(in.e.Site, in.e.VID, in.ts)
		}
		out.events.add(in, person, sess, out.version)
		if c := conversionValues(in, person, sess); c != nil {
			out.conversions = append(out.conversions, c)
		}
		if l := leaseValues(in, sess); l != nil {
			out.leases = append(out.leases, l)
		}
	}
	out.sessions = make([][]any, len(jr.sessions))
	for i := range jr.sessions {
		out.sessions[i] = jr.sessions[i].values(out.version)
	}
	return out, nil
}

// tables are the batch's rows for every table but events, with their columns;
// conversions come last, as they are written last (see clickHouse.write).
func (r *batchRows) tables() []tableRows {
	return []tableRows{
		{"sessions", sessionColumns, r.sessions},
		{"number_leases", leaseColumns, r.leases},
		{"identities", identityColumns, r.ids.links},
		{"server_links", serverLinkColumns, r.ids.servers},
		{"person_aliases", aliasColumns, r.ids.aliases},
		{"person_merges", mergeColumns, r.ids.merges},
		{"conversions", conversionColumns, r.conversions},
	}
}

type tableRows struct {
	table, columns string
	rows           [][]any
}

// insert writes a batch's rows; its events block is kept for later batches.
func (st *Stitcher) insert(ctx context.Context, rows *batchRows) error {
	start := time.Now()
	defer func() { insertSeconds.Observe(time.Since(start).Seconds()) }()
	err := st.store.write(ctx, rows)
	st.buf.recycleBlock(rows.events)
	if err != nil {
		return err
	}
	return st.reconcile(ctx, rows.ids.checks)
}
