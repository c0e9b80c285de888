package reports

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/engine"
	"touchpoint/attribution/model"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

var sqlBlocks = regexp.MustCompile("(?s)```sql\n(.*?)```")

var testChannels = []struct{ channel, source, medium string }{
	{"Paid Search", "google", "cpc"}, {"Organic Search", "bing", "organic"}, {"Email", "newsletter", "email"},
	{"Referral", "g2.com", "referral"}, {"Direct", "(direct)", "(none)"},
}

// The source report gives the same figures from its daily rollups as from sessions and
// touch_credits, for every dimension and model; a day that changes after its build is read
// from the tables again at once, until it is built again.
func TestRollupsMatchTables(t *testing.T) {
	ctx := context.Background()
	conn, db := testenv.FreshDatabase(t)
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	// The sessions' versions stay apart, as they are until ClickHouse merges them.
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+db+".sessions"); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC) // the range spans a month boundary
	rng := rand.New(rand.NewPCG(7, 11))
	live := uint64(0) // sessions the report counts
	for p := 0; p < 60; p++ {
		person := fmt.Sprintf("p%02d", p)
		at := start.Add(time.Duration(rng.IntN(8*24)) * time.Hour)
		for s := 0; s < 1+rng.IntN(4); s++ {
			c := testChannels[rng.IntN(len(testChannels))]
			bot, folded := rng.IntN(20) == 0, rng.IntN(12) == 0
			sess := attrtest.Session{Site: "demo", Person: person, At: at, Channel: c.channel, Source: c.source, Medium: c.medium,
				Campaign: fmt.Sprintf("camp%d", rng.IntN(3)), Term: fmt.Sprintf("term%d", rng.IntN(4)),
				Landing: fmt.Sprintf("/page%d", rng.IntN(3)), Country: []string{"DE", "FR", ""}[rng.IntN(3)],
				Device: []string{"mobile", "desktop"}[rng.IntN(2)], Bot: bot}
			sess.ID = d.Session(sess)
			switch {
			case folded:
				// As the stitcher folds a session into another: written once more, deleted,
				// without its touchpoint.
				d.Session(attrtest.Session{ID: sess.ID, Site: "demo", Person: person, At: at, Deleted: true})
				if p%2 == 0 && !bot {
					// A restitch may write it again as it was: then it counts.
					d.Session(sess)
					live++
				}
			case !bot:
				live++
			}
			at = at.Add(time.Duration(1+rng.IntN(30)) * time.Hour)
		}
		switch rng.IntN(3) {
		case 0:
			d.Conversion(attrtest.Conversion{Site: "demo", ID: "lead-" + person, Type: "lead",
				LeadType: []string{"form", "call", "chat", "other"}[rng.IntN(4)], Person: person, At: at})
		case 1: // some in US dollars, converted with the rates below or left unconverted
			d.Conversion(attrtest.Conversion{Site: "demo", ID: "sale-" + person, Type: "sale", Person: person, At: at,
				Value: float64(10 + rng.IntN(500)), Currency: []string{"EUR", "USD", ""}[rng.IntN(3)]})
		}
	}
	store := &Store{Conn: conn, DB: db}
	if err := store.ImportRates(ctx, "demo", []Rate{{"2026-09-30", "EUR", "USD", 1.1}, {"2026-10-05", "EUR", "USD", 1.2}}); err != nil {
		t.Fatal(err)
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

	// reports returns the report for every dimension and model, and how many of the
	// range's days were read from the rollups.
	reports := func() (map[string]*Sources, int) {
		t.Helper()
		out := map[string]*Sources{}
		for _, g := range groupBys {
			for _, m := range model.Models {
				p := Params{Site: "demo", From: start, To: start.AddDate(0, 0, 12), Model: m, By: g, Currency: "EUR"}
				r, err := store.Sources(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				out[g.Name+"/"+m] = r
			}
		}
		// The dashboard's drill-down: grouped by one of channel, source, campaign and
		// keyword, filtered on others (the drill-down rows); filtered on a dimension outside
		// it, or grouped by one and filtered within it (that dimension's rows); and on two
		// dimensions outside it, which no rollup rows answer.
		for _, v := range []struct {
			by, filters string
			rollups     bool
		}{
			{"source", "channel=Paid Search", true}, {"campaign", "channel=Paid Search&source=google", true},
			{"keyword", "channel=Paid Search&campaign=camp1", true}, {"channel", "keyword=term2&source=google", true},
			{"campaign", "channel=Email&source=(none)", true}, {"source", "channel=Email&country=DE", true},
			{"landing_page", "channel=Email", true}, {"source", "device=mobile", true}, {"keyword", "country=(none)", true},
			{"device", "device=desktop&source=google", true}, {"country", "campaign=camp2&channel=Paid Search", true},
			{"channel", "country=FR&device=mobile", false}, {"country", "landing_page=/page1&campaign=camp2", false},
		} {
			q, _ := url.ParseQuery(v.filters)
			f, err := parseFilter(q)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := LookupGroupBy(v.by)
			if _, ok := byDimension(g).rollupFor(f); ok != v.rollups {
				t.Fatalf("by %s %s: rollup rows answer it: %v, want %v", v.by, v.filters, ok, v.rollups)
			}
			p := Params{Site: "demo", From: start, To: start.AddDate(0, 0, 12), Model: model.Linear, By: g, Filter: f, Currency: "EUR"}
			r, err := store.Sources(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			out[v.by+"?"+v.filters] = r
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
				t.Fatalf("%s: rollups give\n%+v\nsessions and touch_credits give\n%+v", k, g, w)
			}
		}
	}
	// builds builds the rollups of the days changed before margin ago, and wants that
	// many; readsRollups asks for the reports and wants that many days read from rollups.
	builds := func(margin time.Duration, want int, when string) {
		t.Helper()
		if n, err := store.BuildRollups(ctx, "demo", margin); err != nil || n != want {
			t.Fatalf("built %d days %s (%v), want %d", n, when, err, want)
		}
	}
	readsRollups := func(want int, when string) map[string]*Sources {
		t.Helper()
		out, built := reports()
		if built != want {
			t.Fatalf("%d days read from the rollups %s, want %d", built, when, want)
		}
		return out
	}

	fromTables, built := reports()
	if built != 0 {
		t.Fatalf("%d days built before any build", built)
	}
	if tot := fromTables["channel/linear"].Totals; tot.Leads == 0 || tot.Revenue == 0 || len(tot.Unconverted) == 0 {
		t.Fatalf("no leads, converted and unconverted revenue in the test data: %+v", tot)
	}
	for _, k := range []string{"campaign?channel=Paid Search&source=google", "source?device=mobile", "landing_page?channel=Email"} {
		if r := fromTables[k]; len(r.Rows) == 0 || r.Totals.Visitors == 0 || r.Totals.Leads == 0 {
			t.Fatalf("%s: no traffic or leads in the test data: %+v", k, r.Totals)
		}
	}
	for k, r := range fromTables {
		if strings.Contains(k, "?") {
			continue // filtered
		}
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
	builds(0, 0, "by a second build with no change")
	same(fromTables, readsRollups(n, "after building every day"))

	// One day changes: it is read from the tables at once, and a margin keeps it out of a
	// build while inserts may still be running.
	day := start.AddDate(0, 0, 2)
	d.Session(attrtest.Session{Site: "demo", Person: "late", At: day.Add(9 * time.Hour), Channel: "Email", Source: "newsletter", Medium: "email"})
	d.Conversion(attrtest.Conversion{Site: "demo", ID: "lead-late", Type: "lead", LeadType: "form", Person: "late", At: day.Add(10 * time.Hour)})
	rebuild(day, day)
	time.Sleep(1100 * time.Millisecond)
	builds(time.Hour, 0, "changed within the margin")
	changed := readsRollups(n-1, "after one day changed")
	c := changed["channel/first_click"]
	if c.Totals.Sessions != fromTables["channel/first_click"].Totals.Sessions+1 ||
		c.Totals.Leads != fromTables["channel/first_click"].Totals.Leads+1 {
		t.Fatalf("the changed day is not read from the tables: %+v, before %+v", c.Totals, fromTables["channel/first_click"].Totals)
	}
	builds(0, 1, "after one changed")
	rebuilt, _ := reports()
	same(changed, rebuilt)

	// An attribution service of the version before the drill-down rows, still running
	// beside this one, builds a day without them (and records no format): that day is read
	// from the tables, and built again.
	gen := uint64(time.Now().UnixNano())
	if err := conn.Exec(ctx, `INSERT INTO `+db+`.report_traffic (site_id, day, dim, key, visitors, sessions, generation)
		SELECT site_id, day, dim, key, visitors, sessions, ? FROM `+db+`.report_traffic WHERE dim != 'drilldown' AND day = ?`, gen, day); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, `INSERT INTO `+db+`.report_builds (site_id, day, built_from, generation) SELECT 'demo', toDate(?), now() + 60, ?`, day, gen); err != nil {
		t.Fatal(err)
	}
	same(rebuilt, readsRollups(n-1, "with one day built in an older format"))
	builds(0, 1, "after one was built in an older format")
	same(rebuilt, readsRollups(n, "after building it again"))
}

// round rounds credit sums, which ClickHouse adds in any order, and orders rows by key.
func round(s *Sources) {
	r := func(row *Figures) {
		for _, x := range []*float64{&row.Leads, &row.LeadsByType.Form, &row.LeadsByType.Call, &row.LeadsByType.Chat,
			&row.LeadsByType.Other, &row.Sales, &row.Revenue} {
			*x = math.Round(*x*1e4) / 1e4
		}
		for _, x := range []**float64{&row.ROAS, &row.ROI, &row.CostPerLead, &row.CostPerSale} {
			if *x != nil {
				v := math.Round(**x*1e4) / 1e4
				*x = &v
			}
		}
	}
	for i := range s.Rows {
		r(&s.Rows[i].Figures)
	}
	r(&s.Totals)
	sort.Slice(s.Rows, func(i, j int) bool { return s.Rows[i].Key < s.Rows[j].Key })
}

// Visitors and sessions of the source report are exact: the same figures, per key and in
// total, as the query of docs/sql.md, from the tables and from the rollups, over a month
// of visitors who come back, some as bots and some in sessions folded into others.
func TestVisitorsAndSessionsAreExact(t *testing.T) {
	ctx := context.Background()
	conn, db := testenv.FreshDatabase(t)
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	rng := rand.New(rand.NewPCG(5, 8))
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var ss []attrtest.Session
	for v := 0; v < 3000; v++ {
		visitor := fmt.Sprintf("v%04d", v)
		for n := 0; n < 1+rng.IntN(3); n++ {
			c := testChannels[rng.IntN(len(testChannels))]
			s := attrtest.Session{ID: uuid.NewString(), Site: "demo", Visitor: visitor, Person: visitor, At: start.Add(time.Duration(rng.IntN(30*24)) * time.Hour),
				Channel: c.channel, Source: c.source, Medium: c.medium, Bot: rng.IntN(30) == 0}
			ss = append(ss, s)
			switch rng.IntN(10) {
			case 0: // written again with more pageviews
				ss = append(ss, s)
			case 1: // folded into another session by a late event
				ss = append(ss, attrtest.Session{ID: s.ID, Site: "demo", Visitor: visitor, Person: visitor, At: s.At, Deleted: true})
			case 2: // a later event was a bot's
				b := s
				b.Bot = true
				ss = append(ss, b)
			}
		}
	}
	d.Sessions(ss)
	doc, err := os.ReadFile("../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	// The query on the view and the one on the table, over October.
	october := strings.NewReplacer("touchpoint.", db+".", "day BETWEEN today() - 29 AND today()", "day BETWEEN '2026-10-01' AND '2026-10-31'",
		"toDateTime(today() - 29, 'UTC')", "toDateTime('2026-10-01 00:00:00', 'UTC')",
		"toDateTime(today() + 1, 'UTC')", "toDateTime('2026-11-01 00:00:00', 'UTC')")
	var want map[string][2]uint64
	queries := 0
	for _, b := range sqlBlocks.FindAllStringSubmatch(string(doc), -1) {
		if !strings.HasPrefix(b[1], "SELECT channel, uniqExact(visitor_id) AS visitors, count() AS sessions\n") {
			continue
		}
		query := october.Replace(b[1])
		got := map[string][2]uint64{}
		err := (&Store{Conn: conn, DB: db}).each(ctx, query, nil, func(sc scanner) error {
			var k string
			var v, n uint64
			if err := sc.Scan(&k, &v, &n); err != nil {
				return err
			}
			got[k] = [2]uint64{v, n}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || (want != nil && !maps.Equal(got, want)) {
			t.Fatalf("docs/sql.md's query gives %v (another gave %v):\n%s", got, want, query)
		}
		want = got
		queries++
	}
	if queries < 2 {
		t.Fatalf("docs/sql.md has %d queries of visitors and sessions per channel, want the view's and the table's", queries)
	}
	var totalVisitors uint64
	if err := conn.QueryRow(ctx, `SELECT uniqExact(visitor_id) FROM (SELECT visitor_id, deleted, is_bot FROM `+db+
		`.sessions FINAL WHERE site_id = 'demo') WHERE deleted = 0 AND is_bot = 0`).Scan(&totalVisitors); err != nil {
		t.Fatal(err)
	}
	store := &Store{Conn: conn, DB: db}
	check := func(from string) {
		t.Helper()
		g, _ := LookupGroupBy("channel")
		r, err := store.Sources(ctx, Params{Site: "demo", From: start, To: start.AddDate(0, 0, 30), Model: "linear", By: g, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Rows) != len(want) || r.Totals.Visitors != totalVisitors {
			t.Fatalf("from %s: %d rows, %d visitors; docs/sql.md gives %v, %d visitors", from, len(r.Rows), r.Totals.Visitors, want, totalVisitors)
		}
		for _, row := range r.Rows {
			if w := want[row.Key]; row.Visitors != w[0] || row.Sessions != w[1] {
				t.Fatalf("from %s, %s: %d visitors, %d sessions; docs/sql.md gives %d, %d", from, row.Key, row.Visitors, row.Sessions, w[0], w[1])
			}
		}
	}
	check("sessions")
	time.Sleep(1100 * time.Millisecond)
	if n, err := store.BuildRollups(ctx, "demo", 0); err != nil || n < 28 {
		t.Fatalf("built %d days: %v", n, err)
	}
	check("rollups")
}
