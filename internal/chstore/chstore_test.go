package chstore_test

import (
	"context"
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
