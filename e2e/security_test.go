package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// postBrowser sends events to /e as anyone can: no secret, the site's own origin, a
// browser's user agent (not one flagged as a bot).
func postBrowser(t *testing.T, collector, site string, evs ...event.Event) int {
	t.Helper()
	b, _ := json.Marshal(event.Batch{Site: site, Events: evs})
	req, _ := http.NewRequest(http.MethodPost, collector+"/e", bytes.NewReader(b))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "http://127.0.0.1:3000")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A sale recorded by the CRM through /v1/conversions cannot be overwritten, hidden or
// taken over from the public endpoint: not by a browser conversion reusing its id (in any
// spelling), nor by a browser claiming the customer's email, nor with absurd values.
func TestBrowserCannotOverwriteCRMConversion(t *testing.T) {
	testenv.CollectorURL(t) // the shared stack (Kafka, stitcher) must run
	conn, db := testenv.ClickHouse(t)
	siteID := "e2e-sec-" + uuid.NewString()[:8]
	_, collector, attribution, _ := startServices(t, db, fmt.Sprintf(`{"id": %q, "origins": ["http://127.0.0.1:*"],
		"secret_sha256": "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf"}`, siteID))

	now := time.Now().UTC().Truncate(time.Second)
	victim, attacker := uuid.NewString(), uuid.NewString()
	email := "customer." + siteID + "@example.com"
	saleID := "sale-" + siteID
	if code := postBrowser(t, collector, siteID, event.Event{ID: uuid.NewString(), Type: "pageview", TS: now.Add(-time.Hour).UnixMilli(), VID: victim,
		URL: "https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand"}); code != 204 {
		t.Fatalf("victim's pageview: %d", code)
	}
	send(t, collector+"/v1/conversions", map[string]any{"site": siteID, "conversion_id": saleID, "type": "sale", "value": 100,
		"currency": "EUR", "email": email, "visitor_id": victim, "occurred_at": now.Add(-30 * time.Minute).Format(time.RFC3339)})

	type journey struct {
		PersonID   string `json:"person_id"`
		Conversion struct {
			ConversionID string  `json:"conversion_id"`
			Type         string  `json:"type"`
			Value        float64 `json:"value"`
			Currency     string  `json:"currency"`
		} `json:"conversion"`
		Touchpoints []struct {
			Campaign string `json:"campaign"`
		} `json:"touchpoints"`
	}
	var before journey
	testenv.Eventually(t, 30*time.Second, "the sale's journey", func() (bool, error) {
		resp, err := authGet(attribution + "/api/v1/journeys?site=" + siteID + "&conversion_id=" + saleID)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&before) == nil && len(before.Touchpoints) == 1 &&
			before.Touchpoints[0].Campaign == "brand", nil
	})

	// The attack, from the public endpoint without any secret.
	conv := func(id string, c *event.ConversionInfo) event.Event {
		return event.Event{ID: id, Type: "conversion", TS: now.UnixMilli(), VID: attacker, URL: "https://shop.example.com/thanks", Conversion: c}
	}
	attackerPage := event.Event{ID: uuid.NewString(), Type: "pageview", TS: now.UnixMilli() - 1000, VID: attacker,
		URL: "https://shop.example.com/?utm_source=spam&utm_medium=cpc&utm_campaign=steal"}
	accepted := []event.Event{attackerPage,
		conv(uuid.NewString(), &event.ConversionInfo{ID: saleID, Type: "lead"}),
		conv(uuid.NewString(), &event.ConversionInfo{ID: strings.ToUpper(saleID), Type: "lead"}),
		conv(uuid.NewString(), &event.ConversionInfo{ID: " " + saleID + "\t", Type: "lead"}),
		{ID: uuid.NewString(), Type: "identify", TS: now.UnixMilli(), VID: attacker, Traits: map[string]string{"Email": strings.ToUpper(email)}},
		{ID: uuid.NewString(), Type: "form_submit", TS: now.UnixMilli(), VID: attacker, Traits: map[string]string{"email": email},
			Form: &event.Form{ID: "contact", Fields: []string{"email"}}},
	}
	if code := postBrowser(t, collector, siteID, accepted...); code != 204 {
		t.Fatalf("attacker's events: status %d", code)
	}
	for _, refused := range []event.Event{
		conv(uuid.NewString(), &event.ConversionInfo{ID: saleID, Type: "sale", Value: 1e15, Currency: "EUR"}),
		conv(uuid.NewString(), &event.ConversionInfo{ID: "x-" + siteID, Type: "sale", Value: -100, Currency: "EUR"}),
		conv(uuid.NewString(), &event.ConversionInfo{ID: saleID, Type: "customer"}),
		// The event id the collector gave the CRM's call: anyone can compute it.
		conv(uuid.NewSHA1(uuid.MustParse("3f1c8d52-6a8e-4b7e-9f0a-6d2b5c1e7a90"), []byte("conversion\x00"+siteID+"\x00"+saleID)).String(),
			&event.ConversionInfo{ID: saleID, Type: "lead"}),
	} {
		if code := postBrowser(t, collector, siteID, refused); code != 400 {
			t.Fatalf("%+v: status %d, want 400", refused.Conversion, code)
		}
	}
	testenv.Eventually(t, 30*time.Second, "the attacker's events stored", func() (bool, error) {
		var n uint64
		err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM %s.events FINAL WHERE site_id = ? AND visitor_id = ?", db),
			siteID, attacker).Scan(&n)
		return n == uint64(len(accepted)), err
	})
	time.Sleep(time.Second) // one more pass of the attribution service

	var after journey
	getJSON(t, attribution+"/api/v1/journeys?site="+siteID+"&conversion_id="+saleID, &after)
	if after.PersonID != before.PersonID || after.Conversion.Type != "sale" || after.Conversion.Value != 100 || after.Conversion.Currency != "EUR" ||
		len(after.Touchpoints) != 1 || after.Touchpoints[0].Campaign != "brand" {
		t.Fatalf("the CRM's sale after the attack: %+v, before %+v", after, before)
	}
	// Looked up by the customer's email, it is still the customer's journey.
	req, _ := http.NewRequest(http.MethodPost, attribution+"/api/v1/journeys?site="+siteID, strings.NewReader(`{"email":"`+email+`"}`))
	req.Header.Set("Authorization", "Bearer demo-admin")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var byEmail journey
	if err := json.NewDecoder(resp.Body).Decode(&byEmail); err != nil || resp.StatusCode != 200 || byEmail.PersonID != before.PersonID ||
		byEmail.Conversion.ConversionID != saleID {
		t.Fatalf("journey by email after the attack: %d %+v (%v)", resp.StatusCode, byEmail, err)
	}
}

func authGet(url string) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer demo-admin")
	return http.DefaultClient.Do(req)
}
