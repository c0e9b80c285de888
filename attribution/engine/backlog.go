package engine

import (
	"cmp"
	"slices"
	"time"

	"touchpoint/internal/event"
)

// A pass that finds more new conversions than chunkSize (an import, a first start over a
// site's history, ClickHouse back after an outage) credits at once the liveFirst that
// occurred last, and queues the others in a backlog, which every pass works on for about
// backlogTime, a chunk at least. Credited in one pass, the million conversions of a first
// start took half an hour, and every sale made meanwhile waited for them; read again at
// every pass, they took 10 s of each. Variables for tests.
var (
	chunkSize   = 2000 // about how many conversions are credited at a time (see computeAll)
	liveFirst   = 200
	backlogTime = 2 * time.Second
)

// backlog is a site's queue of new conversions waiting for credit, oldest received first.
// It holds their ids: each chunk is read again when its turn comes, so that it is credited
// as it is then (its person merged, its row replaced or erased meanwhile). The watermark
// stored stays below the first of them, so that a restart reads them again; readTo is the
// receive time up to which new conversions were read, and are either credited or queued.
type backlog struct {
	ids    []queued
	queued map[string]uint64 // by id, the receive time of the row queued last
	readTo uint64
}

type queued struct {
	id       string
	received uint64
}

// split returns the new conversions to credit at once: all of them, or when there are more
// than chunkSize or a backlog waits, the liveFirst that occurred last; it queues the others.
func (b *backlog) split(cs []Conversion) []Conversion {
	if len(cs) <= chunkSize && len(b.queued) == 0 {
		return cs
	}
	slices.SortFunc(cs, func(x, y Conversion) int { return y.At.Compare(x.At) })
	k := min(liveFirst, len(cs))
	later := make([]queued, 0, len(cs)-k)
	for _, c := range cs[k:] {
		later = append(later, queued{c.ID, c.Received})
	}
	slices.SortStableFunc(later, byReceived)
	if b.queued == nil {
		b.queued = map[string]uint64{}
	}
	for _, c := range cs[:k] {
		delete(b.queued, c.ID) // an older row queued
	}
	sorted := len(b.ids) == 0 || len(later) == 0 || byReceived(later[0], b.ids[len(b.ids)-1]) >= 0
	for _, q := range later {
		b.queued[q.id] = q.received
	}
	b.ids = append(b.ids, later...)
	if !sorted {
		slices.SortStableFunc(b.ids, byReceived)
	}
	return cs[:k:k]
}

func byReceived(x, y queued) int {
	return cmp.Compare(event.ReceivedMs(x.received), event.ReceivedMs(y.received))
}

// has reports whether c, this very row, is queued.
func (b *backlog) has(c Conversion) bool { return b.current(queued{c.ID, c.Received}) }

// current reports whether the queue's entry q is still queued.
func (b *backlog) current(q queued) bool {
	r, ok := b.queued[q.id]
	return ok && r == q.received
}

// next returns the ids of the first n conversions queued; they stay queued until done.
func (b *backlog) next(n int) []string {
	var out []string
	for i := 0; i < len(b.ids) && len(out) < n; i++ {
		if b.current(b.ids[i]) {
			out = append(out, b.ids[i].id)
		}
	}
	return out
}

// done takes credited conversions out of the queue.
func (b *backlog) done(ids []string) {
	for _, id := range ids {
		delete(b.queued, id)
	}
	b.trim()
}

// trim drops the entries at the head of the queue that are no longer queued.
func (b *backlog) trim() {
	for len(b.ids) > 0 && !b.current(b.ids[0]) {
		b.ids = b.ids[1:]
	}
	if len(b.ids) == 0 {
		b.ids = nil // let the array go
	}
}

// oldest returns the receive time of the first conversion queued.
func (b *backlog) oldest() (uint64, bool) {
	b.trim()
	if len(b.ids) == 0 {
		return 0, false
	}
	return event.ReceivedMs(b.ids[0].received), true
}
