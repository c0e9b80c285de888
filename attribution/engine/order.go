package engine

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"touchpoint/attribution/model"
)

// ClickHouse sorts every inserted block by the table's key (site, model, conversion,
// session). Rows come out of the computation conversion by conversion, and sorting them
// there cost about a third of the insert (measured on 23M rows); a block sent in key
// order is written that much cheaper. The order is only a saving: a block out of order is
// still sorted by ClickHouse.

// modelOrder lists the model names in the key's (byte) order.
var modelOrder = func() []string {
	m := slices.Clone(model.Models)
	slices.Sort(m)
	return m
}()

// modelRank is a model's place in modelOrder. Names not in it (rows of a model no longer
// computed, written again as removed) come after: such a block is sorted by ClickHouse.
func modelRank(m string) uint8 {
	for i, n := range modelOrder {
		if n == m {
			return uint8(i)
		}
	}
	return uint8(len(modelOrder))
}

// span is the rows [start, end) of one conversion in a block.
type span struct{ start, end int32 }

// keyOrder appends to order the indexes of r's rows in key order. The rows of a
// conversion are contiguous, so sorting a block's few thousand conversions and then taking
// each model's rows conversion by conversion costs a fraction of sorting the rows. Rows
// with equal keys keep their order, as ClickHouse's own (stable) sort would.
func (r *attrRows) keyOrder(order []int32, spans []span) ([]int32, []span) {
	n := int32(r.len())
	spans = spans[:0]
	for i := int32(0); i < n; {
		j := i + 1
		for j < n && r.convID[j] == r.convID[i] && r.site[j] == r.site[i] {
			j++
		}
		spans = append(spans, span{i, j})
		i = j
	}
	slices.SortStableFunc(spans, func(a, b span) int {
		return cmp.Or(strings.Compare(r.site[a.start], r.site[b.start]), strings.Compare(r.convID[a.start], r.convID[b.start]))
	})
	order = order[:0]
	for g := 0; g < len(spans); { // the conversions of one site
		ge := g + 1
		for ge < len(spans) && r.site[spans[ge].start] == r.site[spans[g].start] {
			ge++
		}
		for rank := range uint8(len(modelOrder) + 1) {
			for c := g; c < ge; { // the rows of one conversion, in one span or more
				ce := c + 1
				for ce < ge && r.convID[spans[ce].start] == r.convID[spans[c].start] {
					ce++
				}
				from := len(order)
				for _, sp := range spans[c:ce] {
					for i := sp.start; i < sp.end; i++ {
						if r.rank[i] == rank {
							order = append(order, i)
						}
					}
				}
				// A conversion has a handful of touches per model: insertion sort by session.
				for k := from + 1; k < len(order); k++ {
					for m := k; m > from && r.session[order[m]] < r.session[order[m-1]]; m-- {
						order[m], order[m-1] = order[m-1], order[m]
					}
				}
				c = ce
			}
		}
		g = ge
	}
	return order, spans
}

// sortBufs are one lane's buffers for writing blocks in key order.
type sortBufs struct {
	order  []int32
	spans  []span
	strs   []string
	times  []time.Time
	floats []float64
	bytes  []uint8
	uints  []uint64
}

// permuted returns col (one of attrRows' columns) in the given order, in a buffer that
// the next call reuses: the batch copies what it is given.
func (b *sortBufs) permuted(col any, order []int32) any {
	switch c := col.(type) {
	case []string:
		b.strs = permute(b.strs, c, order)
		return b.strs
	case []time.Time:
		b.times = permute(b.times, c, order)
		return b.times
	case []float64:
		b.floats = permute(b.floats, c, order)
		return b.floats
	case []uint8:
		b.bytes = permute(b.bytes, c, order)
		return b.bytes
	case []uint64:
		b.uints = permute(b.uints, c, order)
		return b.uints
	}
	return col
}

func permute[T any](dst, src []T, order []int32) []T {
	dst = dst[:0]
	for _, i := range order {
		dst = append(dst, src[i])
	}
	return dst
}
