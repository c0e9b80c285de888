package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
	"touchpoint/internal/kafkabus"
	"touchpoint/internal/testenv"
	"touchpoint/stitcher/identity"
)

// adminDo sends a request to the reports API with the admin token and decodes the JSON
// answer into out; it returns the status.
func adminDo(t *testing.T, method, url string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer demo-admin")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, url, resp.Status, err)
		}
	}
	return resp.StatusCode
}

// A person with a laptop and a phone joined by an email, a CRM user id, a lead and a sale
// credited and sent to the CRM is erased through the API: afterwards no row of any table
// holds their visitor ids, person ids, email (or its hash), user id or conversion ids; an
// event of theirs still on Kafka is dropped when it arrives; another person's credit and
// the source report of the rest are as before; the audit record keeps no identifier.
func TestErasureThroughTheAPI(t *testing.T) {
	testenv.CollectorURL(t) // the shared stack (Kafka, stitcher) must run
	conn, db := testenv.ClickHouse(t)
	kc := testenv.KafkaConfig(t)
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer crm.Close()
	siteID := "e2e-erase-" + uuid.NewString()[:8]
	_, collector, attribution, _ := startServices(t, db, fmt.Sprintf(`{"id": %q, "origins": ["http://127.0.0.1:*"],
		"secret_sha256": "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf",
		"webhook_url": %q, "webhook_secret": "s"}`, siteID, crm.URL), "-privacy.grace", "3s", "-rollup.interval", "1s", "-rollup.margin", "1s")

	now := time.Now().UTC().Truncate(time.Second)
	at := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	laptop, phone, other := uuid.NewString(), uuid.NewString(), uuid.NewString()
	email := "Erase.Me." + siteID + "@Example.com"
	user := "crm-" + siteID
	formID := uuid.NewString()
	send(t, collector+"/v1/import", event.Batch{Site: siteID, Events: []event.Event{
		{ID: uuid.NewString(), Type: "pageview", TS: at(50 * time.Hour), VID: laptop, URL: "https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand"},
		{ID: formID, Type: "form_submit", TS: at(49 * time.Hour), VID: laptop, URL: "https://shop.example.com/demo", Form: &event.Form{ID: "demo", Fields: []string{"email"}}},
		{ID: uuid.NewString(), Type: "identify", TS: at(49 * time.Hour), VID: laptop, URL: "https://shop.example.com/demo", Traits: map[string]string{"email": email}},
		{ID: uuid.NewString(), Type: "pageview", TS: at(26 * time.Hour), VID: phone, URL: "https://shop.example.com/?utm_source=newsletter&utm_medium=email"},
		{ID: uuid.NewString(), Type: "identify", TS: at(26 * time.Hour), VID: phone, URL: "https://shop.example.com/", Traits: map[string]string{"email": email}},
		{ID: uuid.NewString(), Type: "pageview", TS: at(30 * time.Hour), VID: other, URL: "https://shop.example.com/?utm_source=bing&utm_medium=organic"},
	}})
	send(t, collector+"/v1/identify", map[string]any{"site": siteID, "visitor_id": laptop, "email": email, "user_id": user})
	send(t, collector+"/v1/conversions", map[string]any{"site": siteID, "conversion_id": "sale-" + siteID, "type": "sale", "user_id": user,
		"value": 300, "currency": "EUR", "occurred_at": now.Add(-2 * time.Hour).Format(time.RFC3339)})
	send(t, collector+"/v1/conversions", map[string]any{"site": siteID, "conversion_id": "lead-other-" + siteID, "type": "lead", "lead_type": "call",
		"visitor_id": other, "occurred_at": now.Add(-29 * time.Hour).Format(time.RFC3339)})

	count := func(q string, args ...any) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(context.Background(), fmt.Sprintf(q, db), args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	testenv.Eventually(t, 60*time.Second, "both persons' conversions credited and the lead sent to the CRM", func() (bool, error) {
		return count("SELECT uniqExact(conversion_id) FROM %s.touch_credits WHERE site_id = ?", siteID) == 3 &&
			count("SELECT count() FROM %s.webhook_deliveries WHERE site_id = ?", siteID) > 0, nil
	})
	// The other person's credit: every model's credited touches of their lead.
	otherCredits := func() uint64 {
		return count("SELECT count() FROM %s.attributions_current WHERE site_id = ? AND conversion_id = ?", siteID, "lead-other-"+siteID)
	}
	otherCredit := otherCredits()

	// Export, by the email in a POST body: the rows of both devices.
	var exp struct {
		Visitors []string                    `json:"visitor_ids"`
		Tables   map[string][]map[string]any `json:"tables"`
	}
	if code := adminDo(t, http.MethodPost, attribution+"/api/v1/privacy/export?site="+siteID, map[string]string{"email": email}, &exp); code != 200 {
		t.Fatalf("export: %d", code)
	}
	for _, table := range []string{"events", "sessions", "identities", "conversions", "touch_credits", "webhook_deliveries", "server_links"} {
		if len(exp.Tables[table]) == 0 {
			t.Fatalf("export has no %s: %v", table, exp.Tables)
		}
	}
	if len(exp.Visitors) != 2 {
		t.Fatalf("export visitors %v, want the laptop and the phone", exp.Visitors)
	}

	// Erase, the site named in the body; follow the status.
	var started struct {
		Erasure struct {
			ID string `json:"id"`
		} `json:"erasure"`
		StatusURL string `json:"status_url"`
	}
	if code := adminDo(t, http.MethodPost, attribution+"/api/v1/privacy/erase", map[string]string{"site": siteID, "email": email}, &started); code != http.StatusAccepted {
		t.Fatalf("erase: %d", code)
	}
	var status struct {
		Status      string            `json:"status"`
		Error       string            `json:"error"`
		Rows        map[string]uint64 `json:"rows"`
		RequestedBy string            `json:"requested_by"`
		RequestedAt time.Time         `json:"requested_at"`
	}
	testenv.Eventually(t, 90*time.Second, "erasure done", func() (bool, error) {
		adminDo(t, http.MethodGet, attribution+started.StatusURL, nil, &status)
		return status.Status != "running", nil
	})
	if status.Status != "done" || status.Rows["events"] < 5 || status.Rows["conversions"] < 2 || status.RequestedBy != "admin" {
		t.Fatalf("erasure: %+v", status)
	}

	// An event of the laptop that the collector took before the erasure, still on Kafka.
	p, err := kafkabus.NewProducer(kc, kafkabus.ProducerConfig{Topic: kc.Topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	late := func(vid string, received time.Time) string {
		e := event.Enriched{Event: event.Event{ID: uuid.NewString(), Type: "pageview", TS: received.UnixMilli(), VID: vid, URL: "https://shop.example.com/late"},
			Site: siteID, ReceivedAt: received.UnixMilli(), Origin: event.OriginWeb}
		b, err := event.AppendJSON(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Produce(context.Background(), kafkabus.Message{Key: []byte(siteID + vid), Value: b}); err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	late(laptop, status.RequestedAt.Add(-time.Second))
	marker := late(other, time.Now())
	testenv.Eventually(t, 30*time.Second, "a later event stored", func() (bool, error) {
		return count("SELECT count() FROM %s.events WHERE site_id = ? AND toString(event_id) = ?", siteID, marker) == 1, nil
	})

	own := func(kind byte, v string) string { return identity.OwnID(siteID, identity.Key{Kind: kind, Value: v}) }
	hash := event.EmailSHA256(email)
	needles := []string{laptop, phone, hash, user, strings.ToLower(email), email, formID, "sale-" + siteID,
		own('v', laptop), own('v', phone), own('e', hash), own('u', user)}
	if left := testenv.RowsContaining(t, conn, db, needles); len(left) > 0 {
		t.Fatalf("rows of the erased person left: %v", left)
	}
	if n := otherCredits(); n != otherCredit || n == 0 {
		t.Fatalf("the other person's credit rows: %d, were %d", n, otherCredit)
	}
	var audit struct {
		Hash, Kind, By string
	}
	if err := conn.QueryRow(context.Background(), "SELECT identifier_hash, kind, requested_by FROM "+db+".privacy_erasures FINAL WHERE site_id = ?", siteID).
		Scan(&audit.Hash, &audit.Kind, &audit.By); err != nil {
		t.Fatal(err)
	}
	if audit.Hash == hash || len(audit.Hash) != 64 || audit.Kind != "email" || audit.By != "admin" {
		t.Fatalf("audit record %+v", audit)
	}
	// The source report has the other person only, once the erased days were rebuilt.
	day := now.Format("2006-01-02")
	from := now.AddDate(0, 0, -5).Format("2006-01-02")
	testenv.Eventually(t, 30*time.Second, "the source report without the erased person", func() (bool, error) {
		var rep struct {
			Totals struct {
				Sessions uint64  `json:"sessions"`
				Leads    float64 `json:"leads"`
				Sales    float64 `json:"sales"`
			} `json:"totals"`
		}
		adminDo(t, http.MethodGet, attribution+"/api/v1/reports/sources?site="+siteID+"&from="+from+"&to="+day+"&model=last_click", nil, &rep)
		return rep.Totals.Sessions == 2 && rep.Totals.Leads == 1 && rep.Totals.Sales == 0, nil
	})
}
