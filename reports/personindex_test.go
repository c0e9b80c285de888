package reports

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The person index finds every person put into it, as it grows, and no one else: hashes
// sharing their top bits and hashes put in order included.
func TestPersonIndexFindsEveryone(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 1000, 300_000} {
		seen := map[uint64]bool{}
		var hashes []uint64
		for len(hashes) < n {
			h := rng.Uint64()
			if len(hashes)%3 == 0 {
				h = h>>40<<40 | uint64(len(hashes)%7)
			}
			if !seen[h] {
				seen[h] = true
				hashes = append(hashes, h)
			}
		}
		for _, sorted := range []bool{false, true} {
			if sorted {
				slices.Sort(hashes)
			}
			var x personIndex
			for i, h := range hashes {
				x.put(h, int32(i))
			}
			for i, h := range hashes {
				if got, ok := x.get(h); !ok || got != int32(i) {
					t.Fatalf("%d people: %x at %d %v, want %d", n, h, got, ok, i)
				}
			}
			var absent []uint64
			for k := 0; k < 10_000; k++ {
				if h := rng.Uint64(); !seen[h] {
					if got, ok := x.get(h); ok {
						t.Fatalf("%d people: %x found at %d, not in the index", n, h, got)
					}
					absent = append(absent, h)
				}
			}
			// A batch of them looked up at once, people in runs and absent hashes among them.
			var batch []uint64
			var want []int32
			for k := 0; k < 2000; k++ {
				h, place := absent[k], int32(-1)
				if i := rng.IntN(2*len(hashes) + 1); i < len(hashes) {
					h, place = hashes[i], int32(i)
				}
				for range 1 + rng.IntN(3) {
					batch, want = append(batch, h), append(want, place)
				}
			}
			if got := x.getAll(batch, []int32{}); !slices.Equal(got, want) {
				t.Fatalf("%d people: a batch of %d hashes looked up at the wrong places", n, len(batch))
			}
		}
	}
}
