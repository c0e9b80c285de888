package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/attribution/meta"
	"touchpoint/attribution/meta/metatest"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

// A Facebook ad click, the browser's _fbc and _fbp and a sale posted by the shop's server
// go through the collector, the stitcher and the attribution service to a local stand-in
// of the Meta Conversions API, which checks every field: the event is the sale (event_id
// its id, for deduplication with the pixel), with the cookies, the hashed email, the
// anonymised address, the user agent, the page and the value in its own currency. The
// access token, given in the environment, is never in any log.
func TestMetaConversionsAPIEndToEnd(t *testing.T) {
	testenv.CollectorURL(t) // the shared stack (Kafka, stitcher) must run
	_, db := testenv.ClickHouse(t)
	siteID := "e2e-meta-" + uuid.NewString()[:8]
	token := "EAAG" + strings.ReplaceAll(uuid.NewString(), "-", "")
	rcv := metatest.New("987654321", token)
	defer rcv.Close()
	t.Setenv(site.EnvPrefix(siteID)+"META_ACCESS_TOKEN", token)

	file := filepath.Join(t.TempDir(), "sites.json")
	sites := fmt.Sprintf(`{"admin_token_sha256": "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c", "sites": [
		{"id": %q, "origins": ["http://127.0.0.1:*"], "secret_sha256": "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf",
		 "meta": {"pixel_id": "987654321", "endpoint": %q}}]}`, siteID, rcv.URL)
	if err := os.WriteFile(file, []byte(sites), 0o600); err != nil {
		t.Fatal(err)
	}
	collectorAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	attributionAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	col := testenv.Start(t, testenv.Binary(t, "./cmd/collector"), "-http.listen", collectorAddr, "-metrics.listen", "", "-sites", file,
		"-spool.dir", t.TempDir())
	attr := testenv.Start(t, testenv.Binary(t, "./cmd/attribution"), "-http.listen", attributionAddr, "-metrics.listen", "", "-sites", file,
		"-clickhouse.database", db, "-poll", "200ms", "-webhook.backoff", "200ms")
	collector, attribution := "http://"+collectorAddr, "http://"+attributionAddr
	waitHealthy(t, collector+"/healthz")
	waitHealthy(t, attribution+"/healthz")

	now := time.Now().UTC().Truncate(time.Second)
	vid := uuid.NewString()
	ua := "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	fbclid := "IwZXh0bgNhZW0CMTAAAR2F4-dbP0l7Mn1_" + vid[:8]
	fbc := meta.FBC(now.Add(-3*time.Hour), fbclid)
	fbp := "fb.1.1764000000000.1098115397"
	landing := "https://shop.example.com/pricing?utm_source=facebook&utm_medium=paid_social&fbclid=" + fbclid
	send(t, collector+"/v1/import", event.Batch{Site: siteID, Events: []event.Event{
		{ID: uuid.NewString(), Type: "pageview", TS: now.Add(-3 * time.Hour).UnixMilli(), VID: vid, URL: landing, Ref: "https://m.facebook.com/",
			UA: ua, IP: "86.128.5.77", Fbc: fbc, Fbp: fbp},
		{ID: uuid.NewString(), Type: "pageview", TS: now.Add(-2 * time.Hour).UnixMilli(), VID: vid, URL: "https://shop.example.com/checkout",
			UA: ua, IP: "86.128.5.77", Fbc: fbc, Fbp: fbp},
	}})
	saleID := "order-" + vid[:8]
	send(t, collector+"/v1/conversions", map[string]any{"site": siteID, "conversion_id": saleID, "type": "sale", "visitor_id": vid,
		"email": " Buyer@Example.COM ", "value": 49.9, "currency": "USD", "occurred_at": now.Add(-time.Hour).Format(time.RFC3339)})

	testenv.Eventually(t, 40*time.Second, "the Purchase at the Conversions API", func() (bool, error) {
		if r := rcv.Refusals(); len(r) > 0 {
			return false, fmt.Errorf("refused: %v", r)
		}
		return len(rcv.Events()) == 1, nil
	})
	e := rcv.Events()[0]
	u := e.UserData
	if e.EventName != "Purchase" || e.EventID != saleID || e.EventTime != now.Add(-time.Hour).Unix() || e.ActionSource != "website" ||
		e.EventSourceURL != "https://shop.example.com/checkout" || u.Fbc != fbc || u.Fbp != fbp || u.ClientIP != "86.128.5.0" ||
		u.ClientUA != ua || len(u.Em) != 1 || u.Em[0] != event.EmailSHA256("buyer@example.com") || e.CustomData == nil ||
		e.CustomData.Value != 49.9 || e.CustomData.Currency != "USD" {
		t.Fatalf("event at Meta: %+v", e)
	}

	var list struct {
		Deliveries []struct {
			Target, Event, State, URL string
		} `json:"deliveries"`
	}
	testenv.Eventually(t, 10*time.Second, "the delivery listed as delivered", func() (bool, error) {
		getJSON(t, attribution+"/api/v1/webhooks/deliveries?site="+siteID+"&target=meta", &list)
		return len(list.Deliveries) == 1 && list.Deliveries[0].State == "delivered", nil
	})
	if d := list.Deliveries[0]; d.Event != "Purchase" || d.URL != rcv.URL+"/987654321/events" {
		t.Fatalf("delivery %+v", d)
	}
	for name, p := range map[string]*testenv.Process{"collector": col, "attribution": attr} {
		if strings.Contains(p.Output(), token) {
			t.Fatalf("the %s log holds the access token:\n%s", name, p.Output())
		}
	}
}
