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

// A person enters the funnel with their leads, each lead's credited touches summed per
// key, and counts under the keys of the earliest; without any lead, with the first later
// stage they reached. Touches arrive in any order.
func TestEntrantsSumEachConversionsTouchesPerKey(t *testing.T) {
	day := func(d int) int64 { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC).Unix() }
	lead := func(conv uint64, key string, credit float64, at int64) entry {
		return entry{hash: 7, conv: conv, key: key, lead: true, credit: credit, at: at}
	}
	stage := func(conv uint64, key string, credit float64, at int64) entry {
		return entry{hash: 7, conv: conv, key: key, credit: credit, at: at}
	}
	type credits map[string]float64
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		name          string
		rows          []entry
		t             []int64 // when the person first reached each stage, lead first (0: not reached)
		at            int64   // of the first entry, 0 for none
		first, others credits
	}{
		{"two leads, touches under a key summed",
			[]entry{lead(2, "google", 0.25, day(5)), lead(1, "email", 0.5, day(2)), stage(3, "google", 1, day(9)),
				lead(2, "email", 0.5, day(5)), lead(1, "google", 0.25, day(2)), lead(2, "google", 0.25, day(5)), lead(1, "google", 0.25, day(2))},
			[]int64{day(2), day(9)}, day(2), credits{"email": 0.5, "google": 0.5}, credits{"email": 0.5, "google": 0.5}},
		{"two leads at once: the lower conversion hash first",
			[]entry{lead(9, "google", 1, day(2)), lead(4, "email", 1, day(2))},
			[]int64{day(2)}, day(2), credits{"email": 1}, credits{"google": 1}},
		{"no lead ever: the first later stage",
			[]entry{stage(4, "email", 1, day(12)), stage(3, "google", 0.5, day(9)), stage(3, "google", 0.5, day(9))},
			[]int64{0, day(9), day(12)}, day(9), credits{"google": 1}, credits{}},
		{"a lead before the range: nothing in it enters",
			[]entry{stage(3, "google", 1, day(9))},
			[]int64{day(1), day(9)}, 0, credits{}, credits{}},
		{"a person without stage times: nothing enters",
			[]entry{{hash: 8, conv: 1, key: "email", lead: true, credit: 1, at: day(2)}},
			[]int64{day(2)}, 0, credits{}, credits{}},
	} {
		for round := 0; round < 5; round++ {
			times := &stageTimes{people: []personTimes{{"p", c.t}}}
			times.index.put(7, 0)
			x := newEntrants(times, len(c.t))
			for _, i := range rng.Perm(len(c.rows)) {
				x.add(c.rows[i])
			}
			first, others := credits{}, credits{}
			f := x.first[0]
			for i := f.head; i >= 0; i = x.credits[i].next {
				first[x.keys[x.credits[i].key]] += x.credits[i].credit.float()
			}
			for k, v := range x.others {
				if v != (exactSum{}) {
					others[x.keys[k]] = v.float()
				}
			}
			if f.at != c.at || !reflect.DeepEqual(first, c.first) || !reflect.DeepEqual(others, c.others) {
				t.Fatalf("%s: first at %d %v, others %v; want at %d %v, others %v", c.name, f.at, first, others, c.at, c.first, c.others)
			}
		}
	}
}
