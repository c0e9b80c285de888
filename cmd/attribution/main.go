// Command attribution runs the attribution service: it credits every conversion as it
// is recorded, sends CRM webhooks and serves the reports API and the dashboard.
// `attribution rebuild -site S -from D -to D` recomputes a range and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/attribution/engine"
	"touchpoint/internal/chstore"
	"touchpoint/internal/envflag"
	"touchpoint/internal/gctune"
	"touchpoint/internal/site"
)

func main() {
	rebuild := len(os.Args) > 1 && os.Args[1] == "rebuild"
	if rebuild {
		os.Args = append(os.Args[:1], os.Args[2:]...)
	}
	cfg := registerFlags(flag.CommandLine)
	chc := chstore.RegisterFlags(flag.CommandLine)
	siteID := flag.String("site", "", "rebuild: site id")
	from := flag.String("from", "", "rebuild: first day, YYYY-MM-DD")
	to := flag.String("to", "", "rebuild: last day, YYYY-MM-DD (default today)")
	envflag.Parse()
	gctune.Attribution.Apply()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sites, err := site.Load(cfg.SitesFile)
	if err != nil {
		log.Fatal(err)
	}
	if !rebuild {
		if err := sites.CheckExposure(cfg.Listen); err != nil {
			log.Fatal(err)
		}
	}
	// The service starts without ClickHouse and waits for it; a rebuild needs it now.
	connect := chstore.Connect
	if rebuild {
		connect = func(c chstore.Config) (driver.Conn, error) { return chstore.Open(ctx, c) }
	}
	conn, err := connect(*chc)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	if rebuild {
		f, t, err := dateRange(*from, *to)
		if err != nil || *siteID == "" {
			log.Fatalf("usage: attribution rebuild -site SITE -from YYYY-MM-DD [-to YYYY-MM-DD]: %v", err)
		}
		start := time.Now()
		n, rows, err := engine.New(conn, chc.Database, sites).Rebuild(ctx, *siteID, f, t)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("rebuilt %d conversions (%d rows) in %s\n", n, rows, time.Since(start).Round(time.Millisecond))
		return
	}
	// Connect fails only on bad configuration, which the first pool already passed.
	reportsConn, err := chstore.Connect(*chc)
	if err != nil {
		log.Fatal(err)
	}
	defer reportsConn.Close()
	if err := serve(ctx, cfg, sites, pools{jobs: conn, reports: reportsConn}, *chc); err != nil {
		log.Fatal(err)
	}
	log.Print("attribution: stopped")
}

func dateRange(from, to string) (time.Time, time.Time, error) {
	f, err := time.Parse("2006-01-02", from)
	if err != nil {
		return f, f, fmt.Errorf("-from: %w", err)
	}
	t := time.Now().UTC().Truncate(24 * time.Hour)
	if to != "" {
		if t, err = time.Parse("2006-01-02", to); err != nil {
			return f, t, fmt.Errorf("-to: %w", err)
		}
	}
	return f, t, nil
}
