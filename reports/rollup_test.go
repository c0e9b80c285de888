package reports

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/engine"
	"touchpoint/attribution/model"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

var testChannels = []struct{ channel, source, medium string }{
	{"Paid Search", "google", "cpc"}, {"Organic Search", "bing", "organic"}, {"Email", "newsletter", "email"},
	{"Referral", "g2.com", "referral"}, {"Direct", "(direct)", "(none)"},
}

// The source report gives the same figures from its daily rollups as from sessions and
// attributions, for every dimension and model; a day that changes after its build is read
// from the tables again at once, until it is built again.
func TestRollupsMatchTables(t *testing.T) {
	ctx := context.Background()
	conn, db := testenv.FreshDatabase(t)
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	start := time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC) // the range spans a month boundary
	rng := rand.New(rand.NewPCG(7, 11))
	live := uint64(0) // sessions the report counts
	for p := 0; p < 60; p++ {
		person := fmt.Sprintf("p%02d", p)
		at := start.Add(time.Duration(rng.IntN(8*24)) * time.Hour)
		for s := 0; s < 1+rng.IntN(4); s++ {
			c := testChannels[rng.IntN(len(testChannels))]
			bot, folded := rng.IntN(20) == 0, rng.IntN(12) == 0
			id := d.Session(attrtest.Session{Site: "demo", Person: person, At: at, Channel: c.channel, Source: c.source, Medium: c.medium,
				Campaign: fmt.Sprintf("camp%d", rng.IntN(3)), Term: fmt.Sprintf("term%d", rng.IntN(4)),
				Landing: fmt.Sprintf("/page%d", rng.IntN(3)), Bot: bot})
			switch {
			case folded:
				// As the stitcher folds a session into another: written once more, deleted,
				// without its touchpoint.
				d.Session(attrtest.Session{ID: id, Site: "demo", Person: person, At: at, Deleted: true})
			case !bot:
				live++
			}
			at = at.Add(time.Duration(1+rng.IntN(30)) * time.Hour)
		}
		switch rng.IntN(3) {
		case 0:
			d.Conversion(attrtest.Conversion{Site: "demo", ID: "lead-" + person, Type: "lead",
				LeadType: []string{"form", "call", "chat", "other"}[rng.IntN(4)], Person: person, At: at})
		case 1:
			d.Conversion(attrtest.Conversion{Site: "demo", ID: "sale-" + person, Type: "sale", Person: person, At: at,
				Value: float64(10 + rng.IntN(500))})
		}
	}
	sites, _ := site.New(site.Config{Sites: []site.Site{{ID: "demo", LookbackDays: 90}}})
	eng := engine.New(conn, db, sites)
	rebuild := func(from, to time.Time) {
		t.Helper()
		if _, _, err := eng.Rebuild(ctx, "demo", from, to); err != nil {
			t.Fatal(err)
		}
	}
	rebuild(start.AddDate(0, 0, -1), start.AddDate(0, 0, 14))
	store := &Store{Conn: conn, DB: db}

	// reports returns the report for every dimension and model, and how many of the
	// range's days were read from the rollups.
	reports := func() (map[string]*Sources, int) {
		t.Helper()
		out := map[string]*Sources{}
		for _, g := range groupBys {
			for _, m := range model.Models {
				p := Params{Site: "demo", From: start, To: start.AddDate(0, 0, 12), Model: m, By: g}
				r, err := store.Sources(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				out[g.Name+"/"+m] = r
			}
		}
		ds, err := store.days(ctx, "demo", "2026-09-28", "2026-10-10")
		if err != nil {
			t.Fatal(err)
		}
		return out, len(ds.built)
	}
	same := func(want, got map[string]*Sources) {
		t.Helper()
		for k, w := range want {
			g := got[k]
			round(w)
			round(g)
			if !reflect.DeepEqual(w, g) {
				t.Fatalf("%s: rollups give\n%+v\nsessions and attributions give\n%+v", k, g, w)
			}
		}
	}

	fromTables, built := reports()
	if built != 0 {
		t.Fatalf("%d days built before any build", built)
	}
	if fromTables["channel/linear"].Totals.Leads == 0 {
		t.Fatalf("no leads in the test data: %+v", fromTables["channel/linear"].Totals)
	}
	for k, r := range fromTables {
		if r.Totals.Sessions != live {
			t.Fatalf("%s: %d sessions, want %d (no bots, no folded sessions)", k, r.Totals.Sessions, live)
		}
		for _, row := range r.Rows {
			if row.Key == "" && strings.HasPrefix(k, "channel/") {
				t.Fatalf("%s: a row without a channel: %+v", k, row)
			}
		}
	}
	time.Sleep(1100 * time.Millisecond) // ClickHouse's clock, which dates changes, has one-second steps
	n, err := store.BuildRollups(ctx, "demo", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Fatalf("built %d days, want every day with data (at least 8)", n)
	}
	if again, err := store.BuildRollups(ctx, "demo", 0); err != nil || again != 0 {
		t.Fatalf("a second build with no change built %d days (%v), want 0", again, err)
	}
	fromRollups, built := reports()
	if built != n {
		t.Fatalf("%d days read from the rollups after building %d", built, n)
	}
	same(fromTables, fromRollups)

	// One day changes: it is read from the tables at once, and a margin keeps it out of a
	// build while inserts may still be running.
	day := start.AddDate(0, 0, 2)
	d.Session(attrtest.Session{Site: "demo", Person: "late", At: day.Add(9 * time.Hour), Channel: "Email", Source: "newsletter", Medium: "email"})
	d.Conversion(attrtest.Conversion{Site: "demo", ID: "lead-late", Type: "lead", LeadType: "form", Person: "late", At: day.Add(10 * time.Hour)})
	rebuild(day, day)
	time.Sleep(1100 * time.Millisecond)
	if n, err := store.BuildRollups(ctx, "demo", time.Hour); err != nil || n != 0 {
		t.Fatalf("built %d days changed within the margin (%v), want 0", n, err)
	}
	changed, built := reports()
	if built != n-1 {
		t.Fatalf("%d of %d days read from the rollups after one changed", built, n)
	}
	c := changed["channel/first_click"]
	if c.Totals.Sessions != fromTables["channel/first_click"].Totals.Sessions+1 ||
		c.Totals.Leads != fromTables["channel/first_click"].Totals.Leads+1 {
		t.Fatalf("the changed day is not read from the tables: %+v, before %+v", c.Totals, fromTables["channel/first_click"].Totals)
	}
	if n, err := store.BuildRollups(ctx, "demo", 0); err != nil || n != 1 {
		t.Fatalf("built %d days after one changed (%v), want 1", n, err)
	}
	rebuilt, _ := reports()
	same(changed, rebuilt)
}

// round rounds credit sums, which ClickHouse adds in any order, and orders rows by key.
func round(s *Sources) {
	r := func(row *SourceRow) {
		for _, x := range []*float64{&row.Leads, &row.LeadsByType.Form, &row.LeadsByType.Call, &row.LeadsByType.Chat,
			&row.LeadsByType.Other, &row.Sales, &row.Revenue} {
			*x = math.Round(*x*1e6) / 1e6
		}
	}
	for i := range s.Rows {
		r(&s.Rows[i])
	}
	r(&s.Totals)
	sort.Slice(s.Rows, func(i, j int) bool { return s.Rows[i].Key < s.Rows[j].Key })
}
