package chstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Check reports whether ClickHouse answers and database holds every migration this build
// knows: the services' readiness probes call it, so that a database not yet migrated
// shows as what they wait for rather than as failing queries.
func Check(ctx context.Context, conn driver.Conn, database string) error {
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("cannot reach ClickHouse: %w", err)
	}
	want, err := latestMigration()
	if err != nil {
		return err
	}
	var applied uint32
	if err := conn.QueryRow(ctx, "SELECT max(version) FROM "+database+".schema_migrations").Scan(&applied); err != nil {
		return fmt.Errorf("cannot read the migrations of %s (run migrate): %w", database, err)
	}
	if int(applied) < want {
		return fmt.Errorf("database %s has migrations up to %04d, this build needs %04d (run migrate)", database, applied, want)
	}
	return nil
}

var latest struct {
	once sync.Once
	n    int
	err  error
}

// latestMigration is the number of the last embedded migration.
func latestMigration() (int, error) {
	latest.once.Do(func() {
		ms, err := Migrations("touchpoint") // the name does not change the numbers
		if err == nil && len(ms) > 0 {
			latest.n = ms[len(ms)-1].Version
		}
		latest.err = err
	})
	return latest.n, latest.err
}
