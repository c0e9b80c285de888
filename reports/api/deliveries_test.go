package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"touchpoint/attribution/webhook"
)

// The deliveries list, one delivery with its body and attempts, and "send again", which
// makes a failed delivery pending and hands it to the sender at once.
func TestDeliveriesAndSendAgain(t *testing.T) {
	w := newWorld(t)
	q := &webhook.Store{Conn: w.conn, DB: w.db.Name}
	var resent []webhook.Delivery
	w.srv.Config.Handler = (&Server{Sites: w.sites, Reports: w.store, Deliveries: q,
		Resent: func(ds ...webhook.Delivery) { resent = append(resent, ds...) }}).Handler()
	ctx := context.Background()
	made := time.Date(2026, 10, 20, 9, 0, 0, 0, time.UTC)
	failed := webhook.Delivery{Site: "s1", ID: "dlv_failed", Target: webhook.TargetWebhook, Event: webhook.LeadCreated, ConversionID: "lead-1",
		URL: "https://crm.example/hook", Payload: []byte(`{"id":"dlv_failed","event":"lead.created"}`), State: webhook.Failed, Attempts: 3,
		Status: 404, Error: "answered 404 Not Found", CreatedAt: made}
	meta := webhook.Delivery{Site: "s1", ID: "dlv_meta", Target: webhook.TargetMeta, Event: "Lead", ConversionID: "lead-1",
		Payload: []byte(`{"data":[]}`), State: webhook.Pending, Attempts: 1, NextAttemptAt: made.Add(time.Minute), CreatedAt: made.Add(time.Second)}
	other := failed
	other.Site = "s2"
	if err := q.Save(ctx, failed, meta, other); err != nil {
		t.Fatal(err)
	}
	q.Record(ctx, webhook.Attempt{Site: "s1", DeliveryID: "dlv_failed", Target: webhook.TargetWebhook, ConversionID: "lead-1", URL: failed.URL,
		Attempt: 3, Status: 404, Error: failed.Error, At: made})

	var list struct {
		Deliveries []delivery `json:"deliveries"`
	}
	if code := get(t, w.srv.URL+"/api/v1/webhooks/deliveries?site=s1", "demo-admin", &list); code != 200 || len(list.Deliveries) != 2 ||
		list.Deliveries[0].ID != "dlv_meta" || list.Deliveries[0].NextRetryAt == nil || list.Deliveries[1].Error != failed.Error ||
		list.Deliveries[1].Delivered || list.Deliveries[1].State != "failed" || list.Deliveries[1].Attempts != 3 {
		t.Fatalf("list: %d %+v", code, list)
	}
	if get(t, w.srv.URL+"/api/v1/webhooks/deliveries?site=s1&state=failed&target=webhook", "demo-admin", &list); len(list.Deliveries) != 1 {
		t.Fatalf("failed webhooks: %+v", list)
	}
	var one struct {
		Delivery delivery        `json:"delivery"`
		Payload  json.RawMessage `json:"payload"`
		Attempts []attempt       `json:"attempts"`
	}
	if code := get(t, w.srv.URL+"/api/v1/webhooks/deliveries/dlv_failed?site=s1", "demo-admin", &one); code != 200 ||
		string(one.Payload) != `{"id":"dlv_failed","event":"lead.created"}` || len(one.Attempts) != 1 || one.Attempts[0].Status != 404 {
		t.Fatalf("one: %d %+v %s", code, one, one.Payload)
	}

	code, out := w.post("/api/v1/webhooks/deliveries/dlv_failed/retry?site=s1", "application/json", "")
	if code != http.StatusAccepted || out["delivery"].(map[string]any)["state"] != "pending" || len(resent) != 1 || resent[0].Attempts != 0 {
		t.Fatalf("send again: %d %v, handed %+v", code, out, resent)
	}
	if got, _ := q.Get(ctx, "s1", "dlv_failed"); got.State != webhook.Pending || got.Attempts != 0 || got.Error != "" {
		t.Fatalf("stored after send again: %+v", got)
	}
	if got, _ := q.Get(ctx, "s2", "dlv_failed"); got.State != webhook.Failed {
		t.Fatalf("the other site's delivery changed: %+v", got)
	}

	for path, want := range map[string]int{
		"/api/v1/webhooks/deliveries/dlv_none?site=s1":   404,
		"/api/v1/webhooks/deliveries?site=s1&state=lost": 400,
		"/api/v1/webhooks/deliveries?site=s1&limit=0":    400,
		"/api/v1/webhooks/deliveries/dlv_failed?site=s3": 404,
	} {
		if code := get(t, w.srv.URL+path, "demo-admin", nil); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
	if code, _ := w.post("/api/v1/webhooks/deliveries/dlv_none/retry?site=s1", "application/json", ""); code != 404 {
		t.Errorf("send again of nothing: %d", code)
	}
	// Without a queue (a service that has none) the endpoints say so.
	bare := httptest.NewServer((&Server{Sites: w.sites, Reports: w.store}).Handler())
	defer bare.Close()
	if code := get(t, bare.URL+"/api/v1/webhooks/deliveries?site=s1", "demo-admin", nil); code != 503 {
		t.Errorf("without a queue: %d", code)
	}
}
