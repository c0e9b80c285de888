// Package chstore opens ClickHouse connections and applies the schema migrations.
// Every INSERT names its columns: ClickHouse 18.16 does not describe a table to
// clickhouse-go's batch insert otherwise.
package chstore

import (
	"context"
	"flag"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config is how a service reaches ClickHouse.
type Config struct {
	Addr     string // host:port, or a comma-separated list tried in order (the nodes of a cluster)
	Database string
	User     string
	Password string
}

// RegisterFlags declares the ClickHouse flags shared by every binary.
func RegisterFlags(fs *flag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Addr, "clickhouse.addr", "127.0.0.1:9000", "ClickHouse native protocol address; on a cluster, several comma-separated, used in order while they answer")
	fs.StringVar(&c.Database, "clickhouse.database", "touchpoint", "ClickHouse database")
	fs.StringVar(&c.User, "clickhouse.user", "default", "ClickHouse user")
	fs.StringVar(&c.Password, "clickhouse.password", "", "ClickHouse password")
	return c
}

// Addrs splits the comma-separated address list.
func (c Config) Addrs() []string {
	var out []string
	for _, a := range strings.Split(c.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// clusterSettings make an INSERT into a Distributed table (migrate -cluster,
// docs/deploy.md) return once every shard has its rows, not when they are queued on the
// node that received them: a write that was acknowledged (and its Kafka offsets
// committed) is stored on a replica of its shard, and readable.
//
// They also turn off the block deduplication of replicated tables. A replica that dies
// while it answers an insert may already have registered the block; the service sends it
// again to the next replica, which would skip it as a duplicate, and the rows would be
// readable only once the dead replica is back. Stored twice instead, they collapse as
// every retried write does: the tables services write are deduplicated by key (FINAL,
// argMax by version), but for two logs (webhook attempts, score history) where a retried
// write shows as a repeated line, as it does on a single server.
//
// On a single server neither changes anything. The cluster's other settings are
// string-valued, which 18.16 takes only from the server's profile
// (deploy/clickhouse/cluster/users.xml).
var clusterSettings = clickhouse.Settings{"insert_distributed_sync": 1, "insert_deduplicate": 0}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open connects and pings. The database need not exist yet (migrate creates it).
func Open(ctx context.Context, c Config) (driver.Conn, error) {
	conn, err := Connect(c)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cannot reach ClickHouse at %s: %w", c.Addr, err)
	}
	return conn, nil
}

const (
	dialTimeout  = 5 * time.Second
	maxOpenConns = 8
	// poolWait bounds a query's wait for one of the pool's connections (its context may end
	// it sooner). A lifecycle report holds four or five connections for seconds; asked by
	// four people at once over 200 days, every one of them failed after waiting 5 s. The
	// reports server answers within a minute (its write timeout) anyway.
	poolWait = time.Minute
)

// Connect returns a connection pool without reaching the server, so that a service can
// start before ClickHouse and wait for it; an error is bad configuration.
func Connect(c Config) (driver.Conn, error) {
	if !identRe.MatchString(c.Database) {
		return nil, fmt.Errorf("invalid ClickHouse database name %q", c.Database)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: c.Addrs(),
		Auth: clickhouse.Auth{Database: "default", Username: c.User, Password: c.Password},
		// A server that does not answer is passed over for the next one quickly.
		DialContext: func(ctx context.Context, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: dialTimeout}
			return d.DialContext(ctx, "tcp", addr)
		},
		DialTimeout: poolWait, // the driver's wait for a free connection, and for a new one's handshake
		// Values are bound client-side by the driver; identifiers never come from users.
		MaxOpenConns:     maxOpenConns,
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
		Settings:         clusterSettings,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot open ClickHouse at %s: %w", c.Addr, err)
	}
	return conn, nil
}

// Query priorities, ClickHouse's priority setting: while a query of a smaller number runs,
// those of larger numbers pause (a second at most at a time, so they still advance);
// queries without one (0) neither pause nor make others pause.
const (
	PriorityCrediting = 1 // the engine crediting new conversions
	PriorityReports   = 2 // the reports API
)

// WithPriority returns ctx whose queries run at priority p (see PriorityCrediting).
func WithPriority(ctx context.Context, p int) context.Context {
	return WithSetting(ctx, "priority", p)
}

// settingsKey holds the per-query settings WithSetting put on a context.
type settingsKey struct{}

// WithSetting returns ctx whose queries run with the ClickHouse setting name = value,
// beside those WithSetting (or WithPriority) put on ctx before: the driver's own option
// replaces a context's settings as a whole.
func WithSetting(ctx context.Context, name string, value any) context.Context {
	all := clickhouse.Settings{name: value}
	if had, ok := ctx.Value(settingsKey{}).(clickhouse.Settings); ok {
		for k, v := range had {
			if k != name {
				all[k] = v
			}
		}
	}
	return clickhouse.Context(context.WithValue(ctx, settingsKey{}, all), clickhouse.WithSettings(all))
}

// PrepareBatch starts an INSERT whose Send outlives ctx's cancellation. The driver
// watches a batch's context and closes its TCP connection when the context ends; when
// that happens just after Send returned (an HTTP request finishing, a deferred cancel),
// it closes a connection already back in the pool and a later query fails with "use of
// closed network connection". Inserts are short, so they are not cancelled.
func PrepareBatch(ctx context.Context, conn driver.Conn, query string) (driver.Batch, error) {
	return conn.PrepareBatch(context.WithoutCancel(ctx), query)
}
