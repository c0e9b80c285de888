// Command migrate prepares storage: it applies the ClickHouse migrations of schemas/ and
// creates the Kafka topics. It is idempotent; `make up` runs it on every start.
// `migrate -cluster NAME` creates replicated and Distributed tables on the ClickHouse
// cluster NAME of the server's remote_servers (docs/deploy.md).
package main

import (
	"context"
	"flag"
	"log"
	"time"

	"touchpoint/internal/chstore"
	"touchpoint/internal/envflag"
	"touchpoint/internal/kafkabus"
)

func main() {
	chc := chstore.RegisterFlags(flag.CommandLine)
	kc := kafkabus.RegisterFlags(flag.CommandLine)
	cluster := flag.String("cluster", "", "ClickHouse cluster to create replicated, sharded tables on (empty: a single server)")
	skipKafka := flag.Bool("skip-kafka", false, "apply ClickHouse migrations only")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long to wait for the services")
	envflag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	conn, err := chstore.Open(ctx, *chc)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	var done []string
	if *cluster != "" {
		done, err = chstore.MigrateCluster(ctx, conn, *chc, chc.Database, *cluster)
	} else {
		done, err = chstore.Migrate(ctx, conn, chc.Database)
	}
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("migrate: database %s up to date (%d applied now)", chc.Database, len(done))

	if !*skipKafka {
		if err := kafkabus.EnsureTopics(ctx, kc); err != nil {
			log.Fatal(err)
		}
		log.Printf("migrate: topics %s and %s ready (replication factor %d, min.insync.replicas %d)", kc.Topic, kc.DLQ,
			kc.ReplicationFactor, kc.MinInsyncReplicas)
	}
}
