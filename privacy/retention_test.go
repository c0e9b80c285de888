package privacy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/attribution/model"
	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
	"touchpoint/privacy"
	"touchpoint/reports"
)

func TestCutoffIsAWholeDay(t *testing.T) {
	f := func(now string, days int, want string) {
		t.Helper()
		n, _ := time.Parse(time.RFC3339, now)
		if got := privacy.Cutoff(n, days).Format(time.RFC3339); got != want {
			t.Fatalf("Cutoff(%s, %d) = %s, want %s", now, days, got, want)
		}
	}
	f("2026-10-31T23:59:59Z", 1, "2026-10-30T00:00:00Z")
	f("2026-10-31T00:00:00Z", 30, "2026-10-01T00:00:00Z")
	f("2026-11-01T01:00:00+02:00", 1, "2026-10-30T00:00:00Z") // 23:00 UTC on Oct 31
}

// A short retention deletes the events, sessions and webhook log of days before it, keeps
// newer ones, keeps conversions and their credit, and the report stops counting the
// removed sessions. A site without retention keeps everything.
func TestRetentionDeletesOldRawData(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	svc := &privacy.Service{Conn: w.conn, DB: w.db}
	count := func(table, site string) uint64 {
		t.Helper()
		var n uint64
		if err := w.conn.QueryRow(ctx, "SELECT count() FROM "+w.db+"."+table+" WHERE site_id = ?", site).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Every model's credit of the site's touches, summed.
	credit := func() float64 {
		var c float64
		if err := w.conn.QueryRow(ctx, "SELECT sum("+strings.Join(model.CreditColumns, " + ")+") FROM "+w.db+".touch_credits FINAL WHERE site_id = ? AND removed = 0",
			siteID).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	creditBefore := credit()
	// Tracking numbers held until Oct 2 and until Oct 4.
	b, err := chstore.PrepareBatch(ctx, w.conn, "INSERT INTO "+w.db+".number_leases (site_id, number, pool, lease_id, visitor_id, leased_from, leased_to, version)")
	if err != nil {
		t.Fatal(err)
	}
	for i, until := range []time.Time{w.day(2, 9), w.day(4, 9)} {
		if err := b.Append(siteID, "+442079460001", "main", uuid.New(), fmt.Sprintf("v-lease-%d", i), until.Add(-time.Hour), until, uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	// Sessions on Oct 1, 2 and 4; the webhook attempt on Oct 4. One day of retention on Oct 4
	// keeps Oct 3 and 4 and removes Oct 1 and 2.
	now := w.day(4, 18)
	keep := &site.Site{ID: siteID}
	if n, err := svc.Retain(ctx, keep, now); err != nil || len(n) != 0 {
		t.Fatalf("a site without retention lost %v (%v)", n, err)
	}
	st := &site.Site{ID: siteID, RetentionDays: 1}
	n, err := svc.Retain(ctx, st, now)
	if err != nil {
		t.Fatal(err)
	}
	if n["events"] != 2 || n["sessions"] != 2 || n["number_leases"] != 1 || n["webhook_deliveries"] != 0 {
		t.Fatalf("removed %v, want the 2 events, 2 sessions and 1 number lease of Oct 1 and 2", n)
	}
	if count("events", siteID) != 1 || count("sessions", siteID) != 1 || count("number_leases", siteID) != 1 || count("webhook_deliveries", siteID) != 1 {
		t.Fatal("rows newer than the retention were removed")
	}
	if count("conversions", siteID) != 3 || credit() != creditBefore {
		t.Fatal("retention touched conversions or their credit")
	}
	if count("events", "other") != 1 || count("sessions", "other") != 1 {
		t.Fatal("retention of one site removed another site's rows")
	}
	// Nothing left to remove: no deletion at all.
	if n, err := svc.Retain(ctx, st, now); err != nil || len(n) != 0 {
		t.Fatalf("second pass removed %v (%v)", n, err)
	}
	store := &reports.Store{Conn: w.conn, DB: w.db}
	p, err := reports.ParseParams(map[string][]string{"site": {siteID}, "from": {"2026-10-01"}, "to": {"2026-10-31"}}, w.day(31, 0))
	if err != nil {
		t.Fatal(err)
	}
	out, err := store.Sources(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Totals.Sessions != 1 || out.Totals.Leads != 2 {
		t.Fatalf("report after retention: %+v (want the one session left and both leads)", out.Totals)
	}
}
