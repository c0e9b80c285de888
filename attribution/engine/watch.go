package engine

import (
	"cmp"
	"context"
	"log"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
)

// Watch keeps attributions current until ctx is done. Every interval it computes, per
// site: conversions written since the last pass (new or changed), conversions of persons
// merged since then, and conversions that a late session (one that started before the
// conversion) now precedes. Every minute it also picks up any conversion that still has
// no attribution, so nothing is missed if rows became visible out of order. Progress is
// kept in attribution_state; a changed lookback window rebuilds the site, and credit
// that earlier versions gave to an invented Direct touch is computed again. A site that
// another instance runs (Runs) is left to it.
//
// Watch never gives up: while ClickHouse is away its passes fail and are tried again
// every interval, and it goes on where it stopped once ClickHouse is back. New conversions
// are credited ahead of the reports' queries (see pass).
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastSweep := time.Time{}
	// Sites whose lookback window and old credit were checked since this instance runs them.
	checked := map[string]bool{}
	type failure struct{ since, logged time.Time }
	failing := map[string]failure{}
	for _, s := range e.sites.Sites() {
		watchStarted(s.ID)
	}
	for {
		sweep := time.Since(lastSweep) > time.Minute
		for _, s := range e.sites.Sites() {
			st := e.sites.Get(s.ID)
			if st == nil {
				continue // removed by a reload meanwhile
			}
			sctx, stop, ok := e.runs(ctx, st.ID)
			if !ok {
				// Another instance credits the site now: what this one queued goes stale.
				delete(checked, st.ID)
				delete(e.backlogs, st.ID)
				continue
			}
			start := time.Now()
			var err error
			if !checked[st.ID] {
				if err = e.checkLookback(sctx, st); err == nil {
					err = e.replaceInventedDirect(sctx, st)
				}
				checked[st.ID] = err == nil
			}
			if err == nil {
				err = e.pass(sctx, st, sweep)
			}
			stop()
			if ctx.Err() != nil {
				return
			}
			e.passed(st.ID, start, err)
			if err == nil {
				if f, ok := failing[st.ID]; ok {
					log.Printf("attribution: %s: crediting again after %s", st.ID, time.Since(f.since).Round(time.Second))
					delete(failing, st.ID)
				}
				continue
			}
			// One line when a site starts failing, then one a minute: an outage of
			// ClickHouse would otherwise log every interval.
			f, ok := failing[st.ID]
			if !ok {
				f.since = time.Now()
			}
			if time.Since(f.logged) >= time.Minute {
				f.logged = time.Now()
				log.Printf("attribution: %s: %v (retrying every %s)", st.ID, err, interval)
			}
			failing[st.ID] = f
		}
		if sweep {
			lastSweep = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// runs returns a context for working on site while this instance may (see Runs).
func (e *Engine) runs(ctx context.Context, site string) (context.Context, context.CancelFunc, bool) {
	if e.Runs == nil {
		return ctx, func() {}, true
	}
	held, ok := e.Runs(site)
	if !ok {
		return nil, nil, false
	}
	sctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(held, cancel)
	return sctx, func() { stop(); cancel() }, true
}

func (e *Engine) checkLookback(ctx context.Context, st *site.Site) error {
	used, ok, err := e.store.state(ctx, st.ID, "lookback_days")
	if err != nil {
		return err
	}
	if ok && used != uint64(st.LookbackDays) {
		log.Printf("attribution: %s lookback changed from %d to %d days, rebuilding", st.ID, used, st.LookbackDays)
		if _, _, err := e.Rebuild(ctx, st.ID, time.Unix(0, 0).UTC(), time.Now().UTC()); err != nil {
			return err
		}
	}
	return e.store.setState(ctx, st.ID, map[string]uint64{"lookback_days": uint64(st.LookbackDays)})
}

// replaceInventedDirect recomputes the conversions that earlier versions credited to an
// invented Direct touch because they had no touchpoint: they get "(no touchpoint)" rows.
// `attribution rebuild` does the same for a date range.
func (e *Engine) replaceInventedDirect(ctx context.Context, st *site.Site) error {
	ids, err := e.store.inventedDirect(ctx, st.ID)
	if err != nil || len(ids) == 0 {
		return err
	}
	for len(ids) > 0 {
		n := min(len(ids), chunkSize)
		cs, err := e.store.conversions(ctx, st.ID, conversionQuery{ids: ids[:n]})
		if err != nil {
			return err
		}
		if _, err := e.ComputeConversions(ctx, st, cs, false); err != nil {
			return err
		}
		ids = ids[n:]
	}
	log.Printf("attribution: %s: credit of conversions without touchpoints moved from an invented Direct touch to (no touchpoint)", st.ID)
	return nil
}

// pass runs one round of Watch for one site.
func (e *Engine) pass(ctx context.Context, st *site.Site, sweep bool) error {
	if err := e.recordSettings(ctx, st); err != nil {
		return err
	}
	wm := map[string]uint64{}
	changed := map[string]uint64{} // state to write at the end of the pass
	for name, table := range map[string]string{"conversions": "", "sessions": "sessions", "merges": "person_aliases"} {
		v, ok, err := e.store.state(ctx, st.ID, name)
		if err != nil {
			return err
		}
		if !ok && table != "" {
			// First start: history is covered by the sweep and by rebuild, not replayed here.
			if v, err = e.store.maxVersion(ctx, st.ID, table); err != nil {
				return err
			}
			changed[name] = v
		}
		if name == "conversions" {
			// Before the ended-call rank was masked, an ended call set this watermark above
			// every receive time to come; new conversions then waited for the sweep.
			v = event.ReceivedMs(v)
		}
		wm[name] = v
	}
	next := map[string]uint64{}
	todo := map[string]Conversion{} // recomputations: merges, late sessions, the sweep
	now := time.Now()

	// New and changed conversions, credited at once: the stitcher writes a batch's
	// conversions after its sessions and identities, so their journey is there to read.
	// A backlog's are read once: its watermark is kept here.
	b := e.backlogs[st.ID]
	if b == nil {
		b = &backlog{}
		e.backlogs[st.ID] = b
	}
	from := max(wm["conversions"], b.readTo)
	var cs []Conversion
	fctx := chstore.WithPriority(ctx, chstore.PriorityCrediting)
	newer, err := e.store.written(fctx, st.ID, "conversions", receivedMs, from)
	if err == nil && newer {
		cs, err = e.store.conversions(fctx, st.ID, conversionQuery{newerThan: from})
	}
	if err != nil {
		return err
	}
	// The watermark stays below a new conversion for Settle: one received before it can
	// become visible after it (another stitcher's batch) and must still be found.
	waiting, below := false, uint64(0)
	var fresh []Conversion // new conversions credited in this pass
	ahead := e.ahead[st.ID]
	for _, c := range cs {
		first, ok := e.firstSeen[c.ID]
		if !ok {
			first = now
			e.firstSeen[c.ID] = now
		}
		ms := event.ReceivedMs(c.Received)
		if now.Sub(first) < e.Settle {
			if !waiting || ms-1 < below {
				waiting, below = true, ms-1
			}
		} else {
			delete(e.firstSeen, c.ID)
			next["conversions"] = max(next["conversions"], ms)
		}
		if received, ok := ahead[c.ID]; ok && received == c.Received || b.has(c) {
			continue // credited by an earlier pass, or queued
		}
		e.waitFor(st.ID, c.ID, now)
		fresh = append(fresh, c)
	}
	if waiting {
		next["conversions"] = min(max(next["conversions"], from), below)
	}
	fresh = b.split(fresh)
	// The merges and late sessions written so far are found before the new conversions
	// are credited, which then read them: those written later are the next pass's.
	merged, mergesTop, err := e.store.mergesSince(ctx, st.ID, wm["merges"])
	if err != nil {
		return err
	}
	earliest, sessionsTop, err := e.store.newSessions(ctx, st.ID, wm["sessions"])
	if err != nil {
		return err
	}
	next["merges"], next["sessions"] = mergesTop, sessionsTop
	// New conversions first, and ahead of the reports (chstore.PriorityCrediting): with
	// four lifecycle reports asked over and over on two cores, a new sale was credited
	// after 7-24 s, and ahead of them after 2-5 s, while the reports took 30 % longer.
	// Before the conversions of merged people and late sessions are looked up, too: those
	// of an import's thirty thousand new sessions took seconds.
	if len(fresh) > 0 {
		if _, err := e.Weights(ctx, st, liveWeightsAge); err != nil {
			return err
		}
		if err := e.computeAll(fctx, st, fresh); err != nil {
			return err
		}
		if ahead == nil {
			ahead = map[string]uint64{}
			e.ahead[st.ID] = ahead
		}
		for _, c := range fresh {
			ahead[c.ID] = c.Received
		}
	}
	// A recomputation, unless the conversion is queued, or new: written after this pass
	// read the new ones, and never credited, the next pass credits it as new (a backlog's
	// thousands among them, when an import is written meanwhile).
	recompute := func(c Conversion) {
		_, queued := b.queued[c.ID]
		credited, ok := ahead[c.ID]
		if !queued && (event.ReceivedMs(c.Received) <= from || ok && credited == c.Received) {
			todo[c.ID] = c
		}
	}
	if sweep {
		missing, err := e.store.conversions(ctx, st.ID, conversionQuery{uncredited: true})
		if err != nil {
			return err
		}
		e.stillWaiting(st.ID, missing, now, b)
		for _, c := range missing {
			recompute(c)
		}
	}

	// Persons merged since the last pass: all their conversions. The persons are named by
	// the query that found them, not listed: an import's can be tens of thousands, and
	// reading them a list at a time took seconds.
	if merged {
		q, args := e.store.merged(st.ID, wm["merges"])
		cs, err := e.store.conversions(ctx, st.ID, conversionQuery{personsOf: "SELECT current_person_id FROM (" + q + ")", personsOfArgs: args})
		if err != nil {
			return err
		}
		for _, c := range cs {
			recompute(c)
		}
	}

	// Sessions written since the last pass that start before one of the person's conversions.
	if len(earliest) > 0 {
		q, args := e.store.withSessions(st.ID, wm["sessions"])
		cs, err := e.store.conversions(ctx, st.ID, conversionQuery{personsOf: "SELECT person FROM (" + q + ")", personsOfArgs: args})
		if err != nil {
			return err
		}
		lb := lookback(st)
		for _, c := range cs {
			if at := earliest[c.Person]; !at.After(c.At) && c.At.Sub(at) < lb {
				recompute(c)
			}
		}
	}

	for _, c := range fresh {
		if t, ok := todo[c.ID]; ok && t.Person == c.Person {
			delete(todo, c.ID) // credited as new, after the merges and sessions were found
		}
	}
	if len(todo) > 0 || len(b.queued) > 0 {
		// Recomputations (merges, late sessions, the sweep), the data-driven weights'
		// refresh and the backlog go at the reports' pace: a backlog at priority would
		// pause them for minutes.
		if _, err := e.Weights(ctx, st, liveWeightsAge); err != nil {
			return err
		}
		if err := e.computeAll(ctx, st, slices.Collect(maps.Values(todo))); err != nil {
			return err
		}
		for first := true; len(b.queued) > 0 && (first || time.Since(now) < backlogTime); first = false {
			ids := b.next(chunkSize)
			cs, err := e.store.conversions(ctx, st.ID, conversionQuery{ids: ids})
			if err != nil {
				return err
			}
			if err := e.computeAll(ctx, st, cs); err != nil {
				return err
			}
			b.done(ids)
		}
	}
	// The watermark stored stays below the backlog: a restart reads it again.
	readTo := max(from, next["conversions"])
	b.readTo, next["conversions"] = 0, readTo
	if oldest, ok := b.oldest(); ok {
		b.readTo, next["conversions"] = readTo, min(readTo, oldest-1)
	}
	for k, v := range next {
		if v > wm[k] {
			changed[k] = v
		}
	}
	for id, received := range ahead {
		if event.ReceivedMs(received) <= max(from, changed["conversions"]) {
			delete(ahead, id)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return e.store.setState(ctx, st.ID, changed)
}

// computeAll credits cs, in chunks that keep the person and conversion lists of each
// query small.
func (e *Engine) computeAll(ctx context.Context, st *site.Site, cs []Conversion) error {
	sortByPerson(cs)
	for len(cs) > 0 {
		n := min(len(cs), chunkSize)
		for n < len(cs) && cs[n].Person == cs[n-1].Person {
			n++
		}
		if _, err := e.ComputeConversions(ctx, st, cs[:n], true); err != nil {
			return err
		}
		e.credited(st.ID, cs[:n])
		cs = cs[n:]
	}
	return nil
}

// sortByPerson orders conversions as queryConversions does: by person (personOrder), time
// and id. Each person's key is made once, not at each comparison.
func sortByPerson(cs []Conversion) {
	keys := make([]personKey, len(cs))
	for i := range cs {
		keys[i] = keyOf(cs[i].Person)
	}
	sort.Sort(byPerson{cs, keys})
}

// byPerson sorts conversions with their persons' keys.
type byPerson struct {
	cs   []Conversion
	keys []personKey
}

func (b byPerson) Len() int { return len(b.cs) }
func (b byPerson) Less(i, j int) bool {
	x, y := &b.cs[i], &b.cs[j]
	return cmp.Or(b.keys[i].compare(b.keys[j]), x.At.Compare(y.At), strings.Compare(x.ID, y.ID)) < 0
}
func (b byPerson) Swap(i, j int) {
	b.cs[i], b.cs[j] = b.cs[j], b.cs[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}
