// Command demo tells the whole story on a running stack (make demo): it sends ten weeks of
// realistic traffic, leads, CRM stages, sales (some in US dollars), exchange rates, ad
// costs (as Google Ads, Meta and LinkedIn give them) and phone calls (as Twilio reports
// them) through the real APIs, waits until every conversion is attributed, then prints the
// first-click and last-click source reports side by side, the paid keywords with their
// cost, the calls by source, the start of the Google Ads offline conversion file of the
// leads (the demo's gclids) and the dashboard URL.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"touchpoint/internal/chstore"
	"touchpoint/internal/demo"
	"touchpoint/internal/envflag"
)

func main() {
	collectorURL := flag.String("collector", "http://127.0.0.1:8080", "collector base URL")
	attributionURL := flag.String("attribution", "http://127.0.0.1:8081", "attribution service base URL")
	siteID := flag.String("site", "demo", "site id")
	secret := flag.String("secret", "demo-secret", "the site's server secret")
	adminToken := flag.String("admin-token", "demo-admin", "admin token of the reports API")
	twilioToken := flag.String("twilio-token", "demo-twilio-token", "the site's Twilio auth token, which signs the demo's calls")
	visitors := flag.Int("visitors", 5000, "visitors to generate")
	weeks := flag.Int("weeks", 10, "weeks of history")
	seed := flag.Uint64("seed", 1, "random seed (the same seed and day give the same data)")
	chc := chstore.RegisterFlags(flag.CommandLine)
	envflag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	ds := demo.Generate(demo.Options{Site: *siteID, Visitors: *visitors, Weeks: *weeks, End: time.Now(), Seed: *seed})
	fmt.Printf("demo: %d visitors (%d people) over %d weeks: %d events, %d CRM records, ad costs from %d exports and JSON, ECB exchange rates\n",
		ds.Visitors, ds.Persons, *weeks, len(ds.Events), len(ds.Conversions), len(ds.CostExports))

	c := &demo.Client{Collector: *collectorURL, Attribution: *attributionURL, Site: *siteID, Secret: *secret, AdminToken: *adminToken}
	if err := c.Send(ctx, ds); err != nil {
		log.Fatalf("demo: %v", err)
	}
	calls, err := c.SendCalls(ctx, ds, *twilioToken)
	if err != nil {
		log.Fatalf("demo: %v", err)
	}
	ds.EventConversions = append(ds.EventConversions, calls...)
	fmt.Printf("demo: sent through the collector's /v1/import, /v1/conversions and /v1/calls/twilio (%d calls) in %s\n", len(calls),
		time.Since(start).Round(time.Millisecond))

	conn, err := chstore.Open(ctx, *chc)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if err := demo.WaitAttributed(ctx, conn, chc.Database, ds); err != nil {
		log.Fatalf("demo: %v", err)
	}
	fmt.Printf("demo: every conversion attributed %s after the start\n\n", time.Since(start).Round(time.Second))

	if err := c.PrintSourceReports(ctx, os.Stdout, ds); err != nil {
		log.Fatalf("demo: %v", err)
	}
	first, _ := ds.Span()
	if err := c.PrintCalls(ctx, os.Stdout, first); err != nil {
		log.Fatalf("demo: %v", err)
	}
	if err := c.PrintOfflineExport(ctx, os.Stdout, ds); err != nil {
		log.Fatalf("demo: %v", err)
	}
	fmt.Printf("\nDashboard: %s/#token=%s&site=%s\n", *attributionURL, *adminToken, *siteID)
}
