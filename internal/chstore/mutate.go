package chstore

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// distributedRe reads a Distributed table's cluster and local table from its engine.
var distributedRe = regexp.MustCompile(`^Distributed\((\w+), *(\w+), *(\w+)`)

// Delete deletes the rows of db.table matching where (with args) as a mutation. On a
// cluster (db.table is Distributed: migrate -cluster) the mutation is made on the local
// table of one replica of each shard, reached with auth's user and password, and the
// other replicas take it from ZooKeeper: a Distributed table takes no mutation, and
// ClickHouse 18.16's distributed DDL stalls on mutations of replicated tables. It returns
// without waiting: AwaitMutations does.
func Delete(ctx context.Context, conn driver.Conn, auth Config, db, table, where string, args ...any) error {
	target, cluster, err := mutable(ctx, conn, db, table)
	if err != nil {
		return err
	}
	st := "ALTER TABLE " + db + "." + target + " DELETE WHERE " + where
	if cluster == "" {
		return conn.Exec(ctx, st, args...)
	}
	return onEachShard(ctx, conn, auth, cluster, st, args...)
}

// AwaitMutations waits until every mutation of db's tables created up to issued is done,
// on every shard when the tables are Distributed. create_time has whole seconds: one more
// second covers the rounding.
func AwaitMutations(ctx context.Context, conn driver.Conn, db string, tables []string, issued time.Time) error {
	if len(tables) == 0 {
		return nil
	}
	source := "system.mutations"
	var locals []string
	for _, t := range tables {
		target, cluster, err := mutable(ctx, conn, db, t)
		if err != nil {
			return err
		}
		if cluster != "" {
			// One replica of each shard: a replicated table's mutations are the same on all.
			source = fmt.Sprintf("cluster('%s', system.mutations)", cluster)
		}
		locals = append(locals, target)
	}
	q := `SELECT count() FROM ` + source + ` WHERE database = ? AND has(?, table) AND is_done = 0 AND create_time <= ?`
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var n uint64
		if err := conn.QueryRow(ctx, q, db, locals, issued.Add(time.Second)).Scan(&n); err != nil {
			return fmt.Errorf("cannot follow the deletions: %w", err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// mutable returns the table a mutation of db.table goes to and, for a Distributed table,
// its cluster.
func mutable(ctx context.Context, conn driver.Conn, db, table string) (target, cluster string, err error) {
	var engine string
	if err := conn.QueryRow(ctx, `SELECT engine_full FROM system.tables WHERE database = ? AND name = ?`, db, table).Scan(&engine); err != nil {
		return "", "", fmt.Errorf("cannot read the engine of %s.%s: %w", db, table, err)
	}
	if m := distributedRe.FindStringSubmatch(engine); m != nil {
		return m[3], m[1], nil
	}
	return table, "", nil
}
