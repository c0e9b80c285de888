package collector

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/segmentio/encoding/json"
	"github.com/valyala/fasthttp"

	"touchpoint/collector/enrich"
	"touchpoint/collector/leases"
	"touchpoint/collector/spool"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/stitcher/session"
)

var (
	numberAnswers = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "tp_collector_numbers_total",
		Help: "Pool numbers asked for at /v1/number, by pool and outcome: leased, renewed, exhausted (every number held: the default number shown), other_channel, no_visitor, bot, store_unavailable.",
	}, []string{"site", "pool", "outcome"})
	leaseEventsDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_collector_lease_events_dropped_total", Help: "Lease events not written to Kafka: the queue to the producer was full.",
	})
)

// UseLeases makes the collector hand out pool numbers and match calls with store.
func (s *Server) UseLeases(store *leases.Store) {
	s.leases = store
	s.leaseOut = newLeaseWriter(s.sink)
	for _, st := range s.sites.Sites() {
		if len(st.CallTracking.Pools) > 0 {
			// The lease store being away degrades call tracking only (pages keep their
			// own numbers, calls are recorded unmatched): the collector stays ready.
			s.ready.state.Optional(depLeaseStore)
			go s.ready.state.Probe(s.watchCtx, depLeaseStore, 5*time.Second, store.Ping)
			return
		}
	}
}

// depLeaseStore names the lease store in /readyz and tp_dependency_up.
const depLeaseStore = "lease_store"

// leaseStoreAnswered records whether the lease store answered a command.
func (s *Server) leaseStoreAnswered(err error) {
	if s.leases != nil {
		s.ready.state.Set(depLeaseStore, err)
	}
}

// leaseWriter writes lease events to Kafka in the background, so /v1/number answers
// without waiting for a broker: the lease is in the lease store already, and its
// event is an audit copy.
type leaseWriter struct {
	sink Sink
	in   chan spool.Message
	done chan struct{}
}

func newLeaseWriter(sink Sink) *leaseWriter {
	w := &leaseWriter{sink: sink, in: make(chan spool.Message, 10000), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *leaseWriter) add(m spool.Message) {
	select {
	case w.in <- m:
	default:
		leaseEventsDropped.Inc()
	}
}

func (w *leaseWriter) run() {
	defer close(w.done)
	var batch []spool.Message
	for {
		m, ok := <-w.in
		if !ok {
			return
		}
		batch = append(batch[:0], m)
		// The page's own pageview was sent before the snippet asked for a number: waiting
		// a little lets it reach the stitcher first, which gives the lease its session.
		time.Sleep(leaseDelay)
	more:
		for len(batch) < 500 {
			select {
			case m, ok := <-w.in:
				if !ok {
					break more
				}
				batch = append(batch, m)
			default:
				break more
			}
		}
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := w.sink.Write(ctx, batch)
			cancel()
			if err == nil {
				break
			}
			if attempt == 0 {
				log.Printf("collector: cannot write %d lease events (retrying): %v", len(batch), err)
			}
			time.Sleep(min(time.Duration(attempt+1)*time.Second, 10*time.Second))
		}
	}
}

// leaseDelay is how long a lease event waits before it is written to Kafka.
const leaseDelay = time.Second

// close writes what is queued, within ctx.
func (w *leaseWriter) close(ctx context.Context) {
	close(w.in)
	select {
	case <-w.done:
	case <-ctx.Done():
	}
}

// numberAnswer is the body of GET /v1/number.
type numberAnswer struct {
	Numbers []poolNumber `json:"numbers"`
	Renew   int          `json:"renew"` // seconds until the snippet asks again while the page is visible
}

// poolNumber tells the snippet to show Number wherever the page has one of Swap.
type poolNumber struct {
	Pool   string   `json:"pool"`
	Swap   []string `json:"swap"`
	Number string   `json:"number,omitempty"` // empty: keep the page's numbers
}

// renewEvery is how often a visible page renews its lease; far below any hold time.
const renewEvery = 60

// emitEvery is how often a renewed lease is written to Kafka again with its new end.
const emitEvery = 10 * time.Minute

// handleNumber is GET /v1/number: the pool numbers of one visitor's session.
func (s *Server) handleNumber(ctx *fasthttp.RequestCtx) {
	origin := string(ctx.Request.Header.Peek(fasthttp.HeaderOrigin))
	if ctx.IsOptions() {
		s.preflight(ctx, origin)
		return
	}
	st, _ := s.browserGet(ctx, "GET, OPTIONS")
	if st == nil {
		return
	}
	args := ctx.QueryArgs()
	if origin != "" {
		if !st.AllowsOrigin(origin) {
			s.refuse(ctx, fasthttp.StatusForbidden, reasonOrigin, "origin not allowed for this site")
			return
		}
		setCORS(ctx, origin)
	}
	vid := string(args.Peek("vid"))
	if vid != "" && !enrich.ValidID(vid) {
		s.refuse(ctx, fasthttp.StatusBadRequest, reasonBadRequest, "vid must be 1-64 letters, digits, '-' or '_'")
		return
	}
	// Crawlers that run the page's scripts (search engines render pages) would hold
	// numbers nobody can call from; they see the site's own.
	ua := string(ctx.UserAgent())
	bot := ua == "" || s.agents.Parse(ua).Bot
	now := time.Now()
	out := numberAnswer{Numbers: []poolNumber{}, Renew: renewEvery}
	var ch string // the session's channel, worked out when a pool asks
	for i := range st.CallTracking.Pools {
		p := &st.CallTracking.Pools[i]
		if p.Static() {
			continue
		}
		pn := poolNumber{Pool: p.ID, Swap: append([]string{p.Default}, p.Swap...)}
		out.Numbers = append(out.Numbers, pn)
		if len(p.Channels) > 0 && ch == "" {
			ch = s.channelOf(st, string(args.Peek("url")), string(args.Peek("ref")))
		}
		switch {
		case vid == "":
			numberAnswers.WithLabelValues(st.ID, p.ID, "no_visitor").Inc()
			continue
		case bot:
			numberAnswers.WithLabelValues(st.ID, p.ID, "bot").Inc()
			continue
		case !p.AllowsChannel(ch):
			numberAnswers.WithLabelValues(st.ID, p.ID, "other_channel").Inc()
			continue
		case s.leases == nil:
			numberAnswers.WithLabelValues(st.ID, p.ID, "store_unavailable").Inc()
			continue
		}
		c, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		l, err := s.leases.Acquire(c, st.ID, p.ID, p.Numbers, vid, p.Hold(), now)
		cancel()
		switch {
		case errors.Is(err, leases.ErrExhausted):
			s.leaseStoreAnswered(nil)
			numberAnswers.WithLabelValues(st.ID, p.ID, "exhausted").Inc()
			continue
		case err != nil:
			s.leaseStoreAnswered(err)
			numberAnswers.WithLabelValues(st.ID, p.ID, "store_unavailable").Inc()
			continue
		}
		s.leaseStoreAnswered(nil)
		out.Numbers[len(out.Numbers)-1].Number = l.Number
		if l.New {
			numberAnswers.WithLabelValues(st.ID, p.ID, "leased").Inc()
		} else {
			numberAnswers.WithLabelValues(st.ID, p.ID, "renewed").Inc()
		}
		if l.New || now.Sub(l.Emitted) >= emitEvery {
			s.emitLease(st, p, l, string(args.Peek("url")), now)
		}
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// emitLease queues the lease's event: the stitcher writes it to number_leases with the
// visitor's session. A renewed lease is written again under the same id with its new end.
func (s *Server) emitLease(st *site.Site, p *site.NumberPool, l *leases.Lease, url string, now time.Time) {
	props, _ := json.Marshal(map[string]any{"number": l.Number, "pool": p.ID, "leased_to": l.To.UnixMilli()})
	e := event.Enriched{
		Event: event.Event{ID: l.ID, Type: event.NumberLease, TS: l.From.UnixMilli(), VID: l.Visitor, URL: truncate(url, 2048), Props: props},
		Site:  st.ID, ReceivedAt: now.UnixMilli(), Origin: event.OriginWeb,
	}
	v, err := event.AppendJSON(nil, &e)
	if err != nil {
		return
	}
	s.leaseOut.add(spool.Message{Topic: s.topic, Key: e.Key(), Value: v})
	go func() {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.leases.MarkEmitted(c, st.ID, l.Number, l.ID, now)
	}()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// channelOf is the channel of a session that landed on url from ref, as the stitcher
// will work it out.
func (s *Server) channelOf(st *site.Site, url, ref string) string {
	r, _ := s.referrals.Load(st)
	if r == nil {
		r = session.NewReferrals(st.OwnDomains(), st.ExcludedHosts())
		s.referrals.Store(st, r)
	}
	e := session.NewEvent(uuid.Nil, 0, true, false, url, ref, r.(*session.Referrals))
	return session.Attribute(&e).Channel
}

// serveCallsScript is /c.js: the call-tracking part of the snippet, served to sites
// with pools only.
func (s *Server) serveCallsScript(ctx *fasthttp.RequestCtx) {
	st := s.sites.Get(string(ctx.QueryArgs().Peek("site")))
	switch {
	case st == nil:
		s.refuse(ctx, fasthttp.StatusForbidden, reasonUnknownSite, "unknown site")
		return
	case !st.HasPools():
		ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "public, max-age=300")
		s.refuse(ctx, fasthttp.StatusNotFound, reasonNotFound, "this site has no number pools")
		return
	}
	s.callsJS.serve(ctx)
}
