package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/callsig"
	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// A visitor from a Google ad is given a tracking number, calls it, and Twilio's webhooks —
// the ringing request, then the status callback and its retry — make one call lead,
// credited to the ad in the calls and source reports.
func TestCallThroughTwilioIsCreditedToTheAd(t *testing.T) {
	testenv.CollectorURL(t) // the shared stack (Kafka, stitcher) must run
	_, db := testenv.ClickHouse(t)
	// A lease store of the test's own (a local cluster runs none), read by the collector
	// from the environment as in docker-compose.
	leaseStore, _, _ := testenv.PrivateRedis(t)
	t.Setenv("TP_LEASES_ADDR", leaseStore)
	siteID := "e2e-calls-" + uuid.NewString()[:8]
	const token = "e2e-twilio-token"
	_, collector, attribution, _ := startServices(t, db, fmt.Sprintf(`{"id": %q, "origins": ["http://127.0.0.1:*"], "lookback_days": 30,
		"secret_sha256": "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf",
		"call_tracking": {"country_code": "1", "twilio_auth_token": %q,
			"pools": [{"id": "main", "numbers": ["+15550100001", "+15550100002"], "default": "(555) 010-0000"}]}}`, siteID, token))

	visitor := uuid.NewString()
	landing := "https://shop.example.com/?utm_source=google&utm_medium=cpc&gclid=E2E"
	send(t, collector+"/v1/import", event.Batch{Site: siteID, Events: []event.Event{{ID: uuid.NewString(), Type: "pageview",
		TS: time.Now().Add(-time.Minute).UnixMilli(), VID: visitor, URL: landing, Ref: "https://www.google.com/"}}})
	var number struct {
		Numbers []struct{ Pool, Number string } `json:"numbers"`
	}
	// As the snippet asks, from a browser (crawlers get no number).
	req, _ := http.NewRequest(http.MethodGet, collector+"/v1/number?site="+siteID+"&vid="+visitor+"&url="+url.QueryEscape(landing), nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&number)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/v1/number: %s %v", resp.Status, err)
	}
	if len(number.Numbers) != 1 || number.Numbers[0].Number == "" {
		t.Fatalf("no tracking number for the visitor: %+v", number)
	}
	called := number.Numbers[0].Number

	twilio := func(params url.Values) {
		t.Helper()
		u := collector + "/v1/calls/twilio?site=" + siteID
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", callsig.Twilio(token, u, params))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("Twilio webhook: %s", resp.Status)
		}
	}
	call := url.Values{"CallSid": {"CA" + strings.ReplaceAll(uuid.NewString(), "-", "")}, "From": {"+14045550123"}, "To": {called},
		"Direction": {"inbound"}, "CallStatus": {"ringing"}}
	webhook := time.Now()
	twilio(call)
	call.Set("CallStatus", "completed")
	call.Set("CallDuration", "61")
	call.Set("Timestamp", time.Now().UTC().Format(time.RFC1123Z))
	twilio(call)
	twilio(call) // Twilio's retry

	type figures struct {
		Key       string   `json:"key"`
		Calls     float64  `json:"calls"`
		Answered  float64  `json:"answered"`
		FirstTime float64  `json:"first_time_callers"`
		Median    *float64 `json:"median_duration"`
	}
	var calls struct {
		Rows   []figures `json:"rows"`
		Totals figures   `json:"totals"`
	}
	testenv.Eventually(t, 30*time.Second, "the call in the calls report", func() (bool, error) {
		getJSON(t, attribution+"/api/v1/reports/calls?site="+siteID+"&by=source", &calls)
		return calls.Totals.Calls > 0 && calls.Totals.Answered > 0, nil
	})
	t.Logf("a call credited %s after its first webhook", time.Since(webhook).Round(10*time.Millisecond))
	r := calls.Rows
	if len(r) != 1 || r[0].Key != "google" || r[0].Calls != 1 || r[0].Answered != 1 || r[0].FirstTime != 1 || r[0].Median == nil || *r[0].Median != 61 {
		t.Fatalf("calls report: %+v", r)
	}

	var sources struct {
		Rows []struct {
			Key         string             `json:"key"`
			Leads       float64            `json:"leads"`
			LeadsByType map[string]float64 `json:"leads_by_type"`
		} `json:"rows"`
	}
	getJSON(t, attribution+"/api/v1/reports/sources?site="+siteID+"&model=last_click", &sources)
	if len(sources.Rows) != 1 || sources.Rows[0].Key != "Paid Search" || sources.Rows[0].Leads != 1 || sources.Rows[0].LeadsByType["call"] != 1 {
		t.Fatalf("source report: %+v", sources.Rows)
	}
}
