package chstore

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// On a cluster (migrate -cluster NAME) every table of the migrations becomes two: NAME_local,
// a Replicated…MergeTree on every node holding its shard's rows, and NAME, a Distributed
// table over them. Services and analysts read and write NAME as on a single server.
//
// Rows that ReplacingMergeTree collapses (one ORDER BY key) must meet on one shard, or
// FINAL and argMax see each shard's copy: a table's sharding key is therefore made of
// columns of its ORDER BY key. Events, sessions and identity links are sharded by visitor,
// the key that never changes (a person id does, when persons merge), so a visitor's whole
// journey — its events, sessions and links — is on one shard; a person of several visitor ids
// spans shards and is read from all of them, as every query does. Conversions and their
// credits are sharded by conversion; other tables by their key's first columns.
var shardKeys = map[string]string{
	"events":                "site_id, visitor_id",
	"sessions":              "site_id, visitor_id",
	"identities":            "site_id, visitor_id",
	"server_links":          "site_id, visitor_id",
	"number_leases":         "site_id, number", // every lease of a number on one shard, for matching calls
	"person_aliases":        "site_id, person_id",
	"person_merges":         "site_id, person_id",
	"person_sessions":       "site_id, person_id",
	"person_conversions":    "site_id, person_id",
	"conversions":           "site_id, conversion_id",
	"attributions":          "site_id, conversion_id", // until migration 0090 folds it into touch_credits
	"touch_credits":         "site_id, conversion_id",
	"touch_credit_versions": "site_id, conversion_id",
	"ad_costs":              "site_id, date",
	"webhook_deliveries":    "site_id, conversion_id",
	"delivery_queue":        "site_id, delivery_id",
	"attribution_state":     "site_id, name",
	"leases":                "name",
	"report_changes":        "site_id, day",
	"report_builds":         "site_id, day",
	"report_traffic":        "site_id, day",
	"report_credit":         "site_id, day",
	"report_visits":         "site_id, day",
	"report_visit_builds":   "site_id, day",
	"fx_rates":              "site_id, currency",
	"api_tokens":            "token_id",
	"erased_identifiers":    "site_id, id_sha256",
	"privacy_erasures":      "site_id", // erasure_id is a UUID, which cityHash64 of ClickHouse 18.16 refuses
	"site_settings":         "site_id",
	"scoring_rules":         "site_id",
	"lead_scores":           "site_id, person_id",
	"lead_score_history":    "site_id, person_id",
}

// LocalSuffix names the replicated table under each Distributed one.
const LocalSuffix = "_local"

var (
	createTableRe = regexp.MustCompile(`(?is)^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)\s*`)
	engineRe      = regexp.MustCompile(`(?is)^ENGINE\s*=\s*(\w*MergeTree)\s*`)
	createViewRe  = regexp.MustCompile(`(?is)^(CREATE (?:MATERIALIZED )?VIEW IF NOT EXISTS \w+\.\w+)(\s)`)
	alterRe       = regexp.MustCompile(`(?is)^ALTER TABLE (\w+)\.(\w+)\s+(.*)$`)
	columnAlterRe = regexp.MustCompile(`(?i)^(ADD|DROP|MODIFY|COMMENT|CLEAR) COLUMN\b`)
	dropTableRe   = regexp.MustCompile(`(?is)^DROP TABLE IF EXISTS (\w+)\.(\w+)$`)
	truncateRe    = regexp.MustCompile(`(?is)^TRUNCATE TABLE (\w+)\.(\w+)$`)
	insertRe      = regexp.MustCompile(`(?is)^INSERT INTO\s`)
)

// ClusterStatements rewrites one migration's statements for cluster: tables become
// replicated local tables plus Distributed tables, views run ON CLUSTER, schema changes
// on each shard, and data statements (INSERT … SELECT) run once, through the Distributed tables.
func ClusterStatements(stmts []string, database, cluster string) ([]string, error) {
	if !identRe.MatchString(cluster) {
		return nil, fmt.Errorf("invalid ClickHouse cluster name %q", cluster)
	}
	on := " ON CLUSTER " + cluster
	var out []string
	for _, st := range stmts {
		st = strings.TrimSpace(st)
		switch {
		case createTableRe.MatchString(st):
			local, dist, err := clusterTable(st, database, cluster)
			if err != nil {
				return nil, err
			}
			out = append(out, local, dist)
		case createViewRe.MatchString(st):
			out = append(out, createViewRe.ReplaceAllString(st, "${1}"+on+"${2}"))
		case alterRe.MatchString(st):
			m := alterRe.FindStringSubmatch(st)
			// An ALTER of a replicated table reaches its other replicas through ZooKeeper,
			// so it goes to one replica of each shard rather than ON CLUSTER: ClickHouse
			// 18.16 refuses MODIFY ORDER BY there, and its distributed DDL can stall when
			// two replicas of a shard race for the same ALTER.
			out = append(out, eachShard+fmt.Sprintf("ALTER TABLE %s.%s%s %s", m[1], m[2], LocalSuffix, m[3]))
			if columnAlterRe.MatchString(m[3]) {
				// The Distributed table takes the new columns by being created again:
				// ClickHouse 18.16 refuses to ALTER it ON CLUSTER over replicated shards. It
				// holds no rows (inserts are synchronous), and views follow it by name.
				key, ok := shardKeys[m[2]]
				if !ok {
					return nil, fmt.Errorf("table %s has no sharding key for clusters", m[2])
				}
				out = append(out, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", m[1], m[2], on), distributed(m[1], m[2], cluster, key))
			}
		case dropTableRe.MatchString(st):
			m := dropTableRe.FindStringSubmatch(st)
			out = append(out, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", m[1], m[2], on),
				fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s%s", m[1], m[2], LocalSuffix, on))
		case truncateRe.MatchString(st):
			// The rows live in the replicated tables; a replica takes the truncation from
			// ZooKeeper, so each shard is truncated once through ON CLUSTER.
			m := truncateRe.FindStringSubmatch(st)
			out = append(out, fmt.Sprintf("TRUNCATE TABLE %s.%s%s%s", m[1], m[2], LocalSuffix, on))
		case insertRe.MatchString(st):
			out = append(out, st)
		default:
			return nil, fmt.Errorf("no cluster form for statement %.60q…", st)
		}
	}
	return out, nil
}

// clusterTable turns one CREATE TABLE into its replicated local table and the Distributed
// table named as the original.
func clusterTable(st, database, cluster string) (local, dist string, err error) {
	m := createTableRe.FindStringSubmatchIndex(st)
	db, name := st[m[2]:m[3]], st[m[4]:m[5]]
	rest := st[m[1]:]
	key, ok := shardKeys[name]
	if !ok {
		return "", "", fmt.Errorf("table %s has no sharding key for clusters: add one to shardKeys (internal/chstore/cluster.go)", name)
	}
	cols, rest, err := balanced(rest)
	if err != nil {
		return "", "", fmt.Errorf("table %s: %w", name, err)
	}
	rest = strings.TrimSpace(rest)
	em := engineRe.FindStringSubmatchIndex(rest)
	if em == nil {
		return "", "", fmt.Errorf("table %s: only MergeTree engines can be replicated", name)
	}
	engine := rest[em[2]:em[3]]
	rest = rest[em[1]:]
	var args string
	if strings.HasPrefix(rest, "(") {
		if args, rest, err = balanced(rest); err != nil {
			return "", "", fmt.Errorf("table %s: %w", name, err)
		}
		args = strings.TrimSpace(args[1 : len(args)-1])
	}
	if !keyInOrder(key, rest) {
		return "", "", fmt.Errorf("table %s: sharding key (%s) must be columns of its ORDER BY key", name, key)
	}
	// {shard} and {replica} are each server's macros (deploy/clickhouse/cluster).
	rargs := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", database, name)
	if args != "" {
		rargs += ", " + args
	}
	on := " ON CLUSTER " + cluster
	local = fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s%s\n%s\nENGINE = Replicated%s(%s)\n%s",
		db, name, LocalSuffix, on, cols, engine, rargs, strings.TrimSpace(rest))
	return local, distributed(db, name, cluster, key), nil
}

// distributed creates the Distributed table name over name_local.
func distributed(db, name, cluster, key string) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s%s\nENGINE = Distributed(%s, %s, %s%s, cityHash64(%s))",
		db, name, cluster, db, name, LocalSuffix, cluster, db, name, LocalSuffix, key)
}

// balanced splits s, which starts with "(", after its matching ")".
func balanced(s string) (group, rest string, err error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "(") {
		return "", "", fmt.Errorf("expected ( at %.30q", s)
	}
	depth := 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return s[:i+1], s[i+1:], nil
			}
		}
	}
	return "", "", fmt.Errorf("unbalanced parentheses in %.30q", s)
}

// keyInOrder reports whether every column of key is a bare column of the ORDER BY key in
// clauses (PARTITION BY …, ORDER BY (…)).
func keyInOrder(key, clauses string) bool {
	i := strings.LastIndex(strings.ToUpper(clauses), "ORDER BY")
	if i < 0 {
		return false
	}
	order := strings.Trim(strings.TrimSpace(clauses[i+len("ORDER BY"):]), "()")
	cols := map[string]bool{}
	for _, c := range strings.Split(order, ",") {
		cols[strings.TrimSpace(c)] = true
	}
	for _, k := range strings.Split(key, ",") {
		if !cols[strings.TrimSpace(k)] {
			return false
		}
	}
	return true
}

// eachShard starts a cluster statement that runs on one replica of each shard rather than
// ON CLUSTER; the other replicas take it from ZooKeeper. Being a comment, it changes
// nothing if the statement is sent as it is.
const eachShard = "/* each shard */ "

// MigrateCluster is Migrate on cluster: it creates the database on every node and applies
// the migrations in their cluster form (ClusterStatements). Connect it to any one node;
// auth holds the user and password for reaching the first replica of each shard, at the
// address the cluster's definition gives. Schema statements wait until every node ran
// them; data statements run once.
func MigrateCluster(ctx context.Context, conn driver.Conn, auth Config, database, cluster string) ([]string, error) {
	if !identRe.MatchString(cluster) {
		return nil, fmt.Errorf("invalid ClickHouse cluster name %q", cluster)
	}
	if err := awaitCluster(ctx, conn, cluster); err != nil {
		return nil, err
	}
	exec := func(ctx context.Context, st string) error {
		if !strings.HasPrefix(st, eachShard) {
			return conn.Exec(ctx, st)
		}
		return onEachShard(ctx, conn, auth, cluster, st)
	}
	on := " ON CLUSTER " + cluster
	return migrate(ctx, conn, exec, database, []string{
		"CREATE DATABASE IF NOT EXISTS " + database + on,
		// One history for the whole cluster: every node holds a replica of it.
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.schema_migrations%s (version UInt32, name String, applied_at DateTime)
			ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/%s/schema_migrations', '{shard}-{replica}') ORDER BY version`,
			database, on, database),
	}, func(stmts []string) ([]string, error) { return ClusterStatements(stmts, database, cluster) })
}

// onEachShard runs st (with args) on the first replica of each shard of cluster.
func onEachShard(ctx context.Context, conn driver.Conn, auth Config, cluster, st string, args ...any) error {
	var addrs []string
	rows, err := conn.Query(ctx, `SELECT host_address, toUInt16(port) FROM system.clusters
		WHERE cluster = ? AND replica_num = 1 ORDER BY shard_num`, cluster)
	if err != nil {
		return fmt.Errorf("cannot read the shards of cluster %s: %w", cluster, err)
	}
	for rows.Next() {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			rows.Close()
			return err
		}
		addrs = append(addrs, net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, addr := range addrs {
		c := auth
		c.Addr = addr
		c.Database = "default" // only the server's; statements name their database
		if c.User == "" {
			c.User = "default"
		}
		node, err := Open(ctx, c)
		if err != nil {
			return err
		}
		err = node.Exec(ctx, st, args...)
		node.Close()
		if err != nil {
			return fmt.Errorf("on %s: %w", addr, err)
		}
	}
	return nil
}

// awaitCluster waits until the node knows cluster and reaches ZooKeeper: distributed DDL
// needs it, and ClickHouse 18.16 crashes on an ON CLUSTER query while it is away.
func awaitCluster(ctx context.Context, conn driver.Conn, cluster string) error {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = ?", cluster).Scan(&n); err != nil {
		return fmt.Errorf("cannot read the servers' clusters: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("ClickHouse has no cluster %q in its remote_servers", cluster)
	}
	for {
		err := conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cannot reach ZooKeeper through ClickHouse: %w", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// DropDatabase drops database, on every node of cluster when one is named.
func DropDatabase(ctx context.Context, conn driver.Conn, database, cluster string) error {
	q := "DROP DATABASE IF EXISTS " + database
	if cluster != "" {
		q += " ON CLUSTER " + cluster
	}
	return conn.Exec(ctx, q)
}
