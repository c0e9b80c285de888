package chstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"touchpoint/internal/chstore"
	"touchpoint/internal/testenv"
)

// An insert is never cut by the end of its caller's context, so the driver never closes
// its connection late, after Send returned it to the pool (then the next query on that
// connection failed with "use of closed network connection"). A context that has
// already ended is the deterministic extreme of an HTTP request ending just after Send.
func TestBatchOutlivesItsContext(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 3 {
		b, err := chstore.PrepareBatch(ctx, conn, "INSERT INTO "+db+".schema_migrations (version, name, applied_at)")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append(uint32(1000+i), "test", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".schema_migrations WHERE name = 'test'").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows after 3 inserts (%v)", n, err)
	}
}

// Migrations applied by another process before this one recorded them apply again
// without error: ALTER ... ADD COLUMN of a column that is there counts as done.
func TestMigrationsApplyOverAnAppliedSchema(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "TRUNCATE TABLE "+db+".schema_migrations"); err != nil {
		t.Fatal(err)
	}
	done, err := chstore.Migrate(ctx, conn, db)
	if err != nil {
		t.Fatalf("migrating again: %v (after %v)", err, done)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = 'ad_costs' AND name IN ('term', 'clicks')", db).Scan(&n); err != nil || n != 2 {
		t.Fatalf("ad_costs has %d of its new columns (%v)", n, err)
	}
}

// The migration of touch_credit_versions fills it from the credit stored before it: the
// highest version of each conversion at each time, so the reports find the same current
// credit as before it.
func TestCreditVersionsOfStoredCredit(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	ctx := context.Background()
	b, err := chstore.PrepareBatch(ctx, conn, "INSERT INTO "+db+".touch_credits (site_id, conversion_id, occurred_at, session_id, version)")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 10, 4, 12, 0, 0, 0, time.UTC)
	for _, r := range []struct {
		conv, session string
		at            time.Time
		version       uint64
	}{
		{"c1", "s1", at, 10}, {"c1", "s2", at, 10}, {"c1", "s1", at, 20}, {"c1", "s2", at, 20},
		{"c2", "s1", at, 5}, {"c2", "s1", at.AddDate(0, 1, 0), 7}, // its time moved to the next month
	} {
		if err := b.Append("s", r.conv, r.at, r.session, r.version); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	// As stored before the migration: no versions, and the migration not applied.
	for _, st := range []string{"TRUNCATE TABLE " + db + ".touch_credit_versions", "TRUNCATE TABLE " + db + ".schema_migrations"} {
		if err := conn.Exec(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if done, err := chstore.Migrate(ctx, conn, db); err != nil {
		t.Fatalf("migrating: %v (after %v)", err, done)
	}
	rows, err := conn.Query(ctx, "SELECT conversion_id, occurred_at, max(version) FROM "+db+".touch_credit_versions GROUP BY conversion_id, occurred_at ORDER BY conversion_id, occurred_at")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var conv string
		var at time.Time
		var v uint64
		if err := rows.Scan(&conv, &at, &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %d", conv, at.UTC().Format("2006-01-02"), v))
	}
	if want := []string{"c1 2026-10-04 20", "c2 2026-10-04 5", "c2 2026-11-04 7"}; !slices.Equal(got, want) {
		t.Errorf("versions %q, want %q", got, want)
	}
}
