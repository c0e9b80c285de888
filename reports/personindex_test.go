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
			for k := 0; k < 10_000; k++ {
				if h := rng.Uint64(); !seen[h] {
					if got, ok := x.get(h); ok {
						t.Fatalf("%d people: %x found at %d, not in the index", n, h, got)
					}
				}
			}
		}
	}
}
