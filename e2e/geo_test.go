package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// The stack's collector locates visitors out of the box (DB-IP Lite installed by
// scripts/deps.sh): events from public addresses reach ClickHouse with their country,
// region and city, and only the address's network is stored.
func TestEventsAreLocatedOutOfTheBox(t *testing.T) {
	url := testenv.CollectorURL(t)
	conn, db := testenv.ClickHouse(t)

	vids := map[string]string{} // visitor id -> address
	for _, ip := range []string{"193.99.144.80", "2001:620:0:1::1", "10.20.30.40"} {
		vid := uuid.NewString()
		vids[vid] = ip
		body, _ := json.Marshal(event.Batch{Site: "demo", Events: []event.Event{{ID: uuid.NewString(), Type: event.Pageview, VID: vid, URL: "https://shop.example.com/"}}})
		req, _ := http.NewRequest(http.MethodPost, url+"/e", bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("X-Forwarded-For", ip) // the collector trusts the local proxy
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("POST /e from %s: status %d", ip, resp.StatusCode)
		}
	}
	type row struct{ country, region, city, ip string }
	got := map[string]row{}
	q := fmt.Sprintf("SELECT visitor_id, country, region, city, ip FROM %s.events FINAL WHERE site_id = 'demo' AND visitor_id IN (?, ?, ?)", db)
	keys := make([]any, 0, len(vids))
	for vid := range vids {
		keys = append(keys, vid)
	}
	testenv.Eventually(t, 20*time.Second, "the events in ClickHouse", func() (bool, error) {
		rows, err := conn.Query(context.Background(), q, keys...)
		if err != nil {
			return false, err
		}
		defer rows.Close()
		for rows.Next() {
			var vid string
			var r row
			if err := rows.Scan(&vid, &r.country, &r.region, &r.city, &r.ip); err != nil {
				return false, err
			}
			got[vids[vid]] = r
		}
		return len(got) == len(vids), rows.Err()
	})
	f := func(ip, country, network string) {
		t.Helper()
		r := got[ip]
		if r.country != country || r.ip != network || (country != "") != (r.region != "" && r.city != "") {
			t.Fatalf("event from %s stored as %+v, want country %q with a region and city, ip %s", ip, r, country, network)
		}
	}
	f("193.99.144.80", "DE", "193.99.144.0")
	f("2001:620:0:1::1", "CH", "2001:620::")
	f("10.20.30.40", "", "10.20.30.0")
}
