package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// RowsContaining counts, per table of database db, the rows in which any of needles
// appears in any String, UUID or Array(String) column, written as text. Tables without
// such rows are left out.
func RowsContaining(t testing.TB, conn driver.Conn, db string, needles []string) map[string]uint64 {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT table, name, type FROM system.columns WHERE database = ?
		AND type IN ('String', 'UUID', 'Array(String)')
		AND table IN (SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View')`, db, db)
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string][]string{}
	for rows.Next() {
		var table, name, typ string
		if err := rows.Scan(&table, &name, &typ); err != nil {
			t.Fatal(err)
		}
		if typ == "Array(String)" {
			cols[table] = append(cols[table], "arrayStringConcat("+name+", ' ')")
		} else {
			cols[table] = append(cols[table], "toString("+name+")")
		}
	}
	rows.Close()
	out := map[string]uint64{}
	for table, exprs := range cols {
		row := "concat(" + strings.Join(exprs, ", ' ', ") + ", '')"
		var conds []string
		var args []any
		for _, n := range needles {
			conds = append(conds, "position("+row+", ?) > 0")
			args = append(args, n)
		}
		q := fmt.Sprintf("SELECT count() FROM %s.%s WHERE %s", db, table, strings.Join(conds, " OR "))
		var n uint64
		if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n > 0 {
			out[table] = n
		}
	}
	return out
}
