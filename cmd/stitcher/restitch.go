package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/internal/chstore"
	"touchpoint/stitcher"
)

type restitchFlags struct{ site, from, to *string }

func registerRestitchFlags(fs *flag.FlagSet) restitchFlags {
	return restitchFlags{
		site: fs.String("site", "", "restitch: site id"),
		from: fs.String("from", "", "restitch: first day, YYYY-MM-DD"),
		to:   fs.String("to", "", "restitch: last day, YYYY-MM-DD (default today)"),
	}
}

// runRestitch applies the current site rules to the stored days of one site.
func runRestitch(ctx context.Context, cfg *stitcher.Config, f restitchFlags, conn driver.Conn, ch chstore.Config) {
	from, err := time.Parse("2006-01-02", *f.from)
	to := time.Now().UTC().Truncate(24 * time.Hour)
	if err == nil && *f.to != "" {
		to, err = time.Parse("2006-01-02", *f.to)
	}
	if err != nil || *f.site == "" || to.Before(from) {
		log.Fatalf("usage: stitcher restitch -site SITE -from YYYY-MM-DD [-to YYYY-MM-DD]: %v", err)
	}
	if cfg.Sites.Get(*f.site) == nil {
		log.Fatalf("restitch: site %q is not in %s", *f.site, cfg.SitesFile)
	}
	start := time.Now()
	stats, err := stitcher.NewRestitcher(cfg, conn, ch).Restitch(ctx, *f.site, from, to)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("restitched %s %s..%s in %s: %s\n", *f.site, from.Format("2006-01-02"), to.Format("2006-01-02"),
		time.Since(start).Round(time.Millisecond), stats)
}
