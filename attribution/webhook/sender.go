package webhook

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var pendingGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "tp_deliveries_pending", Help: "Webhook and Meta deliveries waiting for an attempt, by target.",
}, []string{"target"})

// Queue is where the sender keeps deliveries and logs attempts (Store in production).
type Queue interface {
	Save(ctx context.Context, ds ...Delivery) error
	Pending(ctx context.Context) ([]Delivery, error)
	Since(ctx context.Context, version uint64) ([]Delivery, error)
	Record(ctx context.Context, a Attempt) error
}

// Sender delivers pending deliveries in the background. Nothing it does blocks the
// caller of Enqueue: requests run on a few workers, each with a timeout, and a receiver
// that is down or slow only delays its own deliveries.
type Sender struct {
	queue   Queue
	targets map[string]Target
	client  *http.Client

	// MaxAttempts bounds the attempts of a delivery that meets passing faults.
	MaxAttempts int
	// MaxRefused bounds the attempts of a delivery the receiver refuses (4xx).
	MaxRefused int
	// Backoff is the wait after the n-th failed attempt (n from 1).
	Backoff func(n int) time.Duration
	// Workers is how many requests run at once.
	Workers int
	// Poll is how often the queue is read for deliveries written by others ("send
	// again" on another instance).
	Poll time.Duration
	// MaxInMemory bounds the pending deliveries held in memory; the others wait in the
	// queue table and are read once there is room.
	MaxInMemory int
	// Runs reports whether this instance runs the site's jobs (holds its lease); the
	// deliveries of other sites wait for the instance that does. nil: every site.
	Runs func(site string) bool
	// Erased reports whether a delivery's conversion was erased (docs/privacy.md): it is
	// dropped without an attempt, so the person is neither sent nor logged again.
	Erased func(ctx context.Context, site, conversionID string) bool
	// Now is the clock (tests).
	Now func() time.Time

	mu       sync.Mutex
	pending  map[string]*Delivery // by site + id
	inflight map[string]bool
	later    map[string]Delivery // a newer version that came while the delivery was in flight
	// ended holds the version of each delivery this sender ended (delivered, failed,
	// dropped) lately: a read of the queue that started before that save returns it as
	// still pending, and it is not sent again.
	ended    map[string]uint64
	overflow bool   // pending rows were left in the table for want of room
	seen     uint64 // highest version read from the queue
	wake     chan struct{}
}

// NewSender builds a sender over queue with the targets by name (TargetWebhook,
// TargetMeta). timeout bounds each request.
func NewSender(queue Queue, targets map[string]Target, timeout time.Duration) *Sender {
	return &Sender{
		queue:   queue,
		targets: targets,
		client: &http.Client{Timeout: timeout,
			// A redirect is an answer: following it would turn the POST into a GET of
			// another page, whose 200 would pass for a delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				DialContext:         (&net.Dialer{Timeout: min(timeout, 5*time.Second)}).DialContext,
				TLSHandshakeTimeout: min(timeout, 5*time.Second),
				MaxIdleConnsPerHost: 4,
				IdleConnTimeout:     90 * time.Second,
			}},
		MaxAttempts: 8,
		MaxRefused:  3,
		Backoff:     ExpBackoff(2*time.Second, 10*time.Minute),
		Workers:     4,
		Poll:        5 * time.Second,
		MaxInMemory: 100000,
		pending:     map[string]*Delivery{},
		inflight:    map[string]bool{},
		later:       map[string]Delivery{},
		ended:       map[string]uint64{},
		wake:        make(chan struct{}, 1),
	}
}

// ExpBackoff doubles the wait from first after each failed attempt, up to limit.
func ExpBackoff(first, limit time.Duration) func(int) time.Duration {
	return func(n int) time.Duration { return min(first<<min(max(n-1, 0), 20), limit) }
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func key(d *Delivery) string { return d.Site + "\x00" + d.ID }

// Enqueue hands the sender deliveries already saved in the queue (pending ones are sent,
// others forgotten). It never blocks on the network.
func (s *Sender) Enqueue(ds ...Delivery) {
	s.mu.Lock()
	for i := range ds {
		s.merge(ds[i])
	}
	s.updateGauge()
	s.mu.Unlock()
	s.Wake()
}

// Wake makes the sender look at its deliveries now.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// merge takes in d unless a newer version of it is known; s.mu is held.
func (s *Sender) merge(d Delivery) {
	k := key(&d)
	s.seen = max(s.seen, d.Version)
	if s.inflight[k] {
		if l, ok := s.later[k]; !ok || d.Version > l.Version {
			s.later[k] = d
		}
		return
	}
	if v, ok := s.ended[k]; ok {
		if d.Version <= v {
			return
		}
		delete(s.ended, k) // sent again since
	}
	if cur, ok := s.pending[k]; ok && cur.Version >= d.Version {
		return
	}
	if d.State != Pending {
		delete(s.pending, k)
		return
	}
	if _, ok := s.pending[k]; !ok && len(s.pending) >= s.MaxInMemory {
		s.overflow = true
		return
	}
	s.pending[k] = &d
}

func (s *Sender) updateGauge() {
	n := map[string]int{TargetWebhook: 0, TargetMeta: 0}
	for _, d := range s.pending {
		n[d.Target]++
	}
	for t, c := range n {
		pendingGauge.WithLabelValues(t).Set(float64(c))
	}
}

// Run sends until ctx is done. It first reads the pending deliveries a previous run left,
// waiting for ClickHouse as long as it takes.
func (s *Sender) Run(ctx context.Context) {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		ds, err := s.queue.Pending(ctx)
		if err == nil {
			s.Enqueue(ds...)
			if len(ds) > 0 {
				log.Printf("webhook: %d pending deliveries resumed", len(ds))
			}
			break
		}
		log.Printf("webhook: cannot read pending deliveries (retrying in %s): %v", wait, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	// The poll also looks again at deliveries of sites whose lease this instance gained.
	poll := time.NewTicker(s.Poll)
	defer poll.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, next := s.take()
		for _, d := range due {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.attempt(ctx, d)
				s.Wake()
			}()
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(s.now()), 10*time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		case <-poll.C:
			s.refresh(ctx)
		}
	}
}

// take marks the due deliveries in flight, as many as there are free workers, oldest due
// first, and returns them and when the next one is due.
func (s *Sender) take() ([]Delivery, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var due []*Delivery
	var next time.Time
	for k, d := range s.pending {
		if s.inflight[k] || s.Runs != nil && !s.Runs(d.Site) {
			continue
		}
		if !d.NextAttemptAt.After(now) {
			due = append(due, d)
		} else if next.IsZero() || d.NextAttemptAt.Before(next) {
			next = d.NextAttemptAt
		}
	}
	free := s.Workers - len(s.inflight)
	if len(due) > free {
		// The rest wait for a worker: each one that ends wakes the sender.
		sort.Slice(due, func(i, j int) bool { return due[i].NextAttemptAt.Before(due[j].NextAttemptAt) })
		due = due[:max(free, 0)]
	}
	out := make([]Delivery, len(due))
	for i, d := range due {
		s.inflight[key(d)] = true
		out[i] = *d
	}
	return out, next
}

// refresh reads what others wrote to the queue since the last look, and the pending
// deliveries left in the table when memory was full.
func (s *Sender) refresh(ctx context.Context) {
	s.mu.Lock()
	// Versions are clocks of several processes: look a little further back than the
	// newest one seen.
	since, full := s.seen-min(s.seen, uint64(time.Minute)), s.overflow && len(s.pending) < s.MaxInMemory/2
	// A read that started before a delivery ended is seconds old: a minute before the
	// look back, its end need not be kept.
	for k, v := range s.ended {
		if v < since-min(since, uint64(time.Minute)) {
			delete(s.ended, k)
		}
	}
	s.mu.Unlock()
	var ds []Delivery
	var err error
	if full {
		ds, err = s.queue.Pending(ctx)
	} else {
		ds, err = s.queue.Since(ctx, since)
	}
	if err != nil {
		if ctx.Err() == nil {
			logEvery("refresh", "webhook: cannot read the delivery queue: %v", err)
		}
		return
	}
	s.mu.Lock()
	if full {
		s.overflow = false
	}
	s.mu.Unlock()
	s.Enqueue(ds...)
}

// attempt tries d once and records the outcome.
func (s *Sender) attempt(ctx context.Context, d Delivery) {
	k, started := key(&d), d.Version
	defer func() {
		s.mu.Lock()
		delete(s.inflight, k)
		if l, ok := s.later[k]; ok {
			delete(s.later, k)
			if l.Version > started {
				s.mu.Unlock()
				// "Send again" while this attempt ran: it wins over the attempt's outcome.
				s.save(ctx, &l)
				s.mu.Lock()
				s.merge(l)
			}
		}
		s.updateGauge()
		s.mu.Unlock()
	}()
	if s.Erased != nil && s.Erased(ctx, d.Site, d.ConversionID) {
		log.Printf("webhook: dropping delivery %s of site %s: its conversion was erased", d.ID, d.Site)
		s.forget(k, d.Version)
		return
	}
	target := s.targets[d.Target]
	now := s.now()
	var req *Request
	var err error
	if target == nil {
		err = errors.New("unknown target " + d.Target)
	} else {
		req, err = target.Request(ctx, &d, now)
	}
	if err != nil || req == nil {
		d.State, d.Error = Dropped, "the site does not send to "+d.Target+" any more"
		if err != nil {
			d.State, d.Error = Failed, err.Error()
		}
		d.NextAttemptAt = time.Time{}
		s.finish(ctx, &d)
		return
	}
	status, body, header, err := s.post(req)
	if ctx.Err() != nil {
		return // shutting down: the attempt does not count, the delivery stays pending
	}
	d.Attempts++
	d.URL, d.Status = req.URL, status
	verdict, msg := Retry, ""
	if err != nil {
		msg = err.Error()
	} else {
		verdict, msg = target.Judge(status, header, body)
	}
	d.Error = redact(msg, req.Secrets)
	d.NextAttemptAt = time.Time{}
	switch {
	case verdict == Done:
		d.State = Delivered
	case verdict == Retry && d.Attempts < s.MaxAttempts, verdict == Refused && d.Attempts < min(s.MaxRefused, s.MaxAttempts):
		d.State = Pending
		d.NextAttemptAt = now.Add(max(s.Backoff(d.Attempts), retryAfter(header, now)))
	default:
		d.State = Failed
	}
	a := Attempt{Site: d.Site, DeliveryID: d.ID, Target: d.Target, Event: d.Event, ConversionID: d.ConversionID, URL: d.URL,
		Attempt: d.Attempts, Status: status, Error: d.Error, Delivered: verdict == Done, NextRetryAt: d.NextAttemptAt, At: now}
	if err := s.queue.Record(context.WithoutCancel(ctx), a); err != nil {
		logEvery("record", "webhook: cannot log attempt %d of %s: %v", a.Attempt, d.ID, err)
	}
	switch d.State {
	case Delivered:
		deliveries.WithLabelValues(resultDelivered).Inc()
	case Pending:
		deliveries.WithLabelValues(resultRetrying).Inc()
	default:
		deliveries.WithLabelValues(resultAbandoned).Inc()
		log.Printf("webhook: giving up on %s delivery %s of site %s after %d attempts: %s", d.Target, d.ID, d.Site, d.Attempts, d.Error)
	}
	s.finish(ctx, &d)
}

// finish saves d's new state and keeps it in memory while it is pending. A failed save is
// only logged: the delivery goes on from memory, and after a restart at worst an attempt
// is made again (receivers deduplicate by id).
func (s *Sender) finish(ctx context.Context, d *Delivery) {
	s.save(ctx, d)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(d)
	if d.State == Pending {
		s.pending[k] = d
	} else {
		delete(s.pending, k)
		s.ended[k] = d.Version
	}
	s.seen = max(s.seen, d.Version)
}

// save writes d with a new version, which d then carries.
func (s *Sender) save(ctx context.Context, d *Delivery) {
	ds := []Delivery{*d}
	if err := s.queue.Save(context.WithoutCancel(ctx), ds...); err != nil {
		logEvery("save", "webhook: cannot save delivery %s: %v", d.ID, err)
		d.Version = max(d.Version+1, nextVersion())
		return
	}
	*d = ds[0]
}

func (s *Sender) forget(k string, version uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.pending[k]; ok && d.Version <= version {
		delete(s.pending, k)
	}
	s.ended[k] = max(s.ended[k], version)
}

// post sends req and reads the start of the answer. Its error never includes the URL,
// whose query may hold a token.
func (s *Sender) post(req *Request) (int, []byte, http.Header, error) {
	resp, err := s.client.Do(req.HTTP)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return 0, nil, nil, errors.New("no answer within " + s.client.Timeout.String())
		}
		return 0, nil, nil, errors.New("cannot reach " + req.HTTP.URL.Host + ": " + err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, resp.Header, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryAfter is the wait a Retry-After header asks for (seconds or a date), at most an hour.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return min(time.Duration(max(n, 0))*time.Second, time.Hour)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), time.Hour)
	}
	return 0
}

// redact replaces each secret in msg.
func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

var (
	logMu   sync.Mutex
	lastLog = map[string]time.Time{}
)

// logEvery logs at most once a minute per kind: a ClickHouse outage must not flood the log.
func logEvery(kind, format string, args ...any) {
	logMu.Lock()
	if time.Since(lastLog[kind]) < time.Minute {
		logMu.Unlock()
		return
	}
	lastLog[kind] = time.Now()
	logMu.Unlock()
	log.Printf(format, args...)
}
