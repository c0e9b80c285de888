package reports

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"touchpoint/internal/site"
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
				x.add([]entry{c.rows[i]})
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

// Touches are counted, and stage times kept, a batch at a time: the same as one at a time,
// people's rows within a batch and across batches alike.
func TestBatchesCountAsRowsOneByOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const people, stages = 40, 3
	var rows []timeRow
	for range 5 * rowBatch {
		p, stage := rng.Uint64N(people), 1+rng.Uint64N(stages)
		if p >= people-10 {
			stage = 2 + rng.Uint64N(stages-1) // without a lead, these enter with a later stage
		}
		rows = append(rows, timeRow{hash: 1000 + p, stage: stage, person: fmt.Sprint("p", p), at: 1 + rng.Int64N(100)})
	}
	earliest := map[string][]int64{}
	for _, r := range rows {
		t := earliest[r.person]
		if t == nil {
			t = make([]int64, stages)
			earliest[r.person] = t
		}
		if t[r.stage-1] == 0 || r.at < t[r.stage-1] {
			t[r.stage-1] = r.at
		}
	}
	times := &stageTimes{stages: stages}
	for _, r := range rows {
		times.add(r)
	}
	times.flush()
	got := map[string][]int64{}
	for _, p := range times.people {
		got[p.person] = p.t
	}
	if !reflect.DeepEqual(got, earliest) {
		t.Fatalf("stage times %v, want the earliest of each person and stage %v", got, earliest)
	}
	for _, r := range rows {
		if i, ok := times.index.get(r.hash); !ok || times.people[i].person != r.person {
			t.Fatalf("%s not found by their hash", r.person)
		}
	}

	var touches []entry
	for c := range uint64(3 * rowBatch) { // a conversion's touches together, as they are read
		p := 1000 + rng.Uint64N(people+5) // some without stage times
		for range 1 + rng.IntN(4) {
			touches = append(touches, entry{hash: p, conv: c, key: fmt.Sprint("k", rng.IntN(6)), lead: rng.IntN(4) > 0,
				credit: float64(rng.IntN(8)) / 8, at: 1 + rng.Int64N(100)})
		}
	}
	batched, single := newEntrants(times, stages), newEntrants(times, stages)
	batched.add(touches)
	for _, e := range touches {
		single.add([]entry{e})
	}
	if !reflect.DeepEqual(batched.first, single.first) || !reflect.DeepEqual(batched.credits, single.credits) ||
		!reflect.DeepEqual(batched.others, single.others) || !reflect.DeepEqual(batched.keys, single.keys) {
		t.Fatal("touches counted in batches differ from touches counted one by one")
	}
	var entered int
	for _, f := range batched.first {
		if f.head >= 0 {
			entered++
		}
	}
	if entered == 0 || entered == people {
		t.Fatalf("%d of %d people entered: the case tests too little", entered, people)
	}
}

// The lifecycle's answer does not depend on how its entries are batched: all in one
// batch, or a few at a time, read before the stage times or after them.
func TestLifecycleIsTheSameInAnyBatchSize(t *testing.T) {
	store, _ := exploreData(t)
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) // leads before Oct 2 are stalled
	defer func(n int) { rowBatch = n }(rowBatch)
	for _, q := range []string{"from=2026-09-21&to=2026-10-12&model=linear&by=source", "from=2026-09-28&to=2026-10-12&by=campaign"} {
		var want *Lifecycle
		for _, n := range []int{4096, 1, 7} {
			rowBatch = n
			got, err := store.Lifecycle(context.Background(), params(t, q), site.Lifecycle{}, now)
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = got
			} else if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: batches of %d give %+v, one batch %+v", q, n, got.Totals, want.Totals)
			}
		}
		if want.Totals.Counts["lead"] == 0 || want.StalledTotal == 0 {
			t.Fatalf("%s: %v leads, %d stalled: the case tests too little", q, want.Totals.Counts["lead"], want.StalledTotal)
		}
	}
}
