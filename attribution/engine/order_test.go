package engine

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"touchpoint/attribution/model"
	"touchpoint/internal/testenv"
)

// A block goes to ClickHouse in the table's key order (conversion, session within the
// site) whatever order the computation made its rows in, every row exactly once,
// rows with equal keys in the order they were made.
func TestBlocksAreWrittenInKeyOrder(t *testing.T) {
	w := (&store{}).newWriter(1<<20, "s1", t0, 1)
	rnd := rand.New(rand.NewPCG(1, 2))
	convs := map[string]*Conversion{}
	n := 0
	for range 300 {
		// Some conversion ids come back later, as separate spans of the block.
		id := fmt.Sprintf("c%03d", rnd.IntN(400))
		if convs[id] == nil || rnd.IntN(2) == 0 {
			convs[id] = &Conversion{ID: id, At: t0}
		}
		for range rnd.IntN(8) {
			s := &Session{ID: fmt.Sprintf("s%d", rnd.IntN(5)), At: t0}
			if err := w.row(context.Background(), convs[id], s, &modelCredits{float64(n)}, 0); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	rows := w.open[t0.UTC().Year()*12+int(t0.UTC().Month())]
	if len(w.open) != 1 || len(rows) != n {
		t.Fatalf("%d blocks open, want 1 with all %d rows", len(w.open), n)
	}
	order, _ := keyOrder(rows, nil, nil)
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
		r := &rows[i]
		return r.conv.ID + "\x00" + r.touch.ID
	}
	if !slices.IsSortedFunc(order, func(a, b int32) int {
		// The first credit is the row's number: equal keys must keep their order.
		return cmp.Or(strings.Compare(key(a), key(b)), cmp.Compare(rows[a].credits[0], rows[b].credits[0]))
	}) {
		t.Fatal("rows are not in key order")
	}
}

// A row has a credit for every model, in the order of model.Models and of the table's
// credit columns.
func TestRowsHoldEveryModel(t *testing.T) {
	if len(modelCredits{}) != len(model.Models) {
		t.Fatalf("a row holds %d credits for %d models", len(modelCredits{}), len(model.Models))
	}
	for i, m := range model.Models {
		if !strings.Contains(creditCols, model.CreditColumn(m)) || strings.Index(creditCols, model.CreditColumn(m)) < strings.Index(creditCols, "credit_"+model.Models[max(i-1, 0)]) {
			t.Fatalf("credit columns %q out of the models' order at %s", creditCols, m)
		}
	}
}

// The engine orders persons by the hash ClickHouse sorts the sessions by: the two must
// agree on every id, or a person's conversions would meet no sessions.
func TestPersonOrderHashesAsClickHouse(t *testing.T) {
	conn, _ := testenv.FreshDatabase(t)
	ids := []string{"", "a", "p1", "crm-4711", "3f2b8c1e-9d4a-4b7e-8f10-2c6d5e7a9b01", "ü-person-ñ",
		strings.Repeat("x", 16), strings.Repeat("y", 17), strings.Repeat("z", 33), strings.Repeat("w", 64), strings.Repeat("v", 65),
		strings.Repeat("u", 200)}
	var want []uint64
	if err := conn.QueryRow(context.Background(), "SELECT arrayMap(x -> cityHash64(x), ?)", ids).Scan(&want); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if got := keyOf(id).hash; got != want[i] {
			t.Errorf("hash of %q: %d, ClickHouse's %d", id, got, want[i])
		}
	}
}

// The sessions of persons whose ids share a hash come mixed: each person's are handed on
// together, in order of id, each keeping the order they came in.
func TestEachPersonSplitsPersonsSharingAHash(t *testing.T) {
	rows := []Session{{Person: "b", ID: "b1"}, {Person: "a", ID: "a1"}, {Person: "b", ID: "b2"}, {Person: "a", ID: "a2"}}
	var got []string
	err := eachPerson(7, rows, func(p personKey, ss []Session, last bool) error {
		var ids []string
		for _, s := range ss {
			ids = append(ids, s.ID)
		}
		got = append(got, fmt.Sprintf("%d/%s: %s", p.hash, p.id, strings.Join(ids, " ")))
		return nil
	})
	if want := []string{"7/a: a1 a2", "7/b: b1 b2"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("persons %q (%v), want %q", got, err, want)
	}
	got = nil
	if err := eachPerson(9, []Session{{Person: "b", ID: "b1"}}, func(p personKey, ss []Session, _ bool) error {
		got = append(got, fmt.Sprintf("%d/%s: %d", p.hash, p.id, len(ss)))
		return nil
	}); err != nil || !slices.Equal(got, []string{"9/b: 1"}) {
		t.Fatalf("one person: %q (%v)", got, err)
	}
}
