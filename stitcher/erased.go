package stitcher

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"touchpoint/internal/event"
	"touchpoint/privacy"
)

var erasedDropped = promauto.NewCounter(prometheus.CounterOpts{
	Name: "tp_stitcher_erased_events_dropped_total",
	Help: "Events dropped because their person was erased after the collector received them.",
})

// erasedCheckEvery is how often the stitcher looks for new erasures. An erasure waits
// longer than this before it looks for late rows (privacy.Service.Grace).
const erasedCheckEvery = time.Second

// erasures are the identifiers of erased persons (erased_identifiers), per site: each
// id_sha256 with the time of its erasure in epoch milliseconds.
type erasures struct {
	checked time.Time
	rows    uint64 // rows of erased_identifiers when last read
	bySite  map[string]map[string]int64
	latest  map[string]int64 // per site, the latest erasure: events received after it are not looked up
}

// withoutErased drops the events of erased persons that the collector received before
// the erasure: events still on Kafka or in a collector's spool would bring the person
// back. Events received after it are new data. When new erasures appear, the visitor
// states and the person cache are forgotten, so nothing of an erased person is carried
// into later rows from memory.
func (st *Stitcher) withoutErased(ctx context.Context, ins []incoming) ([]incoming, error) {
	if err := st.refreshErasures(ctx); err != nil {
		return nil, err
	}
	if len(st.erased.bySite) == 0 {
		return ins, nil
	}
	var out []incoming // a new slice, only when some are dropped: ins may be written again
	for i := range ins {
		if !st.isErased(&ins[i]) {
			if out != nil {
				out = append(out, ins[i])
			}
			continue
		}
		erasedDropped.Inc()
		if out == nil {
			out = make([]incoming, i, len(ins))
			copy(out, ins[:i])
		}
	}
	if out == nil {
		return ins, nil
	}
	return out, nil
}

func (st *Stitcher) isErased(in *incoming) bool {
	ids := st.erased.bySite[in.e.Site]
	if len(ids) == 0 || in.e.ReceivedAt >= st.erased.latest[in.e.Site]+1000 {
		return false // live traffic of a site erased from in the past costs no hashing
	}
	check := func(kind byte, v string) bool {
		at, ok := ids[privacy.IDSHA256(in.e.Site, kind, v)]
		// erased_at has whole seconds: the erasure's own second counts as before it.
		return ok && in.e.ReceivedAt < at+1000
	}
	return in.e.VID != "" && check('v', in.e.VID) ||
		emailHash(in.e.Traits) != "" && check('e', emailHash(in.e.Traits)) ||
		in.e.Traits[event.TraitUserID] != "" && check('u', in.e.Traits[event.TraitUserID])
}

// refreshErasures reads erased_identifiers again when it changed, at most once a second.
func (st *Stitcher) refreshErasures(ctx context.Context) error {
	if time.Since(st.erased.checked) < erasedCheckEvery {
		return nil
	}
	n, err := st.store.erasedCount(ctx)
	if err != nil {
		return err
	}
	if n == st.erased.rows && st.erased.bySite != nil {
		st.erased.checked = time.Now()
		return nil
	}
	by, err := st.store.erased(ctx)
	if err != nil {
		return err
	}
	if st.erased.bySite != nil {
		log.Printf("stitcher: erased identifiers changed (%d rows): forgetting visitor states and persons", n)
		st.states.forgetAll()
		st.persons = map[personKey]string{}
	}
	latest := map[string]int64{}
	for site, ids := range by {
		for _, at := range ids {
			latest[site] = max(latest[site], at)
		}
	}
	st.erased = erasures{checked: time.Now(), rows: n, bySite: by, latest: latest}
	return nil
}

func (c *clickHouse) erasedCount(ctx context.Context) (uint64, error) {
	var n uint64
	if err := c.conn.QueryRow(ctx, "SELECT count() FROM "+c.db+".erased_identifiers").Scan(&n); err != nil {
		return 0, fmt.Errorf("cannot read erased identifiers: %w", err)
	}
	return n, nil
}

func (c *clickHouse) erased(ctx context.Context) (map[string]map[string]int64, error) {
	rows, err := c.conn.Query(ctx, "SELECT site_id, id_sha256, max(erased_at) FROM "+c.db+".erased_identifiers GROUP BY site_id, id_sha256")
	if err != nil {
		return nil, fmt.Errorf("cannot read erased identifiers: %w", err)
	}
	defer rows.Close()
	by := map[string]map[string]int64{}
	for rows.Next() {
		var site, id string
		var at time.Time
		if err := rows.Scan(&site, &id, &at); err != nil {
			return nil, fmt.Errorf("cannot read erased identifiers: %w", err)
		}
		if by[site] == nil {
			by[site] = map[string]int64{}
		}
		by[site][id] = at.UnixMilli()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read erased identifiers: %w", err)
	}
	return by, nil
}
