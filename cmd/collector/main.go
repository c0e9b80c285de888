// Command collector runs the HTTP ingest service (docs/collector.md).
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	_ "net/http/pprof" // served only with -debug.pprof
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"touchpoint/collector"
	"touchpoint/collector/enrich"
	"touchpoint/collector/leases"
	"touchpoint/collector/spool"
	"touchpoint/internal/envflag"
	"touchpoint/internal/gctune"
	"touchpoint/internal/health"
	"touchpoint/internal/kafkabus"
	"touchpoint/internal/site"
)

func main() {
	cfg := collector.RegisterFlags(flag.CommandLine)
	kc := kafkabus.RegisterFlags(flag.CommandLine)
	shutdownTimeout := flag.Duration("shutdown-timeout", 20*time.Second, "how long to drain on SIGTERM")
	pprofAddr := flag.String("debug.pprof", "", "address serving net/http/pprof (empty: off)")
	createTopics := flag.Bool("kafka.create-topics", false, "create the events and dead-letter topics at start when missing")
	geoipCheck := flag.Duration("geoip.check-interval", 30*time.Second, "how often the GeoIP files are checked for a replacement (0: never; SIGHUP reloads them at once)")
	envflag.Parse()

	gctune.Collector.Apply()
	if *pprofAddr != "" {
		go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }()
	}
	if *createTopics {
		// In the background: until Kafka answers, events go to the spool.
		go func() {
			if err := kafkabus.EnsureTopics(context.Background(), kc); err == nil {
				log.Printf("collector: topics %s and %s exist", kc.Topic, kc.DLQ)
			}
		}()
	}

	sites, err := site.Load(cfg.SitesFile)
	if err != nil {
		log.Fatal(err)
	}
	if err := sites.CheckExposure(cfg.Listen); err != nil {
		log.Fatal(err)
	}
	go sites.ReloadOn(context.Background(), sitesHUP, "collector")
	geo := openGeo(cfg.GeoIPFile, *geoipCheck)
	sp, err := spool.Open(cfg.SpoolDir, spool.Options{MaxBytes: cfg.SpoolMaxBytes})
	if err != nil {
		log.Fatal(err)
	}
	sink, err := collector.NewKafkaSink(collector.KafkaSinkConfig{Kafka: kc, Spool: sp, WriteTimeout: cfg.KafkaTimeout, Linger: cfg.Linger, Compression: cfg.Compression})
	if err != nil {
		log.Fatal(err)
	}
	pipe := enrich.New(enrich.Options{Geo: geo, Skew: cfg.ClockSkew, MaxAge: cfg.MaxEventAge})
	srv, err := collector.New(cfg, sites, pipe, sink, collector.KafkaCheck(kc), kc.Topic, kc.DLQ)
	if err != nil {
		log.Fatal(err)
	}
	// Call tracking: the store connects on first use and reconnects by itself.
	srv.UseLeases(leases.Open(cfg.Leases))
	go func() {
		if err := srv.ListenAndServe(); err != nil {
			log.Fatal(err)
		}
	}()
	if cfg.MetricsListen != "" {
		health.Serve(cfg.MetricsListen, srv.Readiness())
	}
	log.Printf("collector: listening on %s, producing to %s (%s)", cfg.Listen, kc.Topic, kc.Brokers)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		// Every answered event is in Kafka or in the spool either way.
		log.Printf("collector: shutdown: %v", err)
	}
	log.Printf("collector: stopped in %s", time.Since(start).Round(time.Millisecond))
}

// openGeo opens the comma-separated GeoIP databases and reloads them when a file is
// replaced or on SIGHUP. A database that cannot be used stops the start: an empty
// country column is not a silent consequence of a typo.
func openGeo(list string, every time.Duration) *enrich.Geo {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // never the default action, which ends the process
	var files []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		log.Printf("collector: no GeoIP database (-geoip): country, region and city stay empty")
		go func() {
			for range hup {
				log.Printf("collector: SIGHUP: no GeoIP database to reload")
			}
		}()
		return nil
	}
	geo, err := enrich.OpenGeo(files...)
	if err != nil {
		log.Fatalf("collector: %v", err)
	}
	log.Printf("collector: GeoIP from %s", geo.Describe())
	go geo.Watch(context.Background(), every, hup)
	return geo
}
