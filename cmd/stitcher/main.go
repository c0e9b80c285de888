// Command stitcher turns the events on Kafka into ClickHouse rows. It starts and keeps
// running whether or not Kafka and ClickHouse are up, and says on /readyz what it waits for.
// `stitcher restitch -site S -from D -to D` applies the current rules to stored days and exits.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"touchpoint/internal/chstore"
	"touchpoint/internal/envflag"
	"touchpoint/internal/gctune"
	"touchpoint/internal/health"
	"touchpoint/internal/kafkabus"
	"touchpoint/internal/site"
	"touchpoint/stitcher"
)

func main() {
	restitch := len(os.Args) > 1 && os.Args[1] == "restitch"
	if restitch {
		os.Args = append(os.Args[:1], os.Args[2:]...)
	}
	cfg := stitcher.RegisterFlags(flag.CommandLine)
	kc := kafkabus.RegisterFlags(flag.CommandLine)
	chc := chstore.RegisterFlags(flag.CommandLine)
	rf := registerRestitchFlags(flag.CommandLine)
	shutdownTimeout := flag.Duration("shutdown-timeout", 10*time.Second, "how long to finish the batch in hand on SIGTERM (the rest is read again at the next start)")
	envflag.Parse()
	sites, err := site.Load(cfg.SitesFile)
	if err != nil {
		log.Fatal(err)
	}
	cfg.Sites = sites
	gctune.Stitcher.Apply()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	conn, err := chstore.Connect(*chc)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if restitch {
		runRestitch(ctx, cfg, rf, conn, *chc)
		return
	}
	ready := health.NewReadiness("stitcher", "kafka", "clickhouse")
	health.Serve(cfg.Listen, ready)
	src, dlq, err := stitcher.OpenKafka(kc, cfg.Group)
	if err != nil {
		log.Fatal(err)
	}
	go ready.Probe(ctx, "clickhouse", probeEvery, func(ctx context.Context) error { return chstore.Check(ctx, conn, chc.Database) })
	go ready.Probe(ctx, "kafka", probeEvery, func(ctx context.Context) error { return kafkabus.Check(ctx, kc) })

	log.Printf("stitcher: consuming %s as group %s", kc.Topic, cfg.Group)
	st := stitcher.New(cfg, src, dlq, stitcher.NewClickHouseStore(conn, chc.Database))
	st.Ready = ready
	done := make(chan struct{})
	go func() {
		st.Run(ctx)
		close(done)
	}()
	<-ctx.Done()
	select {
	case <-done:
		log.Print("stitcher: stopped")
	case <-time.After(*shutdownTimeout):
		// Nothing unwritten was committed: the next start reads it again.
		log.Printf("stitcher: stopped after %s with a batch unfinished", *shutdownTimeout)
	}
}

// probeEvery is how often Kafka and ClickHouse are checked for /readyz.
const probeEvery = 2 * time.Second
