package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/attribution/model"
	"touchpoint/internal/event"
)

// Client sends a data set through the public APIs.
type Client struct {
	Collector, Attribution string
	Site, Secret           string
	AdminToken             string
	HTTP                   *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// do sends one request, retrying while the server asks to (429, 503).
func (c *Client) do(ctx context.Context, method, url, token, contentType string, body []byte, out any) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := c.http().Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, url, err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 20 {
			time.Sleep(time.Duration(200*(attempt+1)) * time.Millisecond)
			continue
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(b))
		}
		if raw, ok := out.(*[]byte); ok {
			*raw = b
			return nil
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
}

// Send posts the events in batches to /v1/import, the CRM records to /v1/conversions
// and the costs to /api/v1/costs.
func (c *Client) Send(ctx context.Context, ds *Dataset) error {
	const maxEvents, maxBytes = 100, 48 << 10
	var batches [][]byte
	var cur []event.Event
	size := 0
	flush := func() {
		if len(cur) > 0 {
			b, _ := json.Marshal(event.Batch{Site: c.Site, Events: cur})
			batches = append(batches, b)
			cur, size = nil, 0
		}
	}
	for _, e := range ds.Events {
		b, _ := json.Marshal(e)
		if len(cur) == maxEvents || size+len(b) > maxBytes {
			flush()
		}
		cur = append(cur, e)
		size += len(b) + 1
	}
	flush()
	if err := c.parallel(ctx, len(batches), func(i int) error {
		return c.do(ctx, http.MethodPost, c.Collector+"/v1/import", c.Secret, "application/json", batches[i], nil)
	}); err != nil {
		return fmt.Errorf("cannot import events: %w", err)
	}
	if err := c.parallel(ctx, len(ds.Conversions), func(i int) error {
		b, _ := json.Marshal(ds.Conversions[i])
		return c.do(ctx, http.MethodPost, c.Collector+"/v1/conversions", c.Secret, "application/json", b, nil)
	}); err != nil {
		return fmt.Errorf("cannot record conversions: %w", err)
	}
	if err := c.do(ctx, http.MethodPost, c.Attribution+"/api/v1/fx-rates?site="+c.Site, c.AdminToken, "text/csv", ds.Rates, nil); err != nil {
		return fmt.Errorf("cannot load exchange rates: %w", err)
	}
	b, _ := json.Marshal(map[string]any{"costs": ds.Costs})
	if err := c.do(ctx, http.MethodPost, c.Attribution+"/api/v1/costs?site="+c.Site, c.AdminToken, "application/json", b, nil); err != nil {
		return fmt.Errorf("cannot import ad costs: %w", err)
	}
	for _, e := range ds.CostExports {
		url := c.Attribution + "/api/v1/costs?site=" + c.Site
		if e.Query != "" {
			url += "&" + e.Query
		}
		if err := c.do(ctx, http.MethodPost, url, c.AdminToken, "text/csv", e.CSV, nil); err != nil {
			return fmt.Errorf("cannot import the %s: %w", e.Platform, err)
		}
	}
	return nil
}

// parallel runs f(0..n-1) on a few workers and returns the first error.
func (c *Client) parallel(ctx context.Context, n int, f func(i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// WaitAttributed waits until every CRM record, form lead and web sale of the data set is in
// touchpoint.conversions and carries first-click credit.
func WaitAttributed(ctx context.Context, conn driver.Conn, db string, ds *Dataset) error {
	ids := make([]string, 0, len(ds.Conversions))
	for _, c := range ds.Conversions {
		ids = append(ids, c.ConversionID)
	}
	ids = append(ids, ds.EventConversions...)
	want := uint64(len(ids))
	site := ds.siteOf()
	q := fmt.Sprintf(`SELECT uniqExact(conversion_id) FROM %s.touch_credits
		WHERE site_id = ? AND removed = 0 AND %s > 0 AND has(?, conversion_id)`, db, model.CreditColumn(model.FirstClick))
	var got uint64
	for {
		if err := conn.QueryRow(ctx, q, site, ids).Scan(&got); err != nil {
			return fmt.Errorf("cannot count attributed conversions: %w", err)
		}
		if got >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("only %d of %d conversions attributed: %w", got, want, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func (ds *Dataset) siteOf() string {
	if len(ds.Conversions) > 0 {
		return ds.Conversions[0].Site
	}
	return ""
}

type sourceReport struct {
	Currency string `json:"currency"`
	Rows     []struct {
		Key string `json:"key"`
		figures
	} `json:"rows"`
	Totals figures `json:"totals"`
}

type figures struct {
	Visitors    uint64   `json:"visitors"`
	Sessions    uint64   `json:"sessions"`
	Leads       float64  `json:"leads"`
	Sales       float64  `json:"sales"`
	Revenue     float64  `json:"revenue"`
	Cost        float64  `json:"cost"`
	Clicks      uint64   `json:"clicks"`
	Impressions uint64   `json:"impressions"`
	CostPerLead *float64 `json:"cost_per_lead"`
	ROAS        *float64 `json:"roas"`
	ROI         *float64 `json:"roi"`
	Unconverted []struct {
		Currency string  `json:"currency"`
		Revenue  float64 `json:"revenue"`
		Cost     float64 `json:"cost"`
	} `json:"unconverted"`
}

func (c *Client) report(ctx context.Context, model, by string, from time.Time) (*sourceReport, error) {
	var r sourceReport
	url := fmt.Sprintf("%s/api/v1/reports/sources?site=%s&model=%s&by=%s&from=%s&to=%s",
		c.Attribution, c.Site, model, by, from.UTC().Format("2006-01-02"), time.Now().UTC().Format("2006-01-02"))
	if err := c.do(ctx, http.MethodGet, url, c.AdminToken, "", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// PrintSourceReports prints, over the data set's whole period, the channel report under
// first-click and last-click credit side by side, then the first-click report by
// keyword with its cost, clicks and impressions, and what could not be converted into
// the site's currency.
func (c *Client) PrintSourceReports(ctx context.Context, w io.Writer, ds *Dataset) error {
	first, last := ds.Span()
	firstClick, err := c.report(ctx, "first_click", "channel", first)
	if err != nil {
		return err
	}
	lastClick, err := c.report(ctx, "last_click", "channel", first)
	if err != nil {
		return err
	}
	keywords, err := c.report(ctx, "first_click", "keyword", first)
	if err != nil {
		return err
	}
	cur := firstClick.Currency
	lastByKey := map[string]int{}
	for i, r := range lastClick.Rows {
		lastByKey[r.Key] = i
	}
	fmt.Fprintf(w, "Source report by channel, %s to %s, money in %s\n", first.Format("2006-01-02"), last.Format("2006-01-02"), cur)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\t\t\t\t|\tfirst click\t\t\t\t|\tlast click\t\t\t\t")
	fmt.Fprintln(tw, "channel\tvisitors\tsessions\tcost\t|\tleads\tsales\trevenue\tROI\t|\tleads\tsales\trevenue\tROI\t")
	row := func(key string, r, l figures) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t|\t%.1f\t%.1f\t%.0f\t%s\t|\t%.1f\t%.1f\t%.0f\t%s\t\n", key, r.Visitors, r.Sessions, r.Cost,
			r.Leads, r.Sales, r.Revenue, pct(r.ROI), l.Leads, l.Sales, l.Revenue, pct(l.ROI))
	}
	for _, r := range firstClick.Rows {
		var l figures
		if i, ok := lastByKey[r.Key]; ok {
			l = lastClick.Rows[i].figures
		}
		row(r.Key, r.figures, l)
	}
	row("total", firstClick.Totals, lastClick.Totals)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, u := range firstClick.Totals.Unconverted {
		fmt.Fprintf(w, "Not in the totals, no %s rate loaded for its day: %.2f %s of revenue, %.2f %s of cost\n", u.Currency, u.Revenue,
			u.Currency, u.Cost, u.Currency)
	}

	fmt.Fprintf(w, "\nPaid keywords (first click), money in %s\n", keywords.Currency)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "keyword\tsessions\tclicks\timpressions\tcost\tleads\tcost/lead\tsales\trevenue\tROAS\t")
	for _, r := range keywords.Rows {
		if r.Cost == 0 && r.Clicks == 0 {
			continue // organic and unpaid keywords
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%.1f\t%s\t%.1f\t%.0f\t%s\t\n", r.Key, r.Sessions, r.Clicks, r.Impressions, r.Cost, r.Leads,
			amount(r.CostPerLead), r.Sales, r.Revenue, times(r.ROAS))
	}
	return tw.Flush()
}

func pct(roi *float64) string {
	if roi == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", *roi*100)
}

func amount(x *float64) string {
	if x == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f", *x)
}

func times(x *float64) string {
	if x == nil {
		return "—"
	}
	return fmt.Sprintf("%.1fx", *x)
}

// PrintOfflineExport prints the start of the Google Ads offline conversion file of the
// data set's leads (credited by last click to a Google Ads click), as Google's upload
// template has it, and how to download it whole.
func (c *Client) PrintOfflineExport(ctx context.Context, w io.Writer, ds *Dataset) error {
	first, _ := ds.Span()
	q := url.Values{"site": {c.Site}, "from": {first.UTC().Format("2006-01-02")}, "to": {time.Now().UTC().Format("2006-01-02")},
		"type": {"lead"}, "name": {"Demo request"}, "model": {"last_click"}}
	path := "/api/v1/exports/google-ads?" + q.Encode()
	var b []byte
	if err := c.do(ctx, http.MethodGet, c.Attribution+path, c.AdminToken, "", nil, &b); err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	fmt.Fprintf(w, "\nGoogle Ads offline conversions: %d leads whose last click was a Google Ads click, in Google's upload template\n", len(lines)-2)
	const show = 8
	for i, l := range lines {
		if i == show {
			fmt.Fprintf(w, "  … %d more rows\n", len(lines)-show)
			break
		}
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintf(w, "The whole file: curl -H 'Authorization: Bearer %s' '%s%s'\n", c.AdminToken, c.Attribution, path)
	return nil
}
