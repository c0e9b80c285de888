package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	p := testenv.Start(t, testenv.Binary(t, "./cmd/attribution"), "-http.listen", addr, "-sites", file, "-clickhouse.database", db)
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
	p := testenv.Start(t, bin, "-http.listen", fmt.Sprintf("0.0.0.0:%d", port), "-sites", "config/dev.json", "-clickhouse.database", db)
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
