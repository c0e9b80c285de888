// Command collector runs the HTTP ingest service (SPEC §4).
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"touchpoint/collector"
	"touchpoint/internal/envflag"
	"touchpoint/internal/kafkabus"
	"touchpoint/internal/site"
)

func main() {
	cfg := collector.RegisterFlags(flag.CommandLine)
	kc := kafkabus.RegisterFlags(flag.CommandLine)
	shutdownTimeout := flag.Duration("shutdown-timeout", 20*time.Second, "how long to drain on SIGTERM")
	envflag.Parse()

	sites, err := site.Load(cfg.SitesFile)
	if err != nil {
		log.Fatal(err)
	}
	srv := collector.New(cfg, sites, collector.NewProducer(kc))
	go func() {
		if err := srv.ListenAndServe(); err != nil {
			log.Fatal(err)
		}
	}()
	log.Printf("collector: listening on %s", cfg.Listen)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatalf("collector: shutdown: %v", err)
	}
	log.Printf("collector: stopped in %s", time.Since(start).Round(time.Millisecond))
}
