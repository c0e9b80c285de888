package engine

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// The journeys' rows come out sorted by person, then number, however many there are and
// however they share the persons' top bytes: persons with one row, with many rows (more
// than a bucket sorted at once), persons whose hashes differ in their last byte only, and
// rows repeated (a session's versions).
func TestPathRowsSortByPersonThenNumber(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 16, 17, 300, 100_000} {
		var rows []pathRow
		for len(rows) < n {
			person := rnd.Uint64()
			switch rnd.IntN(4) {
			case 0: // a neighbour of an earlier person: the same top seven bytes
				if len(rows) > 0 {
					person = rows[rnd.IntN(len(rows))].person&^0xff | uint64(rnd.IntN(256))
				}
			case 1: // a small hash: leading zero bytes
				person >>= 40
			}
			for range 1 + rnd.IntN(3) + rnd.IntN(2)*rnd.IntN(60) {
				r := pathRow{person, rnd.Uint64N(1000)}
				rows = append(rows, r)
				if rnd.IntN(5) == 0 {
					rows = append(rows, r)
				}
			}
		}
		rows = rows[:n]
		rnd.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		want := slices.Clone(rows)
		slices.SortFunc(want, func(a, b pathRow) int { return cmp.Or(cmp.Compare(a.person, b.person), cmp.Compare(a.key, b.key)) })
		sortPaths(rows)
		if !slices.Equal(rows, want) {
			t.Fatalf("%d rows sorted wrongly", n)
		}
	}
}
