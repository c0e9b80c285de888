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
