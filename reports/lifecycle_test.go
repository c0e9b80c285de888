package reports

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The lifecycle report lists the people stalled longest, in order, and counts them all;
// people stalled since the same time are listed by id.
func TestStalledPeopleKeepsTheLongestStalled(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{0, 1, MaxStalledPeople, 5 * MaxStalledPeople} {
		var s stalledPeople
		var all []StalledPerson
		for i := 0; i < n; i++ {
			p := StalledPerson{PersonID: fmt.Sprintf("p%04d", rng.IntN(10000)), Since: start.Add(time.Duration(rng.IntN(300)) * time.Hour)}
			s.add(p)
			all = append(all, p)
		}
		slices.SortFunc(all, stalledFirst)
		want := append([]StalledPerson{}, all[:min(n, MaxStalledPeople)]...)
		if got := s.longest(); s.total != n || !reflect.DeepEqual(got, want) {
			t.Fatalf("%d stalled: total %d, kept %d, want the %d stalled longest in order", n, s.total, len(got), len(want))
		}
	}
}

// A person enters the funnel with their leads, earliest first, each lead's credited
// touches summed per key; without any lead, with the first later stage they reached.
func TestEnteringSumsEachConversionsTouchesPerKey(t *testing.T) {
	day := func(d int) int64 { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC).Unix() }
	lead := func(conv uint64, key string, credit float64, at int64) entry {
		return entry{hash: 1, conv: conv, key: key, lead: true, credit: credit, at: at}
	}
	stage := func(conv uint64, key string, credit float64, at int64) entry {
		return entry{hash: 1, conv: conv, key: key, credit: credit, at: at}
	}
	for _, c := range []struct {
		name string
		rows []entry
		t    []int64 // when the person first reached each stage, lead first (0: not reached)
		want []entry
	}{
		{"two leads, touches under a key summed",
			[]entry{lead(2, "google", 0.25, day(5)), lead(1, "email", 0.5, day(2)), stage(3, "google", 1, day(9)),
				lead(2, "email", 0.5, day(5)), lead(1, "google", 0.25, day(2)), lead(2, "google", 0.25, day(5)), lead(1, "google", 0.25, day(2))},
			[]int64{day(2), day(9)},
			[]entry{lead(1, "email", 0.5, day(2)), lead(1, "google", 0.5, day(2)), lead(2, "email", 0.5, day(5)), lead(2, "google", 0.5, day(5))}},
		{"no lead ever: the first later stage",
			[]entry{stage(4, "email", 1, day(12)), stage(3, "google", 0.5, day(9)), stage(3, "google", 0.5, day(9))},
			[]int64{0, day(9), day(12)},
			[]entry{stage(3, "google", 1, day(9))}},
		{"a lead before the range: nothing in it enters",
			[]entry{stage(3, "google", 1, day(9))},
			[]int64{day(1), day(9)},
			[]entry{}},
	} {
		got := entering(slices.Clone(c.rows), c.t)
		if !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("%s: entering %v\n got %v\nwant %v", c.name, c.rows, got, c.want)
		}
		// It runs for every person of the report: it keeps the entries in the rows read.
		rows := slices.Clone(c.rows)
		if n := testing.AllocsPerRun(10, func() { copy(rows, c.rows); entering(rows, c.t) }); n != 0 {
			t.Errorf("%s: entering allocates %v times a person", c.name, n)
		}
	}
}
