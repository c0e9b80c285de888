package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"touchpoint/attribution/attrtest"
	"touchpoint/internal/testenv"
)

// Two job-running instances and a report server on one database: one instance credits the
// site's conversions and deletes what is past the retention period; killed, the other takes
// over within the lease time and credits what came meanwhile; no conversion gets two
// different credits.
func TestOneInstanceRunsTheJobsAtATime(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	const siteID, ttl = "runner-site", 3 * time.Second
	file := filepath.Join(t.TempDir(), "sites.json")
	sites := `{"admin_token_sha256": "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c",
		"sites": [{"id": "` + siteID + `", "origins": ["https://example.com"], "lookback_days": 30, "retention_days": 400}]}`
	if err := os.WriteFile(file, []byte(sites), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	now := time.Now().UTC().Truncate(time.Second)
	bin := testenv.Binary(t, "./cmd/attribution")
	start := func(args ...string) (*testenv.Process, string) {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		p := testenv.Start(t, bin, append([]string{"-http.listen", addr, "-metrics.listen", "", "-sites", file, "-clickhouse.database", db,
			"-poll", "200ms", "-lease", ttl.String(), "-retention.interval", "1s"}, args...)...)
		waitHealthy(t, p, "http://"+addr+"/healthz")
		return p, "http://" + addr
	}
	a, _ := start()
	b, _ := start()
	reports, reportsURL := start("-jobs=false")
	runs := func(p *testenv.Process) bool { return strings.Contains(p.Output(), "now runs attribution/"+siteID) }

	convert := func(from, n int) {
		for i := from; i < from+n; i++ {
			person := fmt.Sprintf("p%d", i)
			d.Session(attrtest.Session{Site: siteID, Person: person, At: now.Add(-2 * time.Hour), Channel: "Paid Search", Source: "google", Medium: "cpc"})
			d.Conversion(attrtest.Conversion{Site: siteID, ID: fmt.Sprintf("c%d", i), Type: "sale", Person: person, At: now.Add(-time.Hour), Value: 10})
		}
	}
	credited := func(want int) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, fmt.Sprintf("%d conversions credited", want), func() (bool, error) {
			var n uint64
			err := conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT uniqExact(conversion_id) FROM %s.attributions_current
				WHERE site_id = ? AND model = 'last_click' AND channel = 'Paid Search'`, db), siteID).Scan(&n)
			return n == uint64(want), err
		})
	}

	convert(0, 20)
	credited(20)
	if runs(a) == runs(b) {
		t.Fatalf("both or neither instance ran the jobs:\n%s\n---\n%s", a.Output(), b.Output())
	}
	holder, other := a, b
	if runs(b) {
		holder, other = b, a
	}
	if runs(reports) {
		t.Fatal("the report server ran the jobs")
	}
	// Sessions past the retention period, one after the other: each time, the instance that
	// runs the jobs deletes it, and only that one.
	for range 5 {
		old := d.Session(attrtest.Session{Site: siteID, Person: "gone", At: now.AddDate(0, 0, -500), Channel: "Direct"})
		testenv.Eventually(t, 30*time.Second, "the session past retention deleted", func() (bool, error) {
			var n uint64
			err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM %s.sessions WHERE session_id = toUUID(?)", db), old).Scan(&n)
			return n == 0, err
		})
	}
	if removed := "privacy: " + siteID + ": removed rows"; !strings.Contains(holder.Output(), removed) || strings.Contains(other.Output()+reports.Output(), removed) {
		t.Fatalf("retention not run by the instance running the jobs alone:\n%s\n---\n%s", holder.Output(), other.Output())
	}
	if code := status(t, reportsURL+"/api/v1/webhooks/deliveries?site="+siteID, "demo-admin"); code != http.StatusOK {
		t.Fatalf("the report server answers %d", code)
	}

	if err := holder.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.Wait()
	killed := time.Now()
	convert(20, 20)
	testenv.Eventually(t, 6*ttl, "the other instance runs the jobs", func() (bool, error) { return runs(other), nil })
	took := time.Since(killed)
	credited(40)
	t.Logf("taken over %s after the running instance was killed (lease %s)", took.Round(10*time.Millisecond), ttl)
	if took > 4*ttl { // within the TTL, but a loaded machine's queries take seconds
		t.Fatalf("taken over %s after the kill, lease %s", took, ttl)
	}

	// Every computation of a conversion, by either instance, gave the same credit.
	var conflicts uint64
	if err := conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT count() FROM (SELECT conversion_id, session_id
		FROM %s.touch_credits WHERE site_id = ? GROUP BY conversion_id, session_id
		HAVING uniqExact(credit_first_click, credit_last_click, credit_last_non_direct, credit_linear, credit_time_decay,
			credit_position_based, credit_data_driven, removed) > 1)`, db),
		siteID).Scan(&conflicts); err != nil {
		t.Fatal(err)
	}
	if conflicts > 0 {
		t.Fatalf("%d credits computed differently", conflicts)
	}
	if runs(reports) {
		t.Fatal("the report server ran the jobs")
	}
}
