// Package testenv gives integration tests the real services of the local stack
// (make up). Without a service a test is skipped locally, but under CI=true it fails:
// CI never passes by skipping.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/internal/chstore"
	"touchpoint/internal/kafkabus"
)

// Env returns the value of the environment variable key, or def.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Missing skips the test, or fails it under CI=true, because a service is unavailable.
func Missing(t testing.TB, what string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s unavailable (start it with `make up`): %v", what, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// CollectorURL is the running collector's base URL; the test stops when it is not up.
func CollectorURL(t testing.TB) string {
	t.Helper()
	u := Env("TP_COLLECTOR_URL", "http://127.0.0.1:8080")
	requireTCP(t, "collector", strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"))
	return u
}

// KafkaConfig is the Kafka the stack runs, with its default topics.
func KafkaConfig(t testing.TB) *kafkabus.Config {
	t.Helper()
	c := &kafkabus.Config{Brokers: Env("TP_KAFKA_BROKERS", "127.0.0.1:9092"), Topic: kafkabus.EventsTopic, DLQ: kafkabus.DLQTopic, Partitions: 4}
	requireTCP(t, "Kafka", c.BrokerList()[0])
	return c
}

// ClickHouse connects to the stack's ClickHouse (database touchpoint, migrated).
func ClickHouse(t testing.TB) (driver.Conn, string) {
	t.Helper()
	c := chstore.Config{Addr: Env("TP_CLICKHOUSE_ADDR", "127.0.0.1:9000"), Database: Env("TP_CLICKHOUSE_DATABASE", "touchpoint"), User: "default"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := chstore.Open(ctx, c)
	if err != nil {
		Missing(t, "ClickHouse", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, c.Database
}

// FreshDatabase creates an empty migrated database for one test and drops it afterwards.
// With TP_CLICKHOUSE_CLUSTER set, it is created on that cluster (migrate -cluster).
func FreshDatabase(t testing.TB) (driver.Conn, string) {
	t.Helper()
	conn, _ := ClickHouse(t)
	auth := chstore.Config{User: "default"}
	db := fmt.Sprintf("tp_test_%d", time.Now().UnixNano())
	ctx := context.Background()
	cluster := os.Getenv("TP_CLICKHOUSE_CLUSTER")
	var err error
	if cluster != "" {
		_, err = chstore.MigrateCluster(ctx, conn, auth, db, cluster)
	} else {
		_, err = chstore.Migrate(ctx, conn, db)
	}
	if err != nil {
		t.Fatalf("cannot migrate %s: %v", db, err)
	}
	t.Cleanup(func() { chstore.DropDatabase(context.Background(), conn, db, cluster) })
	return conn, db
}

// Eventually polls cond every 100 ms until it returns true or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %s (last error: %v)", what, timeout, lastErr)
}

func requireTCP(t testing.TB, what, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		Missing(t, what, err)
		return
	}
	c.Close()
}

// Topics creates an events and a dead-letter topic of the test's own on brokers and
// deletes them when the test ends, so repeated runs do not pile up partitions.
func Topics(t testing.TB, brokers string, partitions int) *kafkabus.Config {
	t.Helper()
	n := time.Now().UnixNano()
	c := &kafkabus.Config{Brokers: brokers, Topic: fmt.Sprintf("tp.test.%d.events", n), DLQ: fmt.Sprintf("tp.test.%d.dlq", n),
		Partitions: partitions}
	if brokers == Env("TP_KAFKA_BROKERS", "") {
		// The stack's brokers: topics as replicated as the stack's own.
		c.ReplicationFactor, _ = strconv.Atoi(Env("TP_KAFKA_REPLICATION_FACTOR", "1"))
		c.MinInsyncReplicas, _ = strconv.Atoi(Env("TP_KAFKA_MIN_INSYNC_REPLICAS", "1"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafkabus.EnsureTopics(ctx, c); err != nil {
		Missing(t, "Kafka", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		kafkabus.DeleteTopics(ctx, c)
	})
	return c
}
