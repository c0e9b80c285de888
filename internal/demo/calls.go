package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"touchpoint/internal/callsig"
)

// Numbers of the demo site's call tracking (config/dev.json): a number no pool has, and
// the static number of its print ad.
const (
	unknownNumber = "+442079460555"
	printNumber   = "+442079460999"
)

// demoCall is one call the demo makes: a caller ringing a number, answered for duration
// seconds or not at all (status).
type demoCall struct {
	sid, from, to, status string
	duration              int
}

// SendCalls makes the demo's phone calls as Twilio reports them to the collector's
// webhook, signed with the site's auth token: a voice request when the phone rings, then
// the status callback when the call ends (sent twice for some calls, as Twilio retries).
// Visitors of the data set who take a tracking number (GET /v1/number) call it, one of
// them twice; a few callers ring a number of no pool (unmatched) or the print ad's
// static number. It returns the calls' conversion ids. Call ids are the same for the same
// data set, so running the demo again counts no call twice.
func (c *Client) SendCalls(ctx context.Context, ds *Dataset, twilioToken string) ([]string, error) {
	var vids []string
	seen := map[string]bool{}
	for _, e := range ds.Events {
		if e.VID != "" && !seen[e.VID] {
			seen[e.VID] = true
			vids = append(vids, e.VID)
		}
	}
	sort.Strings(vids) // a spread of visitors, the same for the same data set
	var calls []demoCall
	statuses := []string{"completed", "completed", "completed", "no-answer", "completed", "busy"}
	for i := 0; i < len(vids) && len(calls) < 14; i += max(1, len(vids)/14) {
		number, err := c.lease(ctx, vids[i])
		if err != nil {
			return nil, err
		}
		if number == "" {
			continue // every number held: this visitor sees the site's own number
		}
		n := len(calls)
		d := demoCall{sid: callSid(vids[i], 0), from: fmt.Sprintf("+4477009001%02d", n), to: number, status: statuses[n%len(statuses)]}
		if d.status == "completed" {
			d.duration = 40 + (n*73)%500
		}
		calls = append(calls, d)
		if n == 0 { // the first caller calls back: a call, no second lead
			calls = append(calls, demoCall{sid: callSid(vids[i], 1), from: d.from, to: number, status: "completed", duration: 95})
		}
	}
	for i, to := range []string{unknownNumber, unknownNumber, printNumber, printNumber, printNumber} {
		calls = append(calls, demoCall{sid: callSid("other", i), from: fmt.Sprintf("+4477009002%02d", i), to: to, status: "completed", duration: 60 + 30*i})
	}
	var ids []string
	for i, call := range calls {
		if err := c.twilioCall(ctx, twilioToken, call, i%4 == 0); err != nil {
			return nil, err
		}
		ids = append(ids, "call:twilio:"+call.sid)
	}
	return ids, nil
}

func callSid(who string, n int) string {
	h := fnv.New128a()
	fmt.Fprintf(h, "%s/%d", who, n)
	return fmt.Sprintf("CA%x", h.Sum(nil))
}

// lease asks the collector for the visitor's tracking number, as the snippet does.
func (c *Client) lease(ctx context.Context, vid string) (string, error) {
	var a struct {
		Numbers []struct {
			Pool, Number string
		}
	}
	u := c.Collector + "/v1/number?site=" + url.QueryEscape(c.Site) + "&vid=" + url.QueryEscape(vid)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	// As the visitor's browser asks: crawlers get no number.
	req.Header.Set("User-Agent", browserUA)
	resp, err := c.http().Do(req)
	if err != nil {
		return "", fmt.Errorf("cannot get a tracking number: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("cannot get a tracking number: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return "", fmt.Errorf("cannot read a tracking number: %w", err)
	}
	for _, n := range a.Numbers {
		if n.Number != "" {
			return n.Number, nil
		}
	}
	return "", nil
}

// browserUA is the user agent the demo's visitors ask for their numbers with.
const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// twilioCall posts the voice request and the status callback of one call; retry sends the
// status callback twice.
func (c *Client) twilioCall(ctx context.Context, token string, call demoCall, retry bool) error {
	base := url.Values{"AccountSid": {"ACdemo"}, "ApiVersion": {"2010-04-01"}, "CallSid": {call.sid}, "From": {call.from},
		"Caller": {call.from}, "To": {call.to}, "Called": {call.to}, "Direction": {"inbound"}}
	voice := cloneValues(base)
	voice.Set("CallStatus", "ringing")
	status := cloneValues(base)
	status.Set("CallStatus", call.status)
	status.Set("CallDuration", fmt.Sprint(call.duration))
	status.Set("Timestamp", time.Now().UTC().Format(time.RFC1123Z))
	sends := []url.Values{voice, status}
	if retry {
		sends = append(sends, status)
	}
	for _, form := range sends {
		if err := c.postTwilio(ctx, token, form); err != nil {
			return err
		}
	}
	return nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func (c *Client) postTwilio(ctx context.Context, token string, form url.Values) error {
	u := c.Collector + "/v1/calls/twilio?site=" + url.QueryEscape(c.Site)
	sig := callsig.Twilio(token, u, form)
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := c.http().Do(req)
		if err != nil {
			return fmt.Errorf("cannot post a Twilio callback: %w", err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && attempt < 20 {
			time.Sleep(time.Duration(200*(attempt+1)) * time.Millisecond)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the Twilio callback of %s got %s: %s", form.Get("CallSid"), resp.Status, bytes.TrimSpace(b))
		}
		return nil
	}
}

// PrintCalls prints the calls report by source under last click: calls, answered calls,
// first-time callers (the call leads) and the median duration of answered calls.
func (c *Client) PrintCalls(ctx context.Context, w io.Writer, from time.Time) error {
	var r struct {
		Rows []struct {
			Key            string   `json:"key"`
			Calls          float64  `json:"calls"`
			Answered       float64  `json:"answered"`
			FirstTime      float64  `json:"first_time_callers"`
			MedianDuration *float64 `json:"median_duration"`
		} `json:"rows"`
	}
	u := fmt.Sprintf("%s/api/v1/reports/calls?site=%s&model=last_click&by=source&from=%s&to=%s", c.Attribution, c.Site,
		from.UTC().Format("2006-01-02"), time.Now().UTC().Format("2006-01-02"))
	if err := c.do(ctx, http.MethodGet, u, c.AdminToken, "", nil, &r); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nCalls by source (last click: the session that held the number; call leads are first-time callers)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "source\tcalls\tanswered\tcall leads\tmedian duration\t")
	for _, row := range r.Rows {
		median := "—"
		if row.MedianDuration != nil {
			median = fmt.Sprintf("%.0f s", *row.MedianDuration)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%s\t\n", row.Key, row.Calls, row.Answered, row.FirstTime, median)
	}
	return tw.Flush()
}
