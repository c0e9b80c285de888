package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/testenv"
)

// The collector and the attribution service reload the site file on SIGHUP while they
// serve: under load no request fails, a site added to the file is served after the
// signal, and a broken file keeps the previous configuration and says why in the log.
func TestSitesReloadOnSIGHUPUnderLoad(t *testing.T) {
	testenv.CollectorURL(t) // Kafka and ClickHouse of the stack must run
	_, db := testenv.ClickHouse(t)
	siteA, siteB := "reload-a-"+uuid.NewString()[:8], "reload-b-"+uuid.NewString()[:8]
	siteJSON := func(id string) string {
		return fmt.Sprintf(`{"id": %q, "origins": ["http://127.0.0.1:*"], "secret_sha256": "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf"}`, id)
	}
	file := filepath.Join(t.TempDir(), "sites.json")
	write := func(body string) {
		t.Helper()
		// As configuration tools do: a new file renamed over the old one.
		tmp := file + ".new"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	config := func(sites ...string) string {
		return `{"admin_token_sha256": "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c", "sites": [` + strings.Join(sites, ",") + `]}`
	}
	write(config(siteJSON(siteA)))
	collectorAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	attributionAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	col := testenv.Start(t, testenv.Binary(t, "./cmd/collector"), "-http.listen", collectorAddr, "-metrics.listen", "", "-sites", file,
		"-spool.dir", t.TempDir(), "-ratelimit.ip", "0", "-ratelimit.site", "0")
	attr := testenv.Start(t, testenv.Binary(t, "./cmd/attribution"), "-http.listen", attributionAddr, "-metrics.listen", "", "-sites", file, "-clickhouse.database", db)
	collector, attribution := "http://"+collectorAddr, "http://"+attributionAddr
	waitHealthy(t, collector+"/healthz")
	waitHealthy(t, attribution+"/healthz")

	track := func(site string) (int, error) {
		b := &bytes.Buffer{}
		fmt.Fprintf(b, `{"site": %q, "events": [{"id": %q, "type": "pageview", "ts": %d, "vid": %q, "url": "https://example.com/"}]}`,
			site, uuid.NewString(), time.Now().UnixMilli(), uuid.NewString())
		req, _ := http.NewRequest(http.MethodPost, collector+"/e", b)
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", "http://127.0.0.1:3000")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	sites := func() (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, attribution+"/api/v1/sites", nil)
		req.Header.Set("Authorization", "Bearer demo-admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String(), nil
	}

	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 5000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var code int
				var err error
				if i%2 == 0 {
					code, err = track(siteA)
				} else {
					code, _, err = sites()
				}
				sent.Add(1)
				if err != nil || code/100 != 2 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("status %d, %v", code, err))
				}
			}
		}()
	}
	hup := func() {
		t.Helper()
		for _, p := range []*testenv.Process{col, attr} {
			if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	if code, _ := track(siteB); code != http.StatusNotFound && code != http.StatusBadRequest && code != http.StatusForbidden {
		t.Fatalf("site B before it is configured: %d", code)
	}
	for range 5 {
		write(config(siteJSON(siteA), siteJSON(siteB)))
		hup()
		write(config(siteJSON(siteA)))
		hup()
	}
	write(config(siteJSON(siteA), siteJSON(siteB)))
	hup()
	if code, err := track(siteB); code != http.StatusNoContent {
		t.Fatalf("site B after the reload: %d %v", code, err)
	}
	if _, body, _ := sites(); !strings.Contains(body, siteB) {
		t.Fatalf("attribution does not list site B after the reload: %s", body)
	}
	// Broken files: the previous configuration (with B) stays.
	for _, broken := range []string{`{"sites": [`, config(siteJSON(siteA), `{"id": "bad site"}`)} {
		write(broken)
		hup()
		if code, err := track(siteB); code != http.StatusNoContent {
			t.Fatalf("site B after a broken file: %d %v", code, err)
		}
		if _, body, _ := sites(); !strings.Contains(body, siteB) {
			t.Fatalf("attribution lost site B after a broken file: %s", body)
		}
	}
	close(stop)
	wg.Wait()
	if sent.Load() < 100 || failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during the reloads (first: %v)", failed.Load(), sent.Load(), firstFailure.Load())
	}
	for name, p := range map[string]*testenv.Process{"collector": col, "attribution": attr} {
		out := p.Output()
		if !strings.Contains(out, "site configuration not reloaded") || !strings.Contains(out, "cannot parse site config") ||
			!strings.Contains(out, `id must be`) || !strings.Contains(out, "site configuration reloaded") {
			t.Fatalf("%s log does not say what happened on SIGHUP:\n%s", name, out)
		}
	}
	t.Logf("%d requests, none failed, across %d reloads", sent.Load(), 13)
}
