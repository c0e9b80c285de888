package engine

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// A block goes to ClickHouse in the table's key order (site, model, conversion, session)
// whatever order the computation made its rows in, every row exactly once, rows with
// equal keys in the order they were made.
func TestBlocksAreWrittenInKeyOrder(t *testing.T) {
	w := (&store{}).newWriter(1 << 20)
	rnd := rand.New(rand.NewPCG(1, 2))
	models := []string{"linear", "first_click", "data_driven", "position_based", "last_click"}
	n := 0
	for i := range 300 {
		c := &Conversion{ID: fmt.Sprintf("c%03d", rnd.IntN(1000)), At: t0}
		site := []string{"b", "a"}[i%2]
		for _, m := range models {
			for range rnd.IntN(4) {
				s := &Session{ID: fmt.Sprintf("s%d", rnd.IntN(5)), At: t0}
				if err := w.row(context.Background(), site, c, m, s, float64(n), 0, t0, 1); err != nil {
					t.Fatal(err)
				}
				n++
			}
		}
	}
	r := w.open[t0.UTC().Year()*12+int(t0.UTC().Month())]
	if len(w.open) != 1 || r == nil {
		t.Fatalf("%d blocks open, want 1 for the month of t0", len(w.open))
	}
	order, _ := r.keyOrder(nil, nil)
	if len(order) != n {
		t.Fatalf("order has %d rows, want %d", len(order), n)
	}
	seen := make([]bool, n)
	for _, i := range order {
		if seen[i] {
			t.Fatalf("row %d taken twice", i)
		}
		seen[i] = true
	}
	key := func(i int32) string {
		return strings.Join([]string{r.site[i], r.model[i], r.convID[i], r.session[i]}, "\x00")
	}
	if !slices.IsSortedFunc(order, func(a, b int32) int {
		// The credit is the row's number: equal keys must keep their order.
		return cmp.Or(strings.Compare(key(a), key(b)), cmp.Compare(r.credit[a], r.credit[b]))
	}) {
		t.Fatal("rows are not in key order")
	}
}
