// Package engine computes the credit of every attribution model for each conversion and
// writes touchpoint.touch_credits: for new conversions within seconds (Watch), and for a
// site and date range on demand (Rebuild). Each computation is idempotent: it rewrites a
// conversion's rows with a higher version and marks touches that dropped out as removed.
package engine

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/attribution/model"
	"touchpoint/internal/site"
)

// Engine computes attributions for the configured sites.
type Engine struct {
	store *store
	sites *site.Registry
	// OnComputed is told, during a Watch pass, of each conversion credited for the first
	// time and of each whose first or last touch changed (a merge, a late session), before
	// the new credit is written: the CRM webhook and ad platforms hear of them. An error
	// fails the pass, which is then done again, so nothing told is lost.
	OnComputed func(ctx context.Context, st *site.Site, cs []Computed) error

	// Settle is how long Watch's watermark stays below a new conversion (credited at
	// once), so that one received before it but visible only after it is still found.
	Settle time.Duration

	// Runs, when set, tells Watch whether this instance credits site's conversions now, and
	// gives a context that ends when it no longer does (one instance at a time:
	// internal/lease). Unset, Watch credits every site.
	Runs func(site string) (context.Context, bool)

	mu        sync.Mutex
	weights   map[string]weightsEntry         // per site, data-driven channel weights
	firstSeen map[string]time.Time            // new conversions the watermark stays below, by id
	waiting   map[string]map[string]time.Time // by site, conversions not credited yet since first seen by Watch
	// ahead are, per site, new conversions credited while the watermark stayed below
	// them (held back by others still settling): their received time by id, so they are
	// not credited again at every pass until it passes them.
	ahead    map[string]map[string]uint64
	backlogs map[string]*backlog     // per site, new conversions waiting for credit (see backlog)
	recorded map[string]siteSettings // per site, the settings last written to site_settings
}

type weightsEntry struct {
	w  model.ChannelWeights
	at time.Time
}

// New builds an engine over database db.
func New(conn driver.Conn, db string, sites *site.Registry) *Engine {
	return &Engine{store: &store{conn: conn, db: db}, sites: sites, Settle: 2 * time.Second,
		weights: map[string]weightsEntry{}, firstSeen: map[string]time.Time{}, waiting: map[string]map[string]time.Time{},
		ahead: map[string]map[string]uint64{}, backlogs: map[string]*backlog{}, recorded: map[string]siteSettings{}}
}

func lookback(st *site.Site) time.Duration { return time.Duration(st.LookbackDays) * 24 * time.Hour }

// liveWeightsAge is how old the data-driven weights may be when the watcher credits.
const liveWeightsAge = 10 * time.Minute

// Weights returns the site's data-driven channel weights, recomputed from the paths of
// every person over the last year when older than maxAge.
func (e *Engine) Weights(ctx context.Context, st *site.Site, maxAge time.Duration) (model.ChannelWeights, error) {
	e.mu.Lock()
	w, ok := e.weights[st.ID]
	e.mu.Unlock()
	if ok && time.Since(w.at) < maxAge {
		return w.w, nil
	}
	to := time.Now()
	journeys, err := e.store.journeys(ctx, st.ID, to.AddDate(-1, 0, 0), to)
	if err != nil {
		return nil, err
	}
	cw := model.Markov(journeys)
	e.mu.Lock()
	e.weights[st.ID] = weightsEntry{w: cw, at: time.Now()}
	e.mu.Unlock()
	return cw, nil
}

// computation carries what one compute pass needs.
type computation struct {
	site     *site.Site
	weights  model.ChannelWeights
	old      map[string][]credited // currently credited touches per conversion
	w        *writer
	computed []Computed // for OnComputed
	touches  []model.Touch
	window   []model.Touch  // one conversion's, reused
	assigned []model.Credit // one model's, reused
	credits  []touchCredit  // of the conversion being computed
	notify   bool
	rows     int
}

// touchCredit is one touch of a conversion with every model's credit for it, in the
// order of model.Models: the row written for the touch.
type touchCredit struct {
	touch   *Session
	credits modelCredits
}

// modelCredits are one touch's credit per model, in the order of model.Models.
type modelCredits [7]float64

// add gives the touch s credit x under the i-th model.
func (c *computation) add(s *Session, i int, x float64) {
	for k := range c.credits {
		if c.credits[k].touch.ID == s.ID {
			c.credits[k].credits[i] += x
			return
		}
	}
	c.credits = append(c.credits, touchCredit{touch: s})
	c.credits[len(c.credits)-1].credits[i] = x
}

// Computed is a conversion whose credit OnComputed is told of.
type Computed struct {
	Conversion Conversion
	// New is true the first time the conversion is credited.
	New bool
	// First and Last are the touches first-click and last-click credit now; a conversion
	// without touchpoints has the "(no touchpoint)" touch, whose ID is "".
	First, Last Session
	// PrevFirst and PrevLast are the session ids they credited before (not New).
	PrevFirst, PrevLast string
	// Touches is how many touchpoints the lookback window before the conversion holds.
	Touches int
}

// FirstOrLastChanged reports whether a recomputation moved first- or last-click credit.
func (c *Computed) FirstOrLastChanged() bool {
	return !c.New && (c.PrevFirst != c.First.ID || c.PrevLast != c.Last.ID)
}

// person computes every model for each of one person's conversions; touches are the
// person's sessions ordered by time.
func (c *computation) person(ctx context.Context, convs []Conversion, sessions []Session) error {
	// Buffers are reused across people: a rebuild calls this a million times.
	c.touches = c.touches[:0]
	for i := range sessions {
		s := &sessions[i]
		c.touches = append(c.touches, model.Touch{SessionID: s.ID, At: s.At, Channel: s.Channel, Source: s.Source, Medium: s.Medium,
			Campaign: s.Campaign, Term: s.Term})
	}
	// find returns the session of a credited touch; people have a handful of sessions.
	var fixed *Session
	find := func(t *model.Touch) *Session {
		if fixed != nil {
			return fixed
		}
		for i := range sessions {
			if sessions[i].ID == t.SessionID {
				return &sessions[i]
			}
		}
		return noTouchpoint(t.At)
	}
	lb := lookback(c.site)
	for ci := range convs {
		conv := &convs[ci]
		fixed = conv.Fixed
		var window []model.Touch
		if fixed != nil {
			// A call no session made: its number's touch takes all credit in every model.
			window = []model.Touch{{At: fixed.At, Channel: fixed.Channel, Source: fixed.Source, Medium: fixed.Medium,
				Campaign: fixed.Campaign, Term: fixed.Term}}
		} else {
			c.window = model.AppendWindow(c.window[:0], c.touches, conv.At, lb)
			window = c.window
		}
		old, seen := c.old[conv.ID]
		var first, last *Session
		c.credits = c.credits[:0]
		for mi, m := range model.Models {
			credits, err := model.AppendAssign(c.assigned[:0], m, window, model.Conversion{ID: conv.ID, At: conv.At, Value: conv.Value}, c.weights)
			if err != nil {
				return err
			}
			c.assigned = credits
			for i := range credits {
				s := find(&credits[i].Touch)
				switch m {
				case model.FirstClick:
					first = s
				case model.LastClick:
					last = s
				}
				c.add(s, mi, credits[i].Credit)
			}
		}
		for i := range c.credits {
			if err := c.w.row(ctx, conv, c.credits[i].touch, &c.credits[i].credits, 0); err != nil {
				return err
			}
			c.rows++
		}
		for _, k := range old {
			if slices.ContainsFunc(c.credits, func(t touchCredit) bool { return t.touch.ID == k.session }) {
				continue
			}
			// A touch that lost its credit: overwrite its row with zero credit.
			if err := c.w.row(ctx, conv, &Session{ID: k.session, At: conv.At}, &modelCredits{}, 1); err != nil {
				return err
			}
			c.rows++
		}
		if c.notify {
			cd := Computed{Conversion: *conv, New: !seen, First: *first, Last: *last, Touches: len(window)}
			if first.ID == "" {
				cd.Touches = 0 // the window holds only the "(no touchpoint)" touch
			}
			for _, k := range old {
				if k.first {
					cd.PrevFirst = k.session
				}
				if k.last {
					cd.PrevLast = k.session
				}
			}
			if cd.New || cd.FirstOrLastChanged() {
				c.computed = append(c.computed, cd)
			}
		}
	}
	return nil
}

// noTouchpoint is the session credited for a conversion at `at` without touchpoints: no
// session id, every dimension "(no touchpoint)", so each grouping of the reports shows it
// as its own row.
func noTouchpoint(at time.Time) *Session {
	const n = model.NoTouchpoint
	return &Session{At: at, Channel: n, Source: n, Medium: n, Campaign: n, Term: n, Content: n, LandingPath: n, Country: n, Device: n}
}

// blockRows is the rows of one block the writer sends. A block's rows keep the sessions
// and conversions they point to alive until it is written: over a million conversions,
// blocks of 50,000 rows kept the heap at its limit and the garbage collector took two
// thirds of the rebuild's CPU; at 6,000 rows the rebuild took 30 % less time, and at
// 3,000 ClickHouse spent more on the smaller blocks than Go saved.
const blockRows = 6000

// rowChunk is the most sessions or conversions compute allocates room for at a time: a
// rebuild reads millions, a pass of Watch a handful.
const rowChunk = 4096

// personRows holds one person's sessions or conversions, in chunks that are never reused:
// the rows of blocks not yet written point to those of earlier persons.
type personRows[T any] struct {
	rows  []T
	chunk int // room allocated at a time, doubling up to rowChunk
}

// next starts the rows of the next person.
func (p *personRows[T]) next() { p.rows = p.rows[len(p.rows):] }

func (p *personRows[T]) add(x *T) {
	if len(p.rows) == cap(p.rows) {
		p.chunk = min(max(2*p.chunk, 16), rowChunk)
		room := make([]T, len(p.rows), len(p.rows)+p.chunk)
		copy(room, p.rows)
		p.rows = room
	}
	p.rows = append(p.rows, *x)
}

// eachPerson calls f with each person's sessions among rows, the sessions of one hash: one
// person's, or those of several whose ids share the hash, mixed, which it puts in order
// of id first (personOrder).
func eachPerson(hash uint64, rows []Session, f func(p personKey, sessions []Session, last bool) error) error {
	if slices.ContainsFunc(rows, func(s Session) bool { return s.Person != rows[0].Person }) {
		slices.SortStableFunc(rows, func(a, b Session) int { return strings.Compare(a.Person, b.Person) })
	}
	for len(rows) > 0 {
		n := 1
		for n < len(rows) && rows[n].Person == rows[0].Person {
			n++
		}
		if err := f(personKey{hash, rows[0].Person}, rows[:n], false); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// conversionStream gives conversions ordered by person (personOrder), then time and id
// (sortByPerson's order); next reports false at the end.
type conversionStream interface {
	next(c *Conversion) (bool, error)
	Close() error
}

// sliceConversions streams conversions held in memory.
type sliceConversions []Conversion

func (s *sliceConversions) next(c *Conversion) (bool, error) {
	if len(*s) == 0 {
		return false, nil
	}
	*c, *s = (*s)[0], (*s)[1:]
	return true, nil
}

func (s *sliceConversions) Close() error { return nil }

// compute attributes the conversions that open streams, of one site, reading the
// touchpoints of their persons; sc names the same persons and conversions for the
// queries. The data-driven weights are recomputed when older than weightsAge.
func (e *Engine) compute(ctx context.Context, st *site.Site, open func(context.Context) (conversionStream, error), sc *scope,
	notify bool, weightsAge time.Duration) (int, error) {
	// The touchpoints are asked for first: ClickHouse sorts them by person (seconds over a
	// whole site, on one core) while the conversions, the weights and the current credit
	// are read. Returning early cancels the queries instead of reading them to their end.
	qctx, cancel := context.WithCancel(ctx)
	sessions, err := e.store.querySessions(qctx, st.ID, sc)
	if err != nil {
		cancel()
		return 0, err
	}
	defer sessions.Close()
	defer cancel()
	convs, err := open(qctx)
	if err != nil {
		return 0, err
	}
	defer func() {
		cancel() // first: closing a stream not read to its end reads the rest
		convs.Close()
	}()
	var conv Conversion // the next conversion to compute, while more
	more, err := convs.next(&conv)
	if err != nil || !more {
		return 0, err
	}
	weights, err := e.Weights(ctx, st, weightsAge)
	if err != nil {
		return 0, err
	}
	// The current credit of a range's conversions would not fit in memory (a million
	// conversions took more than the heap's limit): there, the touches that dropped out are
	// marked removed in ClickHouse once the new rows are written.
	var old map[string][]credited
	if sc.ids != nil {
		if old, err = e.store.creditedKeys(ctx, st.ID, sc); err != nil {
			return 0, err
		}
	}
	now := time.Now()
	c := &computation{site: st, weights: weights, old: old, w: e.store.newWriter(blockRows, st.ID, now, uint64(now.UnixNano())),
		notify: notify && e.OnComputed != nil}
	defer c.w.wait() // never leave a batch in flight behind

	// Walk the conversions and the sessions side by side, both in personOrder.
	var own personRows[Conversion]
	var cur personRows[Session] // sessions of one hash: one person's, but for a shared hash
	var curHash uint64
	convKey := keyOf(conv.Person)
	// through computes the conversions of the persons up to p, whose sessions are touches;
	// those of earlier persons have no sessions. With last, it computes every conversion
	// left.
	through := func(p personKey, touches []Session, last bool) error {
		for more && (last || convKey.compare(p) <= 0) {
			person := conv.Person
			own.next()
			for more && conv.Person == person {
				own.add(&conv)
				var err error
				if more, err = convs.next(&conv); err != nil {
					return err
				}
			}
			if more {
				convKey = keyOf(conv.Person)
			}
			var ts []Session
			if !last && person == p.id {
				ts = latestVersions(touches)
			}
			if err := c.person(ctx, own.rows, ts); err != nil {
				return err
			}
		}
		return nil
	}
	err = eachSession(sessions, func(hash uint64, s *Session) error {
		if len(cur.rows) > 0 && hash != curHash {
			if err := eachPerson(curHash, cur.rows, through); err != nil {
				return err
			}
			cur.next()
		}
		curHash = hash
		cur.add(s)
		return nil
	})
	if err == nil && len(cur.rows) > 0 {
		err = eachPerson(curHash, cur.rows, through)
	}
	if err == nil {
		err = through(personKey{}, nil, true)
	}
	if err != nil {
		return 0, err
	}
	// Told before the rows are written: once they are, a pass done again after a failure
	// would see nothing new or changed.
	if len(c.computed) > 0 {
		if err := e.OnComputed(ctx, st, c.computed); err != nil {
			return 0, fmt.Errorf("cannot hand over computed conversions: %w", err)
		}
	}
	if err := c.w.flush(ctx); err != nil {
		return 0, err
	}
	if sc.ids == nil { // a range: its credit was not read
		if err := e.store.removeDropped(ctx, st.ID, sc, c.w.version); err != nil {
			return 0, err
		}
	}
	return c.rows, nil
}

// Rebuild recomputes every conversion of site that occurred in [from, to] (dates,
// to inclusive). Running it twice leaves the same rows.
func (e *Engine) Rebuild(ctx context.Context, siteID string, from, to time.Time) (convs, rows int, err error) {
	st := e.sites.Get(siteID)
	if st == nil {
		return 0, 0, fmt.Errorf("unknown site %q", siteID)
	}
	if err := e.recordSettings(ctx, st); err != nil {
		return 0, 0, err
	}
	end := to.AddDate(0, 0, 1)
	start := time.Now()
	cs := &rowConversions{}
	open := func(ctx context.Context) (conversionStream, error) {
		var err error
		cs.rows, err = e.store.queryConversions(ctx, st.ID, conversionQuery{from: from, to: end})
		return cs, err
	}
	// A rebuild uses fresh data-driven weights (age 0).
	n, err := e.compute(ctx, st, open, &scope{sessionsFrom: from.Add(-lookback(st)), sessionsTo: end, from: from, to: end}, false, 0)
	if err != nil {
		return 0, 0, err
	}
	log.Printf("attribution: rebuilt %s %s..%s: %d conversions, %d rows in %s",
		st.ID, from.Format("2006-01-02"), to.Format("2006-01-02"), cs.n, n, time.Since(start).Round(time.Millisecond))
	return cs.n, n, nil
}

// ComputeConversions (re)computes the given conversions of one site now.
func (e *Engine) ComputeConversions(ctx context.Context, st *site.Site, cs []Conversion, notify bool) (int, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	persons := map[string]bool{}
	ids := make([]string, 0, len(cs))
	from, to := cs[0].At, cs[0].At
	for _, c := range cs {
		persons[c.Person] = true
		ids = append(ids, c.ID)
		if c.At.Before(from) {
			from = c.At
		}
		if c.At.After(to) {
			to = c.At
		}
	}
	plist := make([]string, 0, len(persons))
	for p := range persons {
		plist = append(plist, p)
	}
	sc := &scope{sessionsFrom: from.Add(-lookback(st)), sessionsTo: to, persons: plist, ids: ids}
	sortByPerson(cs)
	open := func(context.Context) (conversionStream, error) { return (*sliceConversions)(&cs), nil }
	return e.compute(ctx, st, open, sc, notify, liveWeightsAge)
}
