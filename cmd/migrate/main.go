// Command migrate prepares storage: it applies the ClickHouse migrations of schemas/ and
// creates the Kafka topics. It is idempotent; `make up` runs it on every start.
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
	done, err := chstore.Migrate(ctx, conn, chc.Database)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("migrate: database %s up to date (%d applied now)", chc.Database, len(done))

	if !*skipKafka {
		if err := kafkabus.EnsureTopics(ctx, kc); err != nil {
			log.Fatal(err)
		}
		log.Printf("migrate: topics %s and %s ready", kc.Topic, kc.DLQ)
	}
}
