package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

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
	b, _ := json.Marshal(map[string]any{"costs": ds.Costs})
	if err := c.do(ctx, http.MethodPost, c.Attribution+"/api/v1/costs?site="+c.Site, c.AdminToken, "application/json", b, nil); err != nil {
		return fmt.Errorf("cannot import ad costs: %w", err)
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
	q := fmt.Sprintf(`SELECT uniqExact(conversion_id) FROM %s.attributions
		WHERE site_id = ? AND model = 'first_click' AND has(?, conversion_id)`, db)
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
	Rows []struct {
		Key      string   `json:"key"`
		Visitors uint64   `json:"visitors"`
		Sessions uint64   `json:"sessions"`
		Leads    float64  `json:"leads"`
		Sales    float64  `json:"sales"`
		Revenue  float64  `json:"revenue"`
		Cost     float64  `json:"cost"`
		ROI      *float64 `json:"roi"`
	} `json:"rows"`
}

// PrintSourceReports prints the channel report under first-click and last-click credit
// side by side, over the data set's whole period.
func (c *Client) PrintSourceReports(ctx context.Context, w io.Writer, ds *Dataset) error {
	first, last := ds.Span()
	reports := map[string]*sourceReport{}
	for _, m := range []string{"first_click", "last_click"} {
		var r sourceReport
		url := fmt.Sprintf("%s/api/v1/reports/sources?site=%s&model=%s&by=channel&from=%s&to=%s",
			c.Attribution, c.Site, m, first.UTC().Format("2006-01-02"), time.Now().UTC().Format("2006-01-02"))
		if err := c.do(ctx, http.MethodGet, url, c.AdminToken, "", nil, &r); err != nil {
			return err
		}
		reports[m] = &r
	}
	lastByKey := map[string]int{}
	for i, r := range reports["last_click"].Rows {
		lastByKey[r.Key] = i
	}
	fmt.Fprintf(w, "Source report by channel, %s to %s\n", first.Format("2006-01-02"), last.Format("2006-01-02"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\t\t\t\t|\tfirst click\t\t\t\t|\tlast click\t\t\t\t")
	fmt.Fprintln(tw, "channel\tvisitors\tsessions\tcost\t|\tleads\tsales\trevenue\tROI\t|\tleads\tsales\trevenue\tROI\t")
	for _, r := range reports["first_click"].Rows {
		l := reports["first_click"].Rows[0]
		l.Leads, l.Sales, l.Revenue, l.ROI = 0, 0, 0, nil
		if i, ok := lastByKey[r.Key]; ok {
			l = reports["last_click"].Rows[i]
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t|\t%.1f\t%.1f\t%.0f\t%s\t|\t%.1f\t%.1f\t%.0f\t%s\t\n", r.Key, r.Visitors, r.Sessions, r.Cost,
			r.Leads, r.Sales, r.Revenue, pct(r.ROI), l.Leads, l.Sales, l.Revenue, pct(l.ROI))
	}
	return tw.Flush()
}

func pct(roi *float64) string {
	if roi == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", *roi*100)
}
