package reports

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/attribution/attrtest"
	"touchpoint/internal/testenv"
)

// The visitors of the source report over any range are exact when read from the
// visitors' rollups: for ranges that start and end on every kind of day, with visitors
// who come back under the same key or another, a day read from the tables after the built
// ones (today, on a live site), a changed day between built ones, and a day built again
// with the same visitors, which keeps the later days' rows.
func TestVisitorsOfAnyRangeAreExact(t *testing.T) {
	ctx := context.Background()
	conn, db := testenv.FreshDatabase(t)
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	store := &Store{Conn: conn, DB: db}
	defer func(n uint64) { visitsShare = n }(visitsShare)
	visitsShare = 300 // builds group the visitors in several shares, as on a large site
	rng := rand.New(rand.NewPCG(3, 14))
	start := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC) // the days span a month boundary
	const days = 20
	devices := []string{"mobile", "desktop", ""}
	session := func(visitor string, day int) attrtest.Session {
		c := testChannels[rng.IntN(len(testChannels))]
		return attrtest.Session{ID: uuid.NewString(), Site: "demo", Visitor: visitor, Person: visitor,
			At: start.AddDate(0, 0, day).Add(time.Duration(rng.IntN(24*60)) * time.Minute), Channel: c.channel, Source: c.source,
			Medium: c.medium, Campaign: []string{"", "spring", "autumn"}[rng.IntN(3)], Term: []string{"", "crm", "crm software"}[rng.IntN(3)],
			Device: devices[rng.IntN(len(devices))], Bot: rng.IntN(40) == 0}
	}
	var ss []attrtest.Session
	folded := map[string]bool{}
	for v := 0; v < 400; v++ {
		visitor := fmt.Sprintf("v%03d", v)
		for n := 0; n < 1+rng.IntN(4); n++ {
			s := session(visitor, rng.IntN(days-1)) // the last day is written later
			ss = append(ss, s)
			if rng.IntN(15) == 0 { // folded into another session by a late event
				folded[s.ID] = true
				ss = append(ss, attrtest.Session{ID: s.ID, Site: "demo", Visitor: visitor, Person: visitor, At: s.At, Deleted: true})
			}
		}
	}
	d.Sessions(ss)

	// check compares the report's visitors and sessions, per key and in total, with
	// docs/sql.md's count over sessions, for ranges starting and ending on many days, and
	// wants the visitors' rollups read (or not) as visits says.
	// The views: grouped by a dimension, drill-downs (from the dimension they start at,
	// the empty campaign as (none)), pairs of a dimension outside the drill-down and a
	// drilled one, and one key of a dimension.
	views := []struct{ by, filters string }{{"channel", ""}, {"device", ""}, {"source", "channel=Email"},
		{"campaign", "channel=Paid Search&source=google"}, {"keyword", "channel=Referral&source=g2.com&campaign=(none)"},
		{"keyword", "campaign=spring"}, {"campaign", "source=newsletter"},
		// A dimension outside the drill-down and a drilled one, each filtering the other.
		{"source", "device=mobile"}, {"device", "channel=Email"}, {"keyword", "device=(none)"}, {"device", "campaign=(none)"},
		// Filtered on the dimension grouped by: one key.
		{"channel", "channel=Email"}, {"device", "device=(none)"}}
	check := func(when string, visits bool) {
		t.Helper()
		for _, view := range views {
			g, _ := LookupGroupBy(view.by)
			q, _ := url.ParseQuery(view.filters)
			f, err := parseFilter(q)
			if err != nil {
				t.Fatal(err)
			}
			of, _ := byDimension(g).rollupFor(f)
			if _, ok := visitsFor(of, g, f); !ok {
				t.Fatalf("by %s %s: no visitors' rollups answer it", view.by, view.filters)
			}
			filter, filterArgs := f.sessions()
			for _, r := range [][2]int{{0, days - 1}, {0, 0}, {3, 9}, {5, 19}, {9, 10}, {12, 19}, {19, 19}, {1, 25}} {
				from, to := start.AddDate(0, 0, r[0]), start.AddDate(0, 0, r[1])
				p := Params{Site: "demo", From: from, To: to, Model: "linear", By: g, Filter: f, Currency: "EUR"}
				ds, err := store.days(ctx, "demo", day(from), day(to))
				if err != nil {
					t.Fatal(err)
				}
				// A range of no built day has no visitors' rollups to read.
				if ok := ds.readsVisits(); ok != (visits && len(ds.built) > 0) {
					t.Fatalf("%s, %s to %s: the visitors' rollups read: %v, want %v", when, day(from), day(to), ok, visits)
				}
				got, err := store.Sources(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string][2]uint64{}
				var total uint64
				q := fmt.Sprintf(`SELECT if(k = '', '%s', k), uniqExact(visitor_id), count() FROM (
						SELECT %s AS k, visitor_id FROM (SELECT * FROM %s.sessions FINAL WHERE site_id = 'demo'
							AND started_at >= toDateTime(?, 'UTC') AND started_at < toDateTime(?, 'UTC'))
						WHERE deleted = 0 AND is_bot = 0%s)
					GROUP BY k WITH TOTALS`, NoneKey, g.session, db, filter)
				rows, err := conn.Query(ctx, q, append([]any{from, to.AddDate(0, 0, 1)}, filterArgs...)...)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var k string
					var v, n uint64
					if err := rows.Scan(&k, &v, &n); err != nil {
						t.Fatal(err)
					}
					want[k] = [2]uint64{v, n}
				}
				var k string
				var n uint64
				if err := rows.Totals(&k, &total, &n); err != nil && len(want) > 0 {
					t.Fatal(err)
				}
				rows.Close()
				if r == [2]int{0, days - 1} && len(want) == 0 {
					t.Fatalf("by %s %s: no traffic in the test data", view.by, view.filters)
				}
				if got.Totals.Visitors != total || len(got.Rows) != len(want) {
					t.Fatalf("%s, by %s %s, %s to %s: %d visitors in %d rows, want %d in %v", when, view.by, view.filters, day(from), day(to),
						got.Totals.Visitors, len(got.Rows), total, want)
				}
				for _, row := range got.Rows {
					if w := want[row.Key]; row.Visitors != w[0] || row.Sessions != w[1] {
						t.Fatalf("%s, by %s %s, %s to %s, %s: %d visitors, %d sessions, want %d, %d", when, view.by, view.filters, day(from), day(to),
							row.Key, row.Visitors, row.Sessions, w[0], w[1])
					}
				}
			}
		}
	}
	// exact counts the visitors and sessions of the days from to to (YYYY-MM-DD) as
	// docs/sql.md does, of the channel when it is not "".
	exact := func(from, to, channel string) (visitors, sessions uint64) {
		t.Helper()
		err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT uniqExact(visitor_id), count() FROM (SELECT * FROM %s.sessions FINAL
				WHERE site_id = 'demo' AND started_at >= toDateTime(?, 'UTC') AND started_at < toDateTime(?, 'UTC') + 86400)
			WHERE deleted = 0 AND is_bot = 0 AND (? = '' OR channel = ?)`, db), from+" 00:00:00", to+" 00:00:00", channel, channel).
			Scan(&visitors, &sessions)
		if err != nil {
			t.Fatal(err)
		}
		return visitors, sessions
	}
	// checkSeries compares every point of series over ranges with the exact counts.
	checkSeries := func(when string, visits bool) {
		t.Helper()
		for _, r := range [][2]int{{10, 19}, {5, 19}, {12, 16}} {
			for _, interval := range []string{"day", "week", "month"} {
				for _, channel := range []string{"", "Email"} {
					p := Params{Site: "demo", From: start.AddDate(0, 0, r[0]), To: start.AddDate(0, 0, r[1]), Model: "linear", Currency: "EUR"}
					if channel != "" {
						g, _ := LookupGroupBy("channel")
						p.Filter.Dims = []DimFilter{{By: g, Value: channel}}
					}
					n := int(p.To.Sub(p.From).Hours()/24) + 1
					ds, err := store.days(ctx, "demo", day(p.From.AddDate(0, 0, -n)), day(p.To))
					if err != nil {
						t.Fatal(err)
					}
					if ok := ds.readsVisits(); ok != (visits && len(ds.built) > 0) {
						t.Fatalf("%s, series of %v: the visitors' rollups read: %v, want %v", when, r, ok, visits)
					}
					got, err := store.Series(ctx, p, interval)
					if err != nil {
						t.Fatal(err)
					}
					for _, pt := range got.Points {
						for _, x := range []struct {
							from, to string
							f        Figures
						}{{pt.From, pt.To, pt.Current}, {pt.PreviousFrom, pt.PreviousTo, pt.Previous}} {
							if v, n := exact(x.from, x.to, channel); x.f.Visitors != v || x.f.Sessions != n {
								t.Fatalf("%s: series by %s of %v %q, %s to %s: %d visitors, %d sessions, want %d, %d",
									when, interval, r, channel, x.from, x.to, x.f.Visitors, x.f.Sessions, v, n)
							}
						}
					}
					for _, x := range []struct {
						from, to string
						f        Figures
					}{{got.From, got.To, got.Totals}, {got.PreviousFrom, got.PreviousTo, got.PreviousTotals}} {
						if v, _ := exact(x.from, x.to, channel); x.f.Visitors != v {
							t.Fatalf("%s: series by %s of %v %q, totals %s to %s: %d visitors, want %d", when, interval, r, channel,
								x.from, x.to, x.f.Visitors, v)
						}
					}
				}
			}
		}
	}
	build := func() {
		t.Helper()
		time.Sleep(1100 * time.Millisecond) // ClickHouse's clock, which dates changes, has one-second steps
		if _, err := store.BuildRollups(ctx, "demo", 0); err != nil {
			t.Fatal(err)
		}
	}
	check("before any build", false)
	checkSeries("before any build", false)
	build()
	check("after building every day", true)
	checkSeries("after building every day", true)

	// The last day, as today on a live site, is read from sessions: its visitors count
	// unless a built day of the range has them under the key.
	var last []attrtest.Session
	for v := 0; v < 400; v += 3 {
		last = append(last, session(fmt.Sprintf("v%03d", v), days-1))
	}
	last = append(last, session("new", days-1))
	d.Sessions(last)
	check("with the last day changed", true)
	checkSeries("with the last day changed", true)

	// A changed day between built ones: the visitors' rollups of the days after it count
	// visits of its old visitors, so the report merges the days' visitors until it is built.
	middle := session("v007", 8)
	middle.Device, middle.Channel, middle.Source, middle.Medium = "tablet", "Email", "newsletter", "email"
	d.Session(middle)
	for _, r := range [][2]int{{5, 12}, {8, 9}} {
		ds, err := store.days(ctx, "demo", day(start.AddDate(0, 0, r[0])), day(start.AddDate(0, 0, r[1])))
		if err != nil {
			t.Fatal(err)
		}
		if ds.readsVisits() {
			t.Fatalf("days %v with day 8 changed: the visitors' rollups read", r)
		}
	}
	checkSeries("with a day between built ones changed", false)
	build()
	check("after building the changed days", true)

	// A day written again with the same visitors, as a restitch writes sessions under a
	// merged person: built again, it leaves the later days' visitors' rollups current.
	before, err := store.builtDays(ctx, "demo", day(start), day(start.AddDate(0, 0, days-1)))
	if err != nil {
		t.Fatal(err)
	}
	var again []attrtest.Session
	for _, s := range ss {
		if s.At.Format("2006-01-02") == day(start.AddDate(0, 0, 4)) && !folded[s.ID] {
			s.Person = "merged"
			again = append(again, s)
		}
	}
	d.Sessions(again)
	build()
	after, err := store.builtDays(ctx, "demo", day(start), day(start.AddDate(0, 0, days-1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(again) == 0 || len(after) != len(before) {
		t.Fatalf("%d sessions written again; %d built days, %d before", len(again), len(after), len(before))
	}
	for i := range before {
		b, a := before[i], after[i]
		if b.day == day(start.AddDate(0, 0, 4)) && a.gen == b.gen {
			t.Fatalf("day %s not built again after its sessions were written again", a.day)
		}
		if a.fp != b.fp || a.visitGen != b.visitGen {
			t.Fatalf("day %s: visitors' fingerprint %x, rollups %d after a build with the same visitors; before %x, %d",
				a.day, a.fp, a.visitGen, b.fp, b.visitGen)
		}
	}
	check("after a day was built again with the same visitors", true)
}

// A day built again keeps no visitor hash of its older build: a value that only a
// visitor since erased (or folded away) had that day leaves no row with its hash once
// ClickHouse merges, and no empty row in the report.
func TestRebuiltDaysKeepNoOlderVisitorHashes(t *testing.T) {
	ctx := context.Background()
	conn, db := testenv.FreshDatabase(t)
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	store := &Store{Conn: conn, DB: db}
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	d.Session(attrtest.Session{Site: "demo", Visitor: "stays", Person: "stays", At: at, Channel: "Direct", Source: "(direct)", Landing: "/"})
	gone := attrtest.Session{ID: uuid.NewString(), Site: "demo", Visitor: "gone", Person: "gone", At: at.Add(time.Hour),
		Channel: "Email", Source: "newsletter", Medium: "email", Landing: "/only-gone"}
	d.Session(gone)
	build := func() {
		t.Helper()
		time.Sleep(1100 * time.Millisecond)
		if n, err := store.BuildRollups(ctx, "demo", 0); err != nil || n != 1 {
			t.Fatalf("built %d days (%v), want 1", n, err)
		}
	}
	hashes := func() uint64 {
		t.Helper()
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+db+".report_traffic FINAL"); err != nil {
			t.Fatal(err)
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".report_traffic WHERE has(visitors, cityHash64('gone'))").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	build()
	if n := hashes(); n == 0 {
		t.Fatal("the visitor's hash is in no rollup row before it goes")
	}
	d.Session(attrtest.Session{ID: gone.ID, Site: "demo", Visitor: "gone", Person: "gone", At: gone.At, Deleted: true})
	build()
	if n := hashes(); n != 0 {
		t.Fatalf("%d rollup rows keep the hash of a visitor whose sessions are gone", n)
	}
	for _, by := range []string{"landing_page", "channel"} {
		g, _ := LookupGroupBy(by)
		for _, f := range []string{"", "source=newsletter"} { // the visitors' rollups and the hashes
			q, _ := url.ParseQuery(f)
			filter, err := parseFilter(q)
			if err != nil {
				t.Fatal(err)
			}
			r, err := store.Sources(ctx, Params{Site: "demo", From: at, To: at, Model: "linear", By: g, Filter: filter, Currency: "EUR"})
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range r.Rows {
				if row.Visitors == 0 || row.Sessions == 0 {
					t.Fatalf("by %s %s: a row without traffic: %+v", by, f, row)
				}
			}
		}
	}
}
