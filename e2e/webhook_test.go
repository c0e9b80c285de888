package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// A CRM that hangs blocks nothing: leads are credited on time while their webhooks wait.
// The attribution service is then killed with deliveries pending; the one started after
// it sends them once the CRM answers again, each exactly once.
func TestWebhooksOutliveAHungCRMAndARestart(t *testing.T) {
	testenv.CollectorURL(t) // the shared stack (Kafka, stitcher) must run
	conn, db := testenv.ClickHouse(t)
	var mu sync.Mutex
	mode := "hang"
	got := map[string]int{}
	release := make(chan struct{})
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
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
		}
		mu.Lock()
		got[r.Header.Get("X-Touchpoint-Delivery")]++
		mu.Unlock()
		_ = body
	}))
	defer crm.Close()
	defer close(release)

	siteID := "e2e-hook-" + uuid.NewString()[:8]
	file := filepath.Join(t.TempDir(), "sites.json")
	sites := fmt.Sprintf(`{"admin_token_sha256": "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c", "sites": [
		{"id": %q, "origins": ["http://127.0.0.1:*"], "secret_sha256": "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf",
		 "webhook_url": %q, "webhook_secret": "s"}]}`, siteID, crm.URL)
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
	var leads []string
	for i := range 5 {
		vid := uuid.NewString()
		form := uuid.NewString()
		leads = append(leads, form)
		send(t, collector+"/v1/import", event.Batch{Site: siteID, Events: []event.Event{
			{ID: uuid.NewString(), Type: "pageview", TS: now.Add(-time.Hour).UnixMilli(), VID: vid, URL: fmt.Sprintf("https://shop.example.com/?gclid=G%d", i)},
			{ID: form, Type: "form_submit", TS: now.Add(-50 * time.Minute).UnixMilli(), VID: vid, URL: "https://shop.example.com/demo",
				Form: &event.Form{ID: "demo", Fields: []string{"email"}}, Traits: event.Traits{"email": fmt.Sprintf("hung%d@example.com", i)}},
		}})
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
		return count(`SELECT uniqExact(conversion_id) FROM %s.attributions FINAL WHERE site_id = ? AND removed = 0`) == 5, nil
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
	_, base := attribution()
	testenv.Eventually(t, 40*time.Second, "every webhook delivered by the next service", func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 5, nil
	})
	var list struct {
		Deliveries []struct {
			ConversionID string `json:"conversion_id"`
			State        string `json:"state"`
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
	defer mu.Unlock()
	for id, n := range got {
		if n != 1 {
			t.Fatalf("delivery %s received %d times", id, n)
		}
	}
}
