package reports

import (
	"math/rand/v2"
	"testing"
)

// A sum of credits is the same in any order, and exact: a third added three million times,
// and more credit than 64 bits of units hold.
func TestExactSumIsTheSameInAnyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	credits := make([]float64, 10_000)
	for i := range credits {
		credits[i] = []float64{1, 0.5, 1.0 / 3, 0.4, 0.2, 1.0 / 7}[rng.IntN(6)] * rng.Float64()
	}
	var first exactSum
	for _, c := range credits {
		first.add(c)
	}
	for round := 0; round < 20; round++ {
		rng.Shuffle(len(credits), func(i, j int) { credits[i], credits[j] = credits[j], credits[i] })
		var s exactSum
		for _, c := range credits[:len(credits)/2] {
			s.add(c)
		}
		var rest exactSum
		for _, c := range credits[len(credits)/2:] {
			rest.add(c)
		}
		s.plus(rest)
		if s != first {
			t.Fatalf("round %d: %v, first %v", round, s.float(), first.float())
		}
	}
	var third exactSum
	for i := 0; i < 3_000_000; i++ {
		third.add(1.0 / 3)
	}
	if got := credit6(third.float()); got != 1_000_000 {
		t.Fatalf("a third three million times: %v", got)
	}
	var big exactSum
	for i := 0; i < 10_000; i++ {
		big.add(4095) // 10,000 × 4095 × 2^52 units: more than 64 bits hold
	}
	if got := big.float(); got != 40_950_000 {
		t.Fatalf("big sum %v", got)
	}
}
