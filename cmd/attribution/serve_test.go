package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"touchpoint/attribution/attrtest"
	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

// A sale is credited within seconds while the reports hold every connection of their pool
// (heavy reports asked at once): the engine has connections of its own, and its queries
// run ahead of the reports'. The report asked meanwhile waits for a connection and then
// answers.
func TestCreditsWhileReportsHoldEveryConnection(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	chc := chstore.Config{Addr: testenv.Env("TP_CLICKHOUSE_ADDR", "127.0.0.1:9000"), Database: db, User: "default"}
	reportsConn, err := chstore.Connect(chc)
	if err != nil {
		t.Fatal(err)
	}
	defer reportsConn.Close()
	const siteID = "pools"
	sites, err := site.New(site.Config{AdminTokenSHA256: "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c",
		Sites: []site.Site{{ID: siteID, Origins: []string{"https://example.com"}, LookbackDays: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := registerFlags(flag.NewFlagSet("attribution", flag.ContinueOnError))
	cfg.Listen, cfg.MetricsListen, cfg.Poll = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "", 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, cfg, sites, pools{jobs: conn, reports: reportsConn}, chc) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()

	// Every connection of the reports' pool busy for 12 s.
	const busy = 12 * time.Second
	var held sync.WaitGroup
	for range 8 {
		held.Add(1)
		go func() {
			defer held.Done()
			var n uint64
			q := fmt.Sprintf("SELECT count() FROM (SELECT sleep(2) FROM numbers(%d)) SETTINGS max_block_size = 1", busy/(2*time.Second))
			if err := reportsConn.QueryRow(context.Background(), q).Scan(&n); err != nil {
				t.Error(err)
			}
		}()
	}
	defer held.Wait()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	at := time.Now().UTC().Add(-time.Hour)
	d.Session(attrtest.Session{Site: siteID, Person: "p1", At: at.Add(-time.Hour), Channel: "Paid Search", Source: "google", Medium: "cpc"})
	d.Conversion(attrtest.Conversion{Site: siteID, ID: "sale-1", Type: "sale", Person: "p1", At: at, Value: 10})
	testenv.Eventually(t, busy*2/3, "the sale credited while the reports wait", func() (bool, error) {
		var n uint64
		err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT count() FROM %s.attributions_current WHERE site_id = ? AND conversion_id = 'sale-1'`, db), siteID).Scan(&n)
		return n > 0, err
	})
	t.Logf("credited after %s", time.Since(start).Round(time.Millisecond))

	day := at.Format("2006-01-02")
	code, body := get(t, "http://"+cfg.Listen+"/api/v1/reports/sources?site="+siteID+"&model=last_click&from="+day+"&to="+day)
	if code != 200 || !strings.Contains(body, `"key":"Paid Search"`) {
		t.Fatalf("the source report: %d %s", code, body)
	}

	// Busy CPUs, unlike busy connections, cannot be timed reliably here; the server's query
	// log says what ClickHouse runs first: the crediting of the new sale (priority 1), then
	// the reports (2).
	priorities := func(like string) []string {
		t.Helper()
		return slices.Compact(slices.Sorted(slices.Values(testenv.Priorities(t, conn, like))))
	}
	if got := priorities("INSERT INTO " + db + ".touch_credits %"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("the new sale's credit was written at priorities %q, want 1", got)
	}
	if got := priorities("%" + db + ".sessions%"); !slices.Contains(got, "2") {
		t.Errorf("the reads of sessions ran at priorities %q, want the report's among them at 2", got)
	}
}
