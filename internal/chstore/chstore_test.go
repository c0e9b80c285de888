package chstore_test

import (
	"context"
	"slices"
	"sync"
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

// Per-query settings add up: a setting put on a context that runs at a priority keeps the
// priority, and a setting given again takes its new value.
func TestSettingsAddUp(t *testing.T) {
	conn, _ := testenv.FreshDatabase(t)
	ctx := chstore.WithPriority(context.Background(), chstore.PriorityReports)
	ctx = chstore.WithSetting(ctx, "max_threads", 3)
	ctx = chstore.WithSetting(ctx, "max_threads", 1)
	var got string
	err := conn.QueryRow(ctx, `SELECT arrayStringConcat(groupArray(concat(name, '=', value)), ' ') FROM (
		SELECT name, value FROM system.settings WHERE name IN ('priority', 'max_threads') ORDER BY name)`).Scan(&got)
	if want := "max_threads=1 priority=2"; err != nil || got != want {
		t.Fatalf("settings %q (%v), want %q", got, err, want)
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
	got := testenv.Strings(t, conn, "SELECT concat(conversion_id, ' ', toString(toDate(occurred_at, 'UTC')), ' ', toString(max(version))) FROM "+db+
		".touch_credit_versions GROUP BY conversion_id, occurred_at ORDER BY conversion_id, occurred_at")
	if want := []string{"c1 2026-10-04 20", "c2 2026-10-04 5", "c2 2026-11-04 7"}; !slices.Equal(got, want) {
		t.Errorf("versions %q, want %q", got, want)
	}
}

// person_conversions holds every conversion under each person id any of its versions was
// stored under: its migration fills it from the conversions stored before it, its view
// from every later insert, and a journey lists a person's conversions by it.
func TestPersonConversions(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	ctx := context.Background()
	insert := func(rows ...[2]string) {
		t.Helper()
		b, err := chstore.PrepareBatch(ctx, conn, "INSERT INTO "+db+".conversions (site_id, conversion_id, person_id, received_at, version)")
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if err := b.Append("s", r[0], r[1], time.Date(2026, 10, 4, 12, 0, i, 0, time.UTC), uint64(i+1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	// c1's CRM record moved to another person (a changed email); c2 has no person.
	insert([2]string{"c1", "p1"}, [2]string{"c1", "p2"}, [2]string{"c2", ""}, [2]string{"c3", "p1"})
	// As stored before the migration: no rows, and the migration not applied.
	for _, st := range []string{"TRUNCATE TABLE " + db + ".person_conversions", "TRUNCATE TABLE " + db + ".schema_migrations"} {
		if err := conn.Exec(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if done, err := chstore.Migrate(ctx, conn, db); err != nil {
		t.Fatalf("migrating: %v (after %v)", err, done)
	}
	insert([2]string{"c4", "p3"}, [2]string{"c3", "p1"}) // c3 again: the key folds it
	got := testenv.Strings(t, conn, "SELECT concat(person_id, ' ', conversion_id) FROM "+db+".person_conversions FINAL ORDER BY person_id, conversion_id")
	if want := []string{"p1 c1", "p1 c3", "p2 c1", "p3 c4"}; !slices.Equal(got, want) {
		t.Errorf("person_conversions %q, want %q", got, want)
	}
}

// More reads at once than the pool has connections wait their turn, however long the
// others take, instead of failing after a few seconds: nine reads of 6 s each, one more
// than the pool's eight connections, all answer.
func TestReadsWaitForAFreeConnection(t *testing.T) {
	conn, _ := testenv.ClickHouse(t)
	var wg sync.WaitGroup
	errs := make([]error, 9)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n uint64
			errs[i] = conn.QueryRow(context.Background(), "SELECT count() FROM (SELECT sleep(2) FROM numbers(3)) SETTINGS max_block_size = 1").Scan(&n)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("read %d: %v", i, err)
		}
	}
}
