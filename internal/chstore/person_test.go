package chstore_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/internal/chstore"
	"touchpoint/internal/testenv"
)

// Rows resolve to the person their id was last merged into on their own site; ids
// without an alias, and those whose latest alias is empty, stay who they are. The inner
// query's arguments come first, then the site's.
func TestCurrentPersonResolvesTheSitesLatestAliases(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	insertAliases(t, conn, db)
	want := map[string]string{"p1": "p1", "p2": "p1", "p3": "p1", "p4": "p4", "p5": "p5"}
	for name, resolve := range map[string]func(db, site, inner string, args ...any) (string, []any){
		"CurrentPerson": chstore.CurrentPerson, "CurrentPersonOfFew": chstore.CurrentPersonOfFew} {
		q, args := resolve(db, "a", "SELECT person_id, n FROM (SELECT arrayJoin(?) AS person_id, ? AS n)",
			[]string{"p1", "p2", "p3", "p4", "p5"}, 7)
		if got := currentPersons(t, conn, "SELECT person_id, person, n FROM ("+q+")", args); !maps.Equal(got, want) {
			t.Errorf("%s: current persons %v, want %v", name, got, want)
		}
	}
	q, args := chstore.CurrentPersonHash(db, "a", "SELECT person_id, n FROM (SELECT arrayJoin(?) AS person_id, ? AS n)",
		[]string{"p1", "p2", "p3", "p4", "p5"}, 7)
	named := "transform(person_hash, [cityHash64('p1'), cityHash64('p4'), cityHash64('p5')], ['p1', 'p4', 'p5'], 'another')"
	if got := currentPersons(t, conn, "SELECT person_id, "+named+", n FROM ("+q+")", args); !maps.Equal(got, want) {
		t.Errorf("CurrentPersonHash: current persons %v, want %v", got, want)
	}
}

// A person's ids are their own and those whose latest alias on the site is the person,
// whether bound or, for a person with more ids than a query binds twice (long ones here),
// read by a subquery.
func TestPersonIDsKeepTheIdsResolvedToThePerson(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	ctx := context.Background()
	insertAliases(t, conn, db)
	many := make([]string, chstore.MaxListLen/2+1)
	b, err := chstore.PrepareBatch(ctx, conn, "INSERT INTO "+db+".person_aliases (site_id, person_id, current_person_id, updated_at, version)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range many {
		many[i] = fmt.Sprintf("m%04d-%s", i, strings.Repeat("x", 150))
		if err := b.Append("a", many[i], "p8", time.Now(), uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	candidates := []string{"", "p1", "p2", "p3", "p4", "p5", "p8", "p9", many[0], many[len(many)-1]}
	for person, want := range map[string][]string{"p1": {"p1", "p2", "p3"}, "p4": {"p4"}, "p9": {"p9"}, "": {""},
		"p8": {many[0], many[len(many)-1], "p8"}} {
		cond, args, err := chstore.PersonIDs(ctx, conn, db, "person_id", "a", person)
		if err != nil {
			t.Fatal(err)
		}
		got := testenv.Strings(t, conn, "SELECT person_id FROM (SELECT arrayJoin(?) AS person_id) WHERE "+cond+" AND "+cond+" ORDER BY person_id",
			append(append([]any{candidates}, args...), args...)...)
		if !slices.Equal(got, want) {
			t.Errorf("ids kept for %s: %v, want %v", person, got, want)
		}
	}
}

// insertAliases writes the aliases of site a, and one of site b.
func insertAliases(t *testing.T, conn driver.Conn, db string) {
	t.Helper()
	ctx := context.Background()
	aliases := [][4]any{ // site, person, current person, version
		{"a", "p2", "p1", uint64(1)},
		{"a", "p3", "p2", uint64(1)}, // an older merge…
		{"a", "p3", "p1", uint64(2)}, // …rewritten by a later one
		{"a", "p4", "p9", uint64(1)},
		{"a", "p4", "", uint64(2)},
		{"b", "p5", "p1", uint64(1)}, // another site's
	}
	b, err := chstore.PrepareBatch(ctx, conn, "INSERT INTO "+db+".person_aliases (site_id, person_id, current_person_id, updated_at, version)")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range aliases {
		if err := b.Append(a[0], a[1], a[2], time.Now(), a[3]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

// currentPersons reads the person of each id from q's rows (id, person, n), whose n must
// be 7.
func currentPersons(t *testing.T, conn driver.Conn, q string, args []any) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var id, person string
		var n uint8
		if err := rows.Scan(&id, &person, &n); err != nil {
			t.Fatal(err)
		}
		if n != 7 {
			t.Errorf("%s: n = %d, want the inner query's 7", id, n)
		}
		got[id] = person
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
