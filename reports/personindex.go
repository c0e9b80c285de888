package reports

import "math/bits"

// personIndex finds a person's place in the lifecycle's stage times by personHash: an
// open-addressing table. A Go map of a million people took a quarter of the report's Go
// time, its lookups missing the cache twice; a slot here is one read.
type personIndex struct {
	slots []personSlot // a power of two, at most half full
	n     int
}

type personSlot struct {
	h uint64
	i int32 // 1 + the person's place; 0 for an empty slot
}

// slot is where h is, or the empty slot where it goes. The hash is mixed again: hashes
// put in order into a table still growing would otherwise crowd into its first slots.
func (x *personIndex) slot(h uint64) int {
	mask := len(x.slots) - 1
	j := int((h * 0x9e3779b97f4a7c15) >> (64 - bits.Len(uint(mask))))
	for x.slots[j].i != 0 && x.slots[j].h != h {
		j = (j + 1) & mask
	}
	return j
}

// get returns the place of h.
func (x *personIndex) get(h uint64) (int32, bool) {
	if x.n == 0 {
		return 0, false
	}
	s := x.slots[x.slot(h)]
	return s.i - 1, s.i != 0
}

// put sets the place of h, which is not in the index.
func (x *personIndex) put(h uint64, i int32) {
	if 2*(x.n+1) > len(x.slots) {
		old := x.slots
		x.slots = make([]personSlot, max(1<<16, 2*len(old)))
		for _, s := range old {
			if s.i != 0 {
				x.slots[x.slot(s.h)] = s
			}
		}
	}
	x.slots[x.slot(h)] = personSlot{h, i + 1}
	x.n++
}

// getAll appends the place of each of hashes (-1: absent) to places. Looked up in a loop
// of their own rather than one per row read, one lookup's cache miss overlaps the next's:
// the lifecycle's lookups took two fifths of the time. A hash equal to the one before it
// is looked up once: a conversion's touches are read together, as touch_credits is
// sorted by conversion, so under the linear model that is 0.8 million lookups rather
// than 4 million.
func (x *personIndex) getAll(hashes []uint64, places []int32) []int32 {
	var last uint64
	var place int32
	for j, h := range hashes {
		if j == 0 || h != last {
			i, ok := x.get(h)
			if !ok {
				i = -1
			}
			last, place = h, i
		}
		places = append(places, place)
	}
	return places
}
