package engine

import (
	"context"
	"log"
	"sort"
	"time"

	"touchpoint/internal/site"
)

// Watch keeps attributions current until ctx is done. Every interval it computes, per
// site: conversions written since the last pass (new or changed), conversions of persons
// merged since then, and conversions that a late session (one that started before the
// conversion) now precedes. Every minute it also picks up any conversion that still has
// no attribution, so nothing is missed if rows became visible out of order. Progress is
// kept in attribution_state; a changed lookback window rebuilds the site, and credit
// that earlier versions gave to an invented Direct touch is computed again.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) error {
	for _, st := range e.sites.Sites() {
		st := e.sites.Get(st.ID)
		if err := e.checkLookback(ctx, st); err != nil {
			return err
		}
		if err := e.replaceInventedDirect(ctx, st); err != nil {
			return err
		}
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastSweep := time.Time{}
	for {
		sweep := time.Since(lastSweep) > time.Minute
		for _, s := range e.sites.Sites() {
			st := e.sites.Get(s.ID)
			if err := e.pass(ctx, st, sweep); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				log.Printf("attribution: %s: %v", st.ID, err)
			}
		}
		if sweep {
			lastSweep = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
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
		n := min(len(ids), 2000)
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
		wm[name] = v
	}
	next := map[string]uint64{}
	todo := map[string]Conversion{}
	now := time.Now()
	// settling reports a new conversion that waits for Settle; merges and late sessions
	// leave it to its own turn, which reads everything there is then.
	settling := func(c *Conversion) bool {
		first, ok := e.firstSeen[c.ID]
		return ok && now.Sub(first) < e.Settle
	}
	add := func(cs []Conversion) {
		for _, c := range cs {
			if !settling(&c) {
				todo[c.ID] = c
			}
		}
	}

	// New and changed conversions.
	cs, err := e.store.conversions(ctx, st.ID, conversionQuery{newerThan: wm["conversions"]})
	if err != nil {
		return err
	}
	// A new conversion waits until it has been visible for Settle: the stitcher writes a
	// batch's sessions and conversions side by side, so its sessions may land a moment
	// later, and the CRM webhook should carry the whole journey.
	waiting, below := false, uint64(0) // the watermark stays below every waiting conversion
	var fresh []Conversion             // new conversions credited in this pass
	credited := e.credited[st.ID]
	for _, c := range cs {
		if received, ok := credited[c.ID]; ok && received == c.Received {
			next["conversions"] = max(next["conversions"], c.Received)
			continue
		}
		first, ok := e.firstSeen[c.ID]
		if !ok {
			first = now
			e.firstSeen[c.ID] = now
		}
		if now.Sub(first) < e.Settle {
			if !waiting || c.Received-1 < below {
				waiting, below = true, c.Received-1
			}
			continue
		}
		delete(e.firstSeen, c.ID)
		todo[c.ID] = c
		fresh = append(fresh, c)
		next["conversions"] = max(next["conversions"], c.Received)
	}
	if waiting {
		next["conversions"] = min(max(next["conversions"], wm["conversions"]), below)
	}
	if sweep {
		missing, err := e.store.conversions(ctx, st.ID, conversionQuery{uncredited: true})
		if err != nil {
			return err
		}
		for _, c := range missing {
			if !settling(&c) {
				delete(e.firstSeen, c.ID)
				todo[c.ID] = c
			}
		}
	}

	// Persons merged since the last pass: all their conversions.
	merged, top, err := e.store.mergedPersons(ctx, st.ID, wm["merges"])
	if err != nil {
		return err
	}
	next["merges"] = top
	if len(merged) > 0 {
		cs, err := e.store.conversions(ctx, st.ID, conversionQuery{persons: merged})
		if err != nil {
			return err
		}
		add(cs)
	}

	// Sessions written since the last pass that start before one of the person's conversions.
	earliest, top, err := e.store.newSessions(ctx, st.ID, wm["sessions"])
	if err != nil {
		return err
	}
	next["sessions"] = top
	if len(earliest) > 0 {
		persons := make([]string, 0, len(earliest))
		for p := range earliest {
			persons = append(persons, p)
		}
		cs, err := e.store.conversions(ctx, st.ID, conversionQuery{persons: persons})
		if err != nil {
			return err
		}
		lb := lookback(st)
		for _, c := range cs {
			if at := earliest[c.Person]; !at.After(c.At) && c.At.Sub(at) < lb && !settling(&c) {
				todo[c.ID] = c
			}
		}
	}

	if len(todo) > 0 {
		list := make([]Conversion, 0, len(todo))
		for _, c := range todo {
			list = append(list, c)
		}
		sortByPerson(list)
		// Chunks keep the person and conversion lists of each query small.
		for len(list) > 0 {
			n := min(len(list), 2000)
			for n < len(list) && list[n].Person == list[n-1].Person {
				n++
			}
			if _, err := e.ComputeConversions(ctx, st, list[:n], true); err != nil {
				return err
			}
			list = list[n:]
		}
	}
	if credited == nil && len(fresh) > 0 {
		credited = map[string]uint64{}
		e.credited[st.ID] = credited
	}
	for _, c := range fresh {
		credited[c.ID] = c.Received
	}
	for k, v := range next {
		if v > wm[k] {
			changed[k] = v
		}
	}
	for id, received := range credited {
		if received <= max(wm["conversions"], changed["conversions"]) {
			delete(credited, id)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return e.store.setState(ctx, st.ID, changed)
}

func sortByPerson(cs []Conversion) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Person != cs[j].Person {
			return cs[i].Person < cs[j].Person
		}
		if !cs[i].At.Equal(cs[j].At) {
			return cs[i].At.Before(cs[j].At)
		}
		return cs[i].ID < cs[j].ID
	})
}
