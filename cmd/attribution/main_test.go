package main

import (
	"context"
	"encoding/json"
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

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/webhook"
	"touchpoint/internal/testenv"
)

func status(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitHealthy(t *testing.T, p *testenv.Process, url string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, url, func() (bool, error) {
		select {
		case <-exited(p):
			return false, fmt.Errorf("exited: %s", p.Output())
		default:
		}
		resp, err := http.Get(url)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, nil
	})
}

func exited(p *testenv.Process) <-chan struct{} {
	c := make(chan struct{})
	go func() { p.Wait(); close(c) }()
	return c
}

// The attribution service loads its sites as the collector does: a rotated admin token in
// TP_ADMIN_TOKEN replaces the file's, and TP_SITE_<ID>_LOOKBACK_DAYS is the window it uses.
func TestEnvironmentOverridesTheSitesFile(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	file := filepath.Join(t.TempDir(), "sites.json")
	sites := `{"admin_token_sha256": "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c",
		"sites": [{"id": "env-site", "origins": ["https://example.com"], "lookback_days": 90}]}`
	if err := os.WriteFile(file, []byte(sites), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TP_ADMIN_TOKEN", "rotated-admin-token")
	t.Setenv("TP_SITE_ENV_SITE_LOOKBACK_DAYS", "14")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	p := testenv.Start(t, testenv.Binary(t, "./cmd/attribution"), "-http.listen", addr, "-metrics.listen", "", "-sites", file, "-clickhouse.database", db)
	waitHealthy(t, p, "http://"+addr+"/healthz")

	url := "http://" + addr + "/api/v1/webhooks/deliveries?site=env-site"
	if got := status(t, url, "demo-admin"); got != http.StatusUnauthorized {
		t.Fatalf("the file's admin token after rotation: status %d, want 401", got)
	}
	if got := status(t, url, "rotated-admin-token"); got != http.StatusOK {
		t.Fatalf("the rotated admin token: status %d, want 200", got)
	}
	testenv.Eventually(t, 20*time.Second, "lookback of 14 days in use", func() (bool, error) {
		var days uint64
		err := conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT argMax(value, version) FROM %s.attribution_state
			WHERE site_id = 'env-site' AND name = 'lookback_days'`, db)).Scan(&days)
		return days == 14, err
	})
}

// With the development file's admin token, the service refuses to listen beyond loopback.
func TestRefusesDevelopmentSecretsOnAPublicAddress(t *testing.T) {
	_, db := testenv.FreshDatabase(t)
	bin := testenv.Binary(t, "./cmd/attribution")
	port := testenv.FreePort(t)
	p := testenv.Start(t, bin, "-http.listen", fmt.Sprintf("0.0.0.0:%d", port), "-metrics.listen", "", "-sites", "config/dev.json", "-clickhouse.database", db)
	select {
	case <-exited(p):
	case <-time.After(20 * time.Second):
		t.Fatal("the service started on 0.0.0.0 with the development admin token")
	}
	if err := p.Wait(); err == nil || !strings.Contains(p.Output(), "demo-admin") {
		t.Fatalf("exit %v, output:\n%s", err, p.Output())
	}
	// Secrets of its own: it serves.
	t.Setenv("TP_ADMIN_TOKEN", "a-long-random-admin-token")
	t.Setenv("TP_SITE_DEMO_SECRET", "a-long-random-site-secret")
	p = testenv.Start(t, bin, "-http.listen", fmt.Sprintf("0.0.0.0:%d", port), "-sites", "config/dev.json", "-clickhouse.database", db)
	waitHealthy(t, p, fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
}

// get returns the status and body of an admin request.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer demo-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The service starts before ClickHouse and keeps serving through its outages: /readyz says
// it waits for ClickHouse, report queries get a clear 503 with Retry-After, the dashboard
// is still served, and once ClickHouse is back it credits what arrived and sends the CRM
// webhook by itself.
func TestWaitsOutClickHouse(t *testing.T) {
	chAddr, stopCH, startCH := testenv.PrivateClickHouse(t)
	ctx := context.Background()
	conn := testenv.MigratedAt(t, chAddr, "touchpoint")
	db := &attrtest.DB{T: t, Conn: conn, Name: "touchpoint"}

	var mu sync.Mutex
	hooked := map[string]bool{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var l webhook.Payload
		json.NewDecoder(r.Body).Decode(&l)
		mu.Lock()
		hooked[l.Conversion.ID] = true
		mu.Unlock()
	}))
	defer hook.Close()
	sites := filepath.Join(t.TempDir(), "sites.json")
	cfg := fmt.Sprintf(`{"admin_token_sha256": "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c",
		"sites": [{"id": "demo", "origins": ["https://example.com"], "lookback_days": 30, "webhook_url": %q, "webhook_secret": "s"}]}`, hook.URL)
	if err := os.WriteFile(sites, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	stopCH()
	addr, metrics := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	p := testenv.Start(t, testenv.Binary(t, "./cmd/attribution"), "-http.listen", addr, "-metrics.listen", metrics, "-sites", sites,
		"-clickhouse.addr", chAddr, "-clickhouse.database", "touchpoint", "-poll", "200ms")
	waitHealthy(t, p, "http://"+addr+"/healthz")
	base := "http://" + addr
	report := base + "/api/v1/reports/sources?site=demo&model=first_click&from=" + time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02") +
		"&to=" + time.Now().UTC().Format("2006-01-02")
	away := func(when string) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, "/readyz waits for ClickHouse "+when, func() (bool, error) {
			code, body := get(t, base+"/readyz")
			return code == http.StatusServiceUnavailable && strings.Contains(body, `"dependency":"clickhouse"`), fmt.Errorf("%d %s", code, body)
		})
		req, _ := http.NewRequest(http.MethodGet, report, nil)
		req.Header.Set("Authorization", "Bearer demo-admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("a report %s: %d (Retry-After %q), want 503 with Retry-After", when, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if code, body := get(t, base+"/"); code != http.StatusOK || !strings.Contains(body, "<html") {
			t.Fatalf("the dashboard %s: %d", when, code)
		}
		if code, _ := get(t, "http://"+metrics+"/metrics"); code != http.StatusOK {
			t.Fatalf("/metrics %s: %d", when, code)
		}
		select {
		case <-exited(p):
			t.Fatalf("exited %s:\n%s", when, p.Output())
		default:
		}
	}
	credited := func(id string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, id+" credited and its webhook sent", func() (bool, error) {
			var n uint64
			err := conn.QueryRow(ctx, `SELECT count() FROM touchpoint.attributions_current WHERE conversion_id = ?`, id).Scan(&n)
			mu.Lock()
			sent := hooked[id]
			mu.Unlock()
			return n > 0 && sent, err
		})
	}
	// Readiness is checked every 2 s: reports answer again within a few seconds.
	back := func(when string) {
		t.Helper()
		testenv.Eventually(t, 15*time.Second, "/readyz and reports answering "+when, func() (bool, error) {
			code, body := get(t, base+"/readyz")
			rcode, rbody := get(t, report)
			return code == http.StatusOK && rcode == http.StatusOK, fmt.Errorf("/readyz %d %s; report %d %s", code, body, rcode, rbody)
		})
	}
	lead := func(id string) {
		t.Helper()
		at := time.Now().UTC().Add(-time.Hour)
		person := "p-" + id
		db.Session(attrtest.Session{Site: "demo", Person: person, At: at.Add(-time.Hour), Channel: "Organic Search", Source: "google", Medium: "organic"})
		db.Conversion(attrtest.Conversion{Site: "demo", ID: id, Type: "lead", LeadType: "form", Person: person, At: at})
	}

	away("at start")
	time.Sleep(3 * time.Second)
	away("3 s later")
	startCH()
	lead("lead-1")
	credited("lead-1")
	back("once ClickHouse is up")

	stopCH()
	away("during an outage")
	time.Sleep(5 * time.Second)
	away("5 s into the outage")
	startCH()
	lead("lead-2")
	credited("lead-2")
	back("after the outage")
}
