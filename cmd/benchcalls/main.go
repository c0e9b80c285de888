// Command benchcalls measures call tracking on a running stack (scripts/bench-calls.sh):
// the latency of GET /v1/number at a fixed request rate (open loop: each request's latency
// counts from when it was due, so a stall is not hidden by fewer requests), and how long a
// call takes from its Twilio status callback to its credit in ClickHouse (touch_credits).
// It prints figures and never fails on them.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/internal/benchstat"
	"touchpoint/internal/callsig"
	"touchpoint/internal/chstore"
	"touchpoint/internal/envflag"
)

func main() {
	collector := flag.String("collector", "http://127.0.0.1:18080", "collector base URL")
	site := flag.String("site", "demo", "site id")
	token := flag.String("twilio-token", "demo-twilio-token", "the site's Twilio auth token")
	rate := flag.Int("rate", 2000, "GET /v1/number requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send them")
	visitors := flag.Int("visitors", 400, "distinct visitors asking (each holds a number, later requests renew it)")
	calls := flag.Int("calls", 20, "calls whose time to attribution is measured")
	chc := chstore.RegisterFlags(flag.CommandLine)
	envflag.Parse()

	// Numbers are asked for as a browser asks (crawlers get none).
	client := &http.Client{Timeout: 5 * time.Second, Transport: browserAgent{&http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}}
	numberLatency(client, *collector, *site, *rate, *duration, *visitors)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := chstore.Open(ctx, *chc)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	var credited []time.Duration
	for i := range *calls {
		d, err := creditTime(ctx, client, conn, chc.Database, *collector, *site, *token, i)
		if err != nil {
			log.Printf("benchcalls: call %d: %v", i, err)
			continue
		}
		credited = append(credited, d)
	}
	if len(credited) == 0 {
		fmt.Println("call credited after webhook: no call measured")
		return
	}
	slices.Sort(credited)
	fmt.Printf("call credited after webhook (target <= 5 s): %d calls, p50 %s, max %s\n", len(credited),
		benchstat.Quantile(credited, 0.5), benchstat.Quantile(credited, 1))
}

// numberLatency sends GET /v1/number at rate for d and prints the latency percentiles.
func numberLatency(client *http.Client, base, site string, rate int, d time.Duration, visitors int) {
	n := int(d.Seconds() * float64(rate))
	lat := make([]time.Duration, n)
	var failed, withNumber atomic.Int64
	jobs := make(chan int, n)
	start := time.Now()
	var wg sync.WaitGroup
	for range 128 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
				time.Sleep(time.Until(due))
				u := fmt.Sprintf("%s/v1/number?site=%s&vid=bench-%d", base, url.QueryEscape(site), i%visitors)
				resp, err := client.Get(u)
				if err != nil {
					failed.Add(1)
					lat[i] = time.Since(due)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(due)
				if resp.StatusCode != 200 {
					failed.Add(1)
				} else if strings.Contains(string(b), `"number":"+`) {
					withNumber.Add(1)
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	took := time.Since(start)
	slices.Sort(lat)
	q := func(p float64) time.Duration { return benchstat.Quantile(lat, p) }
	fmt.Printf("GET /v1/number at %d/s for %s (target p99 <= 5 ms): %d requests in %s (%.0f/s), p50 %s, p99 %s, p99.9 %s, max %s; %d failed, %d answered a pool number\n",
		rate, d, n, took.Round(time.Millisecond), float64(n)/took.Seconds(), q(0.5), q(0.99), q(0.999), q(1), failed.Load(), withNumber.Load())
}

// creditTime leases a number to a new visitor, posts a signed Twilio status callback for a
// call to it and waits until the call has credit rows.
func creditTime(ctx context.Context, client *http.Client, conn driver.Conn, db, base, site, token string, i int) (time.Duration, error) {
	vid := "bench-call-" + uuid.NewString()
	resp, err := client.Get(fmt.Sprintf("%s/v1/number?site=%s&vid=%s", base, url.QueryEscape(site), vid))
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var a struct{ Numbers []struct{ Number string } }
	if err := json.Unmarshal(b, &a); err != nil {
		return 0, fmt.Errorf("cannot read /v1/number: %w", err)
	}
	number := ""
	for _, n := range a.Numbers {
		if n.Number != "" {
			number = n.Number
		}
	}
	if number == "" {
		return 0, fmt.Errorf("no number free")
	}
	sid := fmt.Sprintf("CAbench%s", strings.ReplaceAll(uuid.NewString(), "-", ""))
	form := url.Values{"CallSid": {sid}, "From": {fmt.Sprintf("+4477009003%02d", i%100)}, "To": {number}, "CallStatus": {"completed"},
		"CallDuration": {"30"}, "Direction": {"inbound"}, "Timestamp": {time.Now().UTC().Format(time.RFC1123Z)}}
	u := base + "/v1/calls/twilio?site=" + url.QueryEscape(site)
	sig := callsig.Twilio(token, u, form)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sig)
	start := time.Now()
	resp, err = client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("webhook answered %s", resp.Status)
	}
	q := fmt.Sprintf("SELECT count() FROM %s.touch_credits WHERE site_id = ? AND conversion_id = ?", db)
	for time.Since(start) < time.Minute {
		var n uint64
		if err := conn.QueryRow(ctx, q, site, "call:twilio:"+sid).Scan(&n); err != nil {
			return 0, err
		}
		if n > 0 {
			return time.Since(start), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("not credited within a minute")
}

// browserAgent sends every request with a desktop browser's user agent.
type browserAgent struct{ next http.RoundTripper }

func (b browserAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	return b.next.RoundTrip(r)
}
