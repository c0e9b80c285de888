// Package e2e holds end-to-end tests over the running stack (make up): events posted to
// the collector over HTTP must arrive in ClickHouse through the real Kafka, exactly once.
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

func post(t *testing.T, url string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url+"/e", "text/plain", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST /e: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /e: status %d, want 204", resp.StatusCode)
	}
}

func TestEventReachesClickHouseOnce(t *testing.T) {
	url := testenv.CollectorURL(t)
	conn, db := testenv.ClickHouse(t)

	vid := uuid.NewString()
	campaign := "e2e-" + uuid.NewString()[:8]
	ts := time.Now().Add(-time.Minute).Truncate(time.Second)
	pv := event.Event{
		ID: uuid.NewString(), Type: event.Pageview, TS: ts.UnixMilli(), VID: vid,
		URL: "https://shop.example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=" + campaign + "&gclid=Cj0KCQ",
		Ref: "https://www.google.com/", Title: "Pricing", Lang: "en-GB", Screen: "1920x1080", TZ: "Europe/London",
	}
	track := event.Event{ID: uuid.NewString(), Type: event.Track, TS: ts.UnixMilli() + 1000, VID: vid, Name: "signup_click",
		URL: "https://shop.example.com/pricing", Props: json.RawMessage(`{"plan":"pro"}`)}
	batch := event.Batch{Site: "demo", Events: []event.Event{pv, track}}
	post(t, url, batch)
	post(t, url, batch) // the same events again: must not be counted twice

	type row struct {
		eventType, site, path, source, medium, campaign, clickType, clickID, ref, title, name, props, lang string
		ts                                                                                                 time.Time
	}
	q := fmt.Sprintf(`SELECT event_type, site_id, path, utm_source, utm_medium, utm_campaign, click_id_type, click_id,
		referrer, title, event_name, props, language, ts
		FROM %s.events FINAL WHERE site_id = ? AND visitor_id = ? ORDER BY ts`, db)
	var got []row
	testenv.Eventually(t, 20*time.Second, "both events in ClickHouse", func() (bool, error) {
		rows, err := conn.Query(context.Background(), q, "demo", vid)
		if err != nil {
			return false, err
		}
		defer rows.Close()
		got = got[:0]
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.eventType, &r.site, &r.path, &r.source, &r.medium, &r.campaign, &r.clickType, &r.clickID,
				&r.ref, &r.title, &r.name, &r.props, &r.lang, &r.ts); err != nil {
				return false, err
			}
			got = append(got, r)
		}
		return len(got) >= 2, rows.Err()
	})
	// Give a duplicate that is still in flight time to land before counting.
	time.Sleep(2 * time.Second)
	var n uint64
	if err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM %s.events FINAL WHERE site_id = ? AND visitor_id = ?", db), "demo", vid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("events counted %d times, want 2 (each event once)", n)
	}
	want := row{eventType: "pageview", site: "demo", path: "/pricing", source: "google", medium: "cpc", campaign: campaign,
		clickType: "gclid", clickID: "Cj0KCQ", ref: "https://www.google.com/", title: "Pricing", props: "{}", lang: "en-GB", ts: got[0].ts}
	if got[0] != want || !got[0].ts.Equal(ts) {
		t.Fatalf("pageview row:\n got %+v\nwant %+v at %s", got[0], want, ts)
	}
	if got[1].eventType != "track" || got[1].name != "signup_click" || got[1].props != `{"plan":"pro"}` {
		t.Fatalf("track row = %+v", got[1])
	}
}
