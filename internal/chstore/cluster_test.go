package chstore

import (
	"strings"
	"testing"
)

// Every migration has a cluster form: each table a replicated local table and a
// Distributed table of the same name, sharded by columns of its sorting key.
func TestEveryMigrationHasAClusterForm(t *testing.T) {
	ms, err := Migrations("tp")
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]bool{} // created again by column changes and rebuilt tables: counted once
	for _, m := range ms {
		out, err := ClusterStatements(m.Statements, "tp", "c1")
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		for _, st := range out {
			if strings.HasPrefix(st, "CREATE TABLE") || strings.HasPrefix(st, "CREATE VIEW") || strings.HasPrefix(st, "CREATE MATERIALIZED") {
				if !strings.Contains(st, " ON CLUSTER c1") {
					t.Errorf("%s: not on the cluster: %s", m.Name, st)
				}
			}
			if strings.Contains(st, "ENGINE = Distributed(") {
				name, _, _ := strings.Cut(strings.TrimPrefix(st, "CREATE TABLE IF NOT EXISTS tp."), " ")
				tables[strings.TrimSpace(name)] = true
			}
		}
	}
	if len(tables) != len(shardKeys) {
		t.Errorf("%d Distributed tables, %d sharding keys: a key for a table that no longer exists?", len(tables), len(shardKeys))
	}
}

func TestClusterTable(t *testing.T) {
	out, err := ClusterStatements([]string{`CREATE TABLE IF NOT EXISTS tp.events
(
    site_id String,
    visitor_id String,
    ts DateTime,
    visitors AggregateFunction(uniqHLL12, String),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(ts)
ORDER BY (site_id, toDate(ts), visitor_id)`}, "tp", "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`CREATE TABLE IF NOT EXISTS tp.events_local ON CLUSTER c1
(
    site_id String,
    visitor_id String,
    ts DateTime,
    visitors AggregateFunction(uniqHLL12, String),
    version UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tp/events', '{replica}', version)
PARTITION BY toYYYYMM(ts)
ORDER BY (site_id, toDate(ts), visitor_id)`,
		"CREATE TABLE IF NOT EXISTS tp.events ON CLUSTER c1 AS tp.events_local\nENGINE = Distributed(c1, tp, events_local, cityHash64(site_id, visitor_id))"}
	if len(out) != 2 || out[0] != want[0] || out[1] != want[1] {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(out, "\n--\n"), strings.Join(want, "\n--\n"))
	}
}

func TestClusterStatementsRefuse(t *testing.T) {
	for _, c := range []struct{ name, stmt, cluster string }{
		{"a table without a sharding key", "CREATE TABLE IF NOT EXISTS tp.unknown (a String) ENGINE = MergeTree ORDER BY a", "c1"},
		{"a sharding key outside the sorting key", "CREATE TABLE IF NOT EXISTS tp.events (site_id String, visitor_id String) ENGINE = ReplacingMergeTree ORDER BY (site_id)", "c1"},
		{"an engine that does not replicate", "CREATE TABLE IF NOT EXISTS tp.events (site_id String, visitor_id String) ENGINE = Memory", "c1"},
		{"a statement of no known kind", "RENAME TABLE tp.events TO tp.old_events", "c1"},
		{"a cluster name that is no identifier", "INSERT INTO tp.events SELECT 1", "c1; DROP"},
	} {
		if out, err := ClusterStatements([]string{c.stmt}, "tp", c.cluster); err == nil {
			t.Errorf("%s: accepted as %q", c.name, out)
		}
	}
}

func TestClusterAlterAndInsert(t *testing.T) {
	out, err := ClusterStatements([]string{
		"ALTER TABLE tp.events ADD COLUMN x String",
		"ALTER TABLE tp.events DELETE WHERE site_id = 'gone'",
		"INSERT INTO tp.events SELECT * FROM tp.events WHERE 0",
		"DROP TABLE IF EXISTS tp.events",
	}, "tp", "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ALTER TABLE tp.events_local ON CLUSTER c1 ADD COLUMN x String",
		"DROP TABLE IF EXISTS tp.events ON CLUSTER c1",
		"CREATE TABLE IF NOT EXISTS tp.events ON CLUSTER c1 AS tp.events_local\nENGINE = Distributed(c1, tp, events_local, cityHash64(site_id, visitor_id))",
		"ALTER TABLE tp.events_local ON CLUSTER c1 DELETE WHERE site_id = 'gone'",
		"INSERT INTO tp.events SELECT * FROM tp.events WHERE 0",
		"DROP TABLE IF EXISTS tp.events ON CLUSTER c1",
		"DROP TABLE IF EXISTS tp.events_local ON CLUSTER c1",
	}
	if strings.Join(out, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(out, "\n"), strings.Join(want, "\n"))
	}
}

// ClickHouse 18.16 refuses MODIFY ORDER BY ON CLUSTER: the statement goes to each shard
// by itself, and the Distributed table is made again for the new columns.
func TestClusterModifyOrderBy(t *testing.T) {
	out, err := ClusterStatements([]string{
		"ALTER TABLE tp.ad_costs ADD COLUMN term String, MODIFY ORDER BY (site_id, date, term)",
	}, "tp", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || out[0] != eachShard+"ALTER TABLE tp.ad_costs_local ADD COLUMN term String, MODIFY ORDER BY (site_id, date, term)" ||
		!strings.HasPrefix(out[2], "CREATE TABLE IF NOT EXISTS tp.ad_costs ON CLUSTER c1 AS tp.ad_costs_local") {
		t.Fatalf("got\n%s", strings.Join(out, "\n"))
	}
}
