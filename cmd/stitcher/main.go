// Command stitcher turns the events on Kafka into ClickHouse rows (SPEC §5).
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"touchpoint/internal/chstore"
	"touchpoint/internal/envflag"
	"touchpoint/internal/health"
	"touchpoint/internal/kafkabus"
	"touchpoint/stitcher"
)

func main() {
	cfg := stitcher.RegisterFlags(flag.CommandLine)
	kc := kafkabus.RegisterFlags(flag.CommandLine)
	chc := chstore.RegisterFlags(flag.CommandLine)
	envflag.Parse()
	if os.Getenv("GOGC") == "" {
		// Batches are short-lived garbage: collecting less often saves CPU. The stitcher's
		// live heap is the largest (a few batches), so it runs at 200, not 400 like the others.
		debug.SetGCPercent(200)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	conn, err := chstore.Open(ctx, *chc)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	go health.Serve(cfg.Listen)

	src, dlq, err := stitcher.OpenKafka(kc, cfg.Group)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("stitcher: consuming %s as group %s", kc.Topic, cfg.Group)
	if err := stitcher.New(cfg, src, dlq, stitcher.NewClickHouseStore(conn, chc.Database)).Run(ctx); err != nil {
		log.Fatal(err)
	}
	log.Print("stitcher: stopped")
}
