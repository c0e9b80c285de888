package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// A CRM that hangs blocks nothing: leads are credited on time while their webhooks wait.
// The attribution service is then killed with deliveries pending; the one started after
// it sends them once the CRM answers again, each exactly once. A CRM that refuses a
// webhook (410) is not asked forever: the delivery shows as failed with the CRM's answer,
// and "send again" delivers it once the CRM is fixed. No log holds the webhook's secret
// or the key in its URL.
func TestWebhooksOutliveAHungCRMAndARestart(t *testing.T) {
	testenv.CollectorURL(t) // the shared stack (Kafka, stitcher) must run
	conn, db := testenv.ClickHouse(t)
	var mu sync.Mutex
	mode := "hang"
	got := map[string]int{}
	release := make(chan struct{})
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		m := mode
		mu.Unlock()
		switch m {
		case "hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		case "down":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		case "gone":
			http.Error(w, "no such hook", http.StatusGone)
			return
		}
		mu.Lock()
		got[r.Header.Get("X-Touchpoint-Delivery")]++
		mu.Unlock()
	}))
	defer crm.Close()
	defer close(release)

	siteID := "e2e-hook-" + uuid.NewString()[:8]
	secret, key := "whsec_"+uuid.NewString(), "key"+uuid.NewString()[:13]
	file := filepath.Join(t.TempDir(), "sites.json")
	sites := fmt.Sprintf(`{"admin_token_sha256": "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c", "sites": [
		{"id": %q, "origins": ["http://127.0.0.1:*"], "secret_sha256": "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf",
		 "webhook_url": %q, "webhook_secret": %q}]}`, siteID, crm.URL+"/hook?key="+key, secret)
	if err := os.WriteFile(file, []byte(sites), 0o600); err != nil {
		t.Fatal(err)
	}
	collectorAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	testenv.Start(t, testenv.Binary(t, "./cmd/collector"), "-http.listen", collectorAddr, "-metrics.listen", "", "-sites", file,
		"-spool.dir", t.TempDir())
	collector := "http://" + collectorAddr
	waitHealthy(t, collector+"/healthz")
	attribution := func() (*testenv.Process, string) {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		p := testenv.Start(t, testenv.Binary(t, "./cmd/attribution"), "-http.listen", addr, "-metrics.listen", "", "-sites", file,
			"-clickhouse.database", db, "-poll", "200ms", "-lease", "2s", "-webhook.timeout", "30s", "-webhook.backoff", "300ms", "-webhook.workers", "2")
		waitHealthy(t, "http://"+addr+"/healthz")
		return p, "http://" + addr
	}
	first, _ := attribution()

	now := time.Now().UTC()
	lead := func(i int) string {
		vid, form := uuid.NewString(), uuid.NewString()
		send(t, collector+"/v1/import", event.Batch{Site: siteID, Events: []event.Event{
			{ID: uuid.NewString(), Type: "pageview", TS: now.Add(-time.Hour).UnixMilli(), VID: vid, URL: fmt.Sprintf("https://shop.example.com/?gclid=G%d", i)},
			{ID: form, Type: "form_submit", TS: now.Add(-50 * time.Minute).UnixMilli(), VID: vid, URL: "https://shop.example.com/demo",
				Form: &event.Form{ID: "demo", Fields: []string{"email"}}, Traits: event.Traits{"email": fmt.Sprintf("hung%d@example.com", i)}},
		}})
		return form
	}
	for i := range 5 {
		lead(i)
	}
	// Two workers hang on the CRM; every lead is credited meanwhile, and waits in the queue.
	count := func(q string) uint64 {
		var n uint64
		if err := conn.QueryRow(t.Context(), fmt.Sprintf(q, db), siteID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	testenv.Eventually(t, 30*time.Second, "every lead credited while the CRM hangs", func() (bool, error) {
		return count(`SELECT uniqExact(conversion_id) FROM %s.touch_credits FINAL WHERE site_id = ? AND removed = 0`) == 5, nil
	})
	testenv.Eventually(t, 10*time.Second, "five webhooks in the queue", func() (bool, error) {
		return count(`SELECT count() FROM %s.delivery_queue FINAL WHERE site_id = ? AND state = 'pending'`) == 5, nil
	})

	// The CRM goes down for maintenance, the service is killed mid-flight.
	mu.Lock()
	mode = "down"
	mu.Unlock()
	first.Cmd.Process.Kill()
	first.Wait()
	mu.Lock()
	mode = "up"
	mu.Unlock()
	second, base := attribution()
	testenv.Eventually(t, 40*time.Second, "every webhook delivered by the next service", func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 5, nil
	})
	var list struct {
		Deliveries []struct {
			ID           string `json:"id"`
			ConversionID string `json:"conversion_id"`
			State        string `json:"state"`
			Attempts     int    `json:"attempts"`
			Status       int    `json:"status"`
			Error        string `json:"error"`
		} `json:"deliveries"`
	}
	testenv.Eventually(t, 10*time.Second, "listed as delivered", func() (bool, error) {
		getJSON(t, base+"/api/v1/webhooks/deliveries?site="+siteID, &list)
		n := 0
		for _, d := range list.Deliveries {
			if d.State == "delivered" {
				n++
			}
		}
		return n == 5, nil
	})
	time.Sleep(time.Second) // nothing is sent twice meanwhile
	mu.Lock()
	for id, n := range got {
		if n != 1 {
			t.Fatalf("delivery %s received %d times", id, n)
		}
	}
	mode = "gone"
	mu.Unlock()

	// The CRM refuses the next lead's webhook: three attempts, then failed, with its answer.
	form := lead(5)
	testenv.Eventually(t, 30*time.Second, "the refused webhook listed as failed", func() (bool, error) {
		getJSON(t, base+"/api/v1/webhooks/deliveries?site="+siteID+"&conversion_id="+form, &list)
		return len(list.Deliveries) == 1 && list.Deliveries[0].State == "failed", nil
	})
	if d := list.Deliveries[0]; d.Attempts != 3 || d.Status != http.StatusGone || !strings.Contains(d.Error, "410 Gone: no such hook") {
		t.Fatalf("the refused webhook as listed: %+v", d)
	}
	time.Sleep(time.Second) // and not tried again
	getJSON(t, base+"/api/v1/webhooks/deliveries?site="+siteID+"&conversion_id="+form, &list)
	if d := list.Deliveries[0]; d.State != "failed" || d.Attempts != 3 {
		t.Fatalf("a refused webhook tried again: %+v", d)
	}
	mu.Lock()
	mode = "up"
	mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/webhooks/deliveries/"+list.Deliveries[0].ID+"/retry?site="+siteID, nil)
	req.Header.Set("Authorization", "Bearer demo-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("send again: %s", resp.Status)
	}
	testenv.Eventually(t, 10*time.Second, "sent again and delivered", func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return got[list.Deliveries[0].ID] == 1, nil
	})
	for name, p := range map[string]*testenv.Process{"first": first, "second": second} {
		if out := p.Output(); strings.Contains(out, secret) || strings.Contains(out, key) {
			t.Fatalf("the %s attribution service's log holds the webhook's secret or key:\n%s", name, out)
		}
	}
}
