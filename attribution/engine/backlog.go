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
// The watermark stored stays below the first of them, so that a restart reads them again;
// readTo is the receive time up to which new conversions were read, and are either
// credited or queued.
type backlog struct {
	cs     []Conversion
	queued map[string]uint64 // received time of the queued copy, by id: a newer copy replaces it
	readTo uint64
}

// split returns the new conversions to credit at once: all of them, or when there are more
// than chunkSize or a backlog waits, the liveFirst that occurred last; it queues the others.
func (b *backlog) split(cs []Conversion) []Conversion {
	if len(cs) <= chunkSize && len(b.queued) == 0 {
		return cs
	}
	slices.SortFunc(cs, func(x, y Conversion) int { return y.At.Compare(x.At) })
	k := min(liveFirst, len(cs))
	later := slices.Clone(cs[k:])
	slices.SortStableFunc(later, byReceived)
	if b.queued == nil {
		b.queued = map[string]uint64{}
	}
	sorted := len(b.cs) == 0 || len(later) == 0 || byReceived(later[0], b.cs[len(b.cs)-1]) >= 0
	for _, c := range later {
		b.queued[c.ID] = c.Received
	}
	for _, c := range cs[:k] {
		b.drop(c.ID) // an older copy queued
	}
	b.cs = append(b.cs, later...)
	if !sorted {
		slices.SortStableFunc(b.cs, byReceived)
	}
	return cs[:k:k]
}

func byReceived(x, y Conversion) int {
	return cmp.Compare(event.ReceivedMs(x.Received), event.ReceivedMs(y.Received))
}

// has reports whether c, this very copy, is queued.
func (b *backlog) has(c Conversion) bool {
	r, ok := b.queued[c.ID]
	return ok && r == c.Received
}

// drop takes conversion id out of the queue: a newer copy, or a recomputation, credits it.
func (b *backlog) drop(id string) { delete(b.queued, id) }

// next returns the first n conversions queued; they stay queued until done.
func (b *backlog) next(n int) []Conversion {
	var out []Conversion
	for i := 0; i < len(b.cs) && len(out) < n; i++ {
		if b.has(b.cs[i]) {
			out = append(out, b.cs[i])
		}
	}
	return out
}

// done takes credited conversions out of the queue.
func (b *backlog) done(cs []Conversion) {
	for _, c := range cs {
		if b.has(c) {
			delete(b.queued, c.ID)
		}
	}
	b.trim()
}

// trim drops the conversions at the head of the queue that are no longer queued.
func (b *backlog) trim() {
	for len(b.cs) > 0 && !b.has(b.cs[0]) {
		b.cs = b.cs[1:]
	}
	if len(b.cs) == 0 {
		b.cs = nil // let the array go
	}
}

// oldest returns the receive time of the first conversion queued.
func (b *backlog) oldest() (uint64, bool) {
	b.trim()
	if len(b.cs) == 0 {
		return 0, false
	}
	return event.ReceivedMs(b.cs[0].Received), true
}
