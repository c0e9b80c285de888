package engine

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// A backlog (here history written before the first pass) is credited a chunk per pass,
// oldest received first, while the conversion that occurred last, and a sale made
// meanwhile, are credited at once. The watermark stored stays below what is left, so a
// restart reads it again; a queued conversion whose person merged is credited with the
// merge, not with the person it was queued with; and each conversion is computed once.
func TestBacklogLeavesRoomForNewSales(t *testing.T) {
	defer func(c, l int, d time.Duration) { chunkSize, liveFirst, backlogTime = c, l, d }(chunkSize, liveFirst, backlogTime)
	chunkSize, liveFirst, backlogTime = 3, 1, 0 // a chunk of three per pass
	f := newFixture(t)
	ctx := context.Background()
	st := f.eng.sites.Get("s1")
	var old []string
	for i := 1; i <= 7; i++ {
		p, id := fmt.Sprintf("p%d", i), fmt.Sprintf("old-%d", i)
		f.session(id, p, t0.AddDate(0, 0, -10+i).Add(-time.Hour), "Organic Search", "google", "organic")
		f.conversion(id, "lead", p, t0.AddDate(0, 0, -10+i), 0)
		old = append(old, id)
		if i == 3 {
			f.session("today", "p-today", t0.Add(-time.Hour), "Paid Search", "google", "cpc")
			f.conversion("sale-1", "sale", "p-today", t0, 120) // received amid the history, occurred last
		}
	}
	credited := func(ids ...string) bool {
		t.Helper()
		for _, id := range ids {
			if len(f.credits(id)["first_click"]) != 1 {
				return false
			}
		}
		return true
	}

	f.watchPass()
	if !credited("sale-1") || !credited(old[:3]...) || credited(old[3]) || credited(old[4]) {
		t.Fatalf("first pass: want sale-1 and the three oldest received credited, and no more")
	}
	wm, _, err := f.eng.store.state(ctx, "s1", "conversions")
	if err != nil {
		t.Fatal(err)
	}
	queued, _ := f.eng.store.conversions(ctx, "s1", conversionQuery{ids: old[3:4]})
	if len(queued) != 1 || wm >= queued[0].Received {
		t.Fatalf("stored watermark %d, want it below %s's receive time (%v)", wm, old[3], queued)
	}

	// p7 turns out to be p-phone, whose earlier visit now comes first.
	f.session("phone", "p-phone", t0.AddDate(0, 0, -10), "Paid Social", "linkedin", "paid_social")
	f.alias("p7", "p-phone")
	f.session("now", "p-now", t0.Add(time.Hour), "Email", "newsletter", "email")
	f.conversion("sale-2", "sale", "p-now", t0.Add(2*time.Hour), 80)
	f.watchPass()
	if !credited("sale-2") || !credited(old[:6]...) || credited("old-7") {
		t.Fatalf("second pass: want sale-2 and the next chunk credited, and old-7 still queued")
	}
	f.watchPass()
	f.watchPass()
	if err := f.eng.pass(ctx, st, true); err != nil { // a sweep finds nothing left
		t.Fatal(err)
	}
	for _, id := range append(old, "sale-1", "sale-2") {
		var computations uint64
		if err := f.conn.QueryRow(ctx, "SELECT uniqExact(version) FROM "+f.db.Name+".touch_credits WHERE conversion_id = ?", id).Scan(&computations); err != nil {
			t.Fatal(err)
		}
		if computations != 1 {
			t.Errorf("%s computed %d times, want once", id, computations)
		}
	}
	if c := f.credits("old-7"); c["first_click"]["phone"] != 1 {
		t.Fatalf("old-7 at the end: %v", c)
	}
	if wm2, _, _ := f.eng.store.state(ctx, "s1", "conversions"); wm2 <= wm {
		t.Fatalf("watermark %d after the backlog, want above %d", wm2, wm)
	}
}
