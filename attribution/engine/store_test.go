package engine

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"touchpoint/attribution/model"
)

// Rows in the engine's shape (a conversion's rows together, model after model, then rows
// of lost credit) leave sortInto in the order of the attributions table's sorting key, each
// once and whole; rows in any other order are all kept too.
func TestSortIntoOrdersRowsByTheSortingKey(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	engineShape := &attrRows{}
	for c, id := range r.Perm(300) {
		conv := &Conversion{ID: fmt.Sprintf("c%d", id), Type: "lead", At: t0, Person: fmt.Sprintf("p%d", c)}
		site := []string{"s2", "s1"}[c%2]
		touches := 1 + r.Intn(5)
		for _, m := range model.Models {
			for i := range touches {
				appendRow(engineShape, site, conv, m, fmt.Sprintf("t%d", (i*7+c)%touches), float64(i))
			}
		}
		appendRow(engineShape, site, conv, model.Linear, "lost", 0)
	}
	out := &attrRows{}
	engineShape.sortInto(out)
	got, want := rowStrings(out), rowStrings(engineShape)
	if !slices.IsSorted(got) {
		t.Fatal("rows not in sorting-key order")
	}
	if !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("sortInto changed the rows: %d rows out of %d", len(got), len(want))
	}

	// Any other order: every row still once, whole.
	shuffled := &attrRows{}
	for _, i := range r.Perm(engineShape.len()) {
		appendRow(shuffled, engineShape.site[i], &Conversion{ID: engineShape.convID[i], Type: "lead", At: t0, Person: engineShape.person[i]},
			engineShape.model[i], engineShape.session[i], engineShape.credit[i])
	}
	shuffled.sortInto(out)
	if got := rowStrings(out); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("sortInto changed shuffled rows: %d rows out of %d", len(got), len(want))
	}
}

func appendRow(r *attrRows, site string, c *Conversion, m, session string, credit float64) {
	w := &writer{max: 1 << 30, open: map[int]*attrRows{}}
	w.open[c.At.Year()*12+int(c.At.Month())] = r
	if err := w.row(context.Background(), site, c, m, &Session{ID: session, At: t0.Add(-time.Hour)}, credit, 0, t0, 1); err != nil {
		panic(err)
	}
}

// rowStrings renders each row with its sorting key first, so sorted renderings mean
// sorted rows.
func rowStrings(r *attrRows) []string {
	out := make([]string, r.len())
	for i := range out {
		out[i] = strings.Join([]string{r.site[i], r.model[i], r.convID[i], r.session[i],
			r.person[i], fmt.Sprint(r.credit[i], r.revenue[i], r.occurredAt[i].Unix(), r.version[i])}, "\x00")
	}
	return out
}
