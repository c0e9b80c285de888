// Command demo sends a small set of events through the running collector and prints
// what landed in ClickHouse (make demo).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/chstore"
	"touchpoint/internal/envflag"
	"touchpoint/internal/event"
)

func main() {
	collectorURL := flag.String("collector", "http://127.0.0.1:8080", "collector base URL")
	siteID := flag.String("site", "demo", "site id")
	chc := chstore.RegisterFlags(flag.CommandLine)
	envflag.Parse()

	now := time.Now().Add(-time.Hour)
	landings := []string{
		"https://www.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=EAIaIQ",
		"https://www.example.com/blog/attribution",
		"https://www.example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=november",
	}
	refs := []string{"https://www.google.com/", "https://www.bing.com/search?q=attribution", ""}
	var evs []event.Event
	var vids []string
	for i, u := range landings {
		vid := uuid.NewString()
		vids = append(vids, vid)
		evs = append(evs, event.Event{ID: uuid.NewString(), Type: event.Pageview, TS: now.Add(time.Duration(i) * time.Minute).UnixMilli(),
			VID: vid, URL: u, Ref: refs[i], Title: "Example", Lang: "en-GB", Screen: "1440x900"})
	}
	body, _ := json.Marshal(event.Batch{Site: *siteID, Events: evs})
	resp, err := http.Post(*collectorURL+"/e", "text/plain", bytes.NewReader(body))
	if err != nil {
		log.Fatalf("demo: cannot reach the collector: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		log.Fatalf("demo: collector answered %s", resp.Status)
	}
	fmt.Printf("demo: sent %d events to %s/e\n", len(evs), *collectorURL)

	ctx := context.Background()
	conn, err := chstore.Open(ctx, *chc)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	q := "SELECT toString(ts), event_type, utm_source, utm_medium, utm_campaign, click_id_type, path, referrer FROM " +
		chc.Database + ".events FINAL WHERE site_id = ? AND has(?, visitor_id) ORDER BY ts"
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := conn.Query(ctx, q, *siteID, vids)
		if err != nil {
			log.Fatalf("demo: cannot query ClickHouse: %v", err)
		}
		var out [][8]string
		for rows.Next() {
			var r [8]string
			if err := rows.Scan(&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6], &r[7]); err != nil {
				log.Fatal(err)
			}
			out = append(out, r)
		}
		rows.Close()
		if len(out) == len(evs) || time.Now().After(deadline) {
			fmt.Printf("demo: %d rows read back from ClickHouse %s.events:\n", len(out), chc.Database)
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ts\ttype\tsource\tmedium\tcampaign\tclick id\tpath\treferrer")
			for _, r := range out {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
			}
			w.Flush()
			if len(out) != len(evs) {
				os.Exit(1)
			}
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
}
