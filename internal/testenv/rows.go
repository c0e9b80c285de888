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

// Strings returns the values of a query of one String column, in its order.
func Strings(t testing.TB, conn driver.Conn, q string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Priorities returns the ClickHouse priority ("" for none) of each finished query whose
// text is like pattern and that read or wrote rows, in the order they started, from the
// server's query log.
func Priorities(t testing.TB, conn driver.Conn, like string) []string {
	t.Helper()
	if err := conn.Exec(context.Background(), "SYSTEM FLUSH LOGS"); err != nil {
		t.Fatal(err)
	}
	return Strings(t, conn, `SELECT Settings.Values[indexOf(Settings.Names, 'priority')] FROM system.query_log
		WHERE type = 2 AND event_date >= yesterday() AND query LIKE ? AND (written_rows > 0 OR read_rows > 0)
		ORDER BY query_start_time, event_time`, like)
}
