// Command benchcredit measures, on a running stack (make up), how long a new browser sale
// takes from the collector's 2xx to its credit under every attribution model in
// ClickHouse: the wait a marketer has before a sale shows in the reports. Each sale is a
// new visitor's campaign pageview followed by its conversion, sent as the snippet sends
// them. It prints percentiles and never fails on them.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/attribution/model"
	"touchpoint/internal/benchstat"
	"touchpoint/internal/chstore"
	"touchpoint/internal/envflag"
	"touchpoint/internal/event"
)

func main() {
	collector := flag.String("collector", "http://127.0.0.1:8080", "collector base URL")
	site := flag.String("site", "demo", "site id")
	origin := flag.String("origin", "http://127.0.0.1:3000", "the Origin header sent (one of the site's origins)")
	n := flag.Int("conversions", 40, "sales measured, one after another")
	chc := chstore.RegisterFlags(flag.CommandLine)
	envflag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := chstore.Open(ctx, *chc)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	var took []time.Duration
	for i := range *n {
		// A pause of a random length apart: the stitcher's batches and the service's
		// passes are periodic, and sales sent back to back would fall in step with them.
		time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
		d, err := creditTime(ctx, conn, chc.Database, *collector, *site, *origin, i)
		if err != nil {
			log.Printf("benchcredit: sale %d: %v", i, err)
			continue
		}
		took = append(took, d)
	}
	if len(took) == 0 {
		fmt.Println("sale credited under all models: none measured")
		return
	}
	slices.Sort(took)
	fmt.Printf("sale credited under all %d models after its 2xx (target p99 <= 3 s): %d sales, p50 %s, p99 %s, max %s\n",
		len(model.Models), len(took), benchstat.Quantile(took, 0.5), benchstat.Quantile(took, 0.99), benchstat.Quantile(took, 1))
}

// creditTime sends a new visitor's pageview and sale and waits until every model credits
// a touch of the sale.
func creditTime(ctx context.Context, conn driver.Conn, db, base, site, origin string, i int) (time.Duration, error) {
	vid, now := uuid.NewString(), time.Now()
	if err := post(ctx, base, site, origin, event.Event{ID: uuid.NewString(), Type: event.Pageview, TS: now.UnixMilli(), VID: vid,
		URL: fmt.Sprintf("https://shop.example.com/?utm_source=bench&utm_medium=cpc&utm_campaign=credit-%d", i%10)}); err != nil {
		return 0, err
	}
	sale := "bench-credit-" + uuid.NewString()
	if err := post(ctx, base, site, origin, event.Event{ID: uuid.NewString(), Type: event.Conversion, TS: now.UnixMilli() + 1, VID: vid,
		URL:        "https://shop.example.com/thanks",
		Conversion: &event.ConversionInfo{ID: sale, Type: "sale", Value: 49.5, Currency: "EUR"}}); err != nil {
		return 0, err
	}
	start := time.Now()
	q := fmt.Sprintf("SELECT max(%s) FROM %s.touch_credits WHERE site_id = ? AND conversion_id = ? AND removed = 0",
		strings.Join(model.CreditColumns, "), max("), db)
	credits := make([]float64, len(model.Models))
	dest := make([]any, len(credits))
	for i := range credits {
		dest[i] = &credits[i]
	}
	for time.Since(start) < time.Minute {
		if err := conn.QueryRow(ctx, q, site, sale).Scan(dest...); err != nil {
			return 0, err
		}
		if !slices.Contains(credits, 0) {
			return time.Since(start), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("not credited under every model within a minute")
}

// post sends events to /e as the snippet does: the site's origin, a browser's user agent
// (a bot's sale is not credited).
func post(ctx context.Context, base, site, origin string, evs ...event.Event) error {
	b, _ := json.Marshal(event.Batch{Site: site, Events: evs})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/e", bytes.NewReader(b))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", origin)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("/e answered %s", resp.Status)
	}
	return nil
}
