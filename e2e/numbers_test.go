package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/attribution/model"
	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// A buyer from Google Ads pays with PayPal and returns to the thank-you page 20 minutes
// into the visit: the sale is the ad's, and PayPal is no touchpoint. A site search is no
// lead. A lead sent by a headless browser is kept flagged and credited to nothing.
func TestPaymentReturnSearchAndBotThroughPublicAPIs(t *testing.T) {
	testenv.CollectorURL(t) // the shared stack (Kafka, stitcher) must run
	conn, db := testenv.ClickHouse(t)
	siteID := "e2e-" + uuid.NewString()[:8]
	_, collector, _, _ := startServices(t, db, fmt.Sprintf(`{"id": %q, "origins": ["http://127.0.0.1:*"], "lookback_days": 30,
		"secret_sha256": "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf"}`, siteID))
	ctx := context.Background()
	query := func(q string, args ...any) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, fmt.Sprintf(q, db), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}

	// The bot first: by the time the sale is credited, the attribution service has seen it.
	bot := uuid.NewString()
	botLead := uuid.NewString()
	now := time.Now().UTC().Truncate(time.Second)
	body, _ := json.Marshal(event.Batch{Site: siteID, Events: []event.Event{
		{ID: uuid.NewString(), Type: "pageview", TS: now.UnixMilli(), VID: bot, URL: "https://shop.example.com/contact"},
		{ID: botLead, Type: "form_submit", TS: now.UnixMilli(), VID: bot, URL: "https://shop.example.com/contact",
			Form: &event.Form{ID: "contact", Fields: []string{"name", "email", "message"}}, Traits: event.Traits{"email": "bot@example.com"}},
	}})
	req, _ := http.NewRequest(http.MethodPost, collector+"/e", bytes.NewReader(body))
	req.Header.Set("Origin", "http://127.0.0.1:3000")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("POST /e: %s", resp.Status)
	}
	testenv.Eventually(t, 30*time.Second, "the bot's lead stored flagged", func() (bool, error) {
		return query(`SELECT count() FROM %s.conversions FINAL WHERE site_id = ? AND conversion_id = ? AND is_bot = 1`, siteID, botLead) == 1, nil
	})

	buyer, order, search := uuid.NewString(), "order-"+siteID, uuid.NewString()
	at := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	landing := "https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=X1"
	send(t, collector+"/v1/import", event.Batch{Site: siteID, Events: []event.Event{
		{ID: uuid.NewString(), Type: "pageview", TS: at(40 * time.Minute), VID: buyer, URL: landing, Ref: "https://www.google.com/"},
		{ID: search, Type: "form_submit", TS: at(38 * time.Minute), VID: buyer, URL: "https://shop.example.com/",
			Form: &event.Form{ID: "site-search", Action: "https://shop.example.com/search", Fields: []string{"q"}}},
		{ID: uuid.NewString(), Type: "pageview", TS: at(35 * time.Minute), VID: buyer, URL: "https://shop.example.com/checkout", Ref: landing},
		{ID: uuid.NewString(), Type: "pageview", TS: at(20 * time.Minute), VID: buyer, URL: "https://shop.example.com/thanks?order=1",
			Ref: "https://www.paypal.com/checkoutnow?token=EC-1"},
		{ID: uuid.NewString(), Type: "conversion", TS: at(20 * time.Minute), VID: buyer, URL: "https://shop.example.com/thanks?order=1",
			Ref: "https://www.paypal.com/checkoutnow?token=EC-1", Conversion: &event.ConversionInfo{ID: order, Type: "sale", Value: 99, Currency: "EUR"}},
	}})
	for _, m := range []string{model.FirstClick, model.LastClick, model.LastNonDirect, model.Linear} {
		testenv.Eventually(t, 30*time.Second, m+" credit of the sale", func() (bool, error) {
			n := query(`SELECT count() FROM %s.touch_credits FINAL WHERE site_id = ? AND conversion_id = ? AND removed = 0
				AND channel = 'Paid Search' AND `+model.CreditColumn(m)+` = 1`, siteID, order)
			return n == 1, nil
		})
	}
	if n := query(`SELECT count() FROM %s.sessions FINAL WHERE site_id = ? AND visitor_id = ? AND deleted = 0`, siteID, buyer); n != 1 {
		t.Fatalf("%d sessions for the buyer, want 1 (no PayPal session)", n)
	}
	if n := query(`SELECT count() FROM %s.events FINAL WHERE site_id = ? AND event_id = ?`, siteID, search); n != 1 {
		t.Fatalf("the search submit is not stored as an event")
	}
	if n := query(`SELECT count() FROM %s.conversions FINAL WHERE site_id = ? AND conversion_id = ?`, siteID, search); n != 0 {
		t.Fatalf("the site search became a lead")
	}
	if n := query(`SELECT count() FROM %s.touch_credits FINAL WHERE site_id = ? AND conversion_id = ?`, siteID, botLead); n != 0 {
		t.Fatalf("the bot's lead was credited (%d rows)", n)
	}
}
