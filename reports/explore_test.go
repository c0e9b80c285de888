package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/engine"
	"touchpoint/attribution/model"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

// exploreData writes three weeks of random journeys with every dimension varying, leads
// of each type, sales and ad costs at campaign and keyword level, and credits them.
func exploreData(t *testing.T) (*Store, time.Time) {
	ctx := context.Background()
	conn, db := testenv.FreshDatabase(t)
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	start := time.Date(2026, 9, 21, 0, 0, 0, 0, time.UTC) // a Monday; the range spans a month boundary
	rng := rand.New(rand.NewPCG(3, 5))
	var sessions []attrtest.Session
	for p := 0; p < 90; p++ {
		person := fmt.Sprintf("p%02d", p)
		at := start.Add(time.Duration(rng.IntN(21*24)) * time.Hour)
		for s := 0; s < 1+rng.IntN(4); s++ {
			c := testChannels[rng.IntN(len(testChannels))]
			campaign := ""
			if c.channel == "Paid Search" || c.channel == "Email" {
				campaign = fmt.Sprintf("camp%d", rng.IntN(3))
			}
			sessions = append(sessions, attrtest.Session{Site: "demo", Person: person, At: at, Channel: c.channel, Source: c.source,
				Medium: c.medium, Campaign: campaign, Term: []string{"", "crm", "best crm"}[rng.IntN(3)],
				Landing: fmt.Sprintf("/page%d", rng.IntN(3)), Country: []string{"DE", "FR", ""}[rng.IntN(3)],
				Device: []string{"desktop", "mobile"}[rng.IntN(2)], Bot: rng.IntN(25) == 0})
			at = at.Add(time.Duration(1+rng.IntN(40)) * time.Hour)
		}
		if rng.IntN(3) > 0 {
			d.Conversion(attrtest.Conversion{Site: "demo", ID: "lead-" + person, Type: "lead",
				LeadType: []string{"form", "call", "chat", "other"}[rng.IntN(4)], Person: person, At: at})
		}
		if rng.IntN(3) == 0 {
			d.Conversion(attrtest.Conversion{Site: "demo", ID: "sale-" + person, Type: "sale", Person: person, At: at.Add(time.Hour),
				Value: float64(10 + rng.IntN(500)), Currency: []string{"EUR", "USD"}[rng.IntN(2)]})
		}
	}
	d.Sessions(sessions)
	store := &Store{Conn: conn, DB: db}
	if err := store.ImportRates(ctx, "demo", []Rate{{"2026-09-18", "EUR", "USD", 1.1}}); err != nil {
		t.Fatal(err)
	}
	var csv = "date,source,medium,campaign,ad_group,term,cost,currency,clicks,impressions\n"
	for i := 0; i < 21; i++ {
		day := start.AddDate(0, 0, i).Format("2006-01-02")
		csv += fmt.Sprintf("%s,google,cpc,camp%d,,,%d,EUR,%d,%d\n", day, i%3, 40+i, 10+i, 100+i)
		csv += fmt.Sprintf("%s,google,cpc,camp%d,g,crm,%d.5,EUR,4,40\n", day, i%3, 10+i%5)
		csv += fmt.Sprintf("%s,newsletter,email,camp1,,,%d,USD,0,0\n", day, 5+i%4)
	}
	costs, err := ParseCosts("text/csv", []byte(csv), CostDefaults{Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.ImportCosts(ctx, "demo", costs); err != nil {
		t.Fatal(err)
	}
	sites, _ := site.New(site.Config{Sites: []site.Site{{ID: "demo", LookbackDays: 30}}})
	if _, _, err := engine.New(conn, db, sites).Rebuild(ctx, "demo", start.AddDate(0, 0, -1), start.AddDate(0, 0, 40)); err != nil {
		t.Fatal(err)
	}
	return store, start
}

// params parses a report query as the API does.
func params(t *testing.T, query string) Params {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	q.Set("site", "demo")
	p, err := ParseParams(q, time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	p.Currency = "EUR"
	return p
}

// sameFigures reports whether two sets of figures agree to the precision of the API.
func sameFigures(a, b Figures) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-4 }
	return a.Visitors == b.Visitors && a.Sessions == b.Sessions && near(a.Leads, b.Leads) && near(a.Sales, b.Sales) &&
		near(a.Revenue, b.Revenue) && near(a.Cost, b.Cost) && a.Clicks == b.Clicks && a.Impressions == b.Impressions &&
		near(a.LeadsByType.Call, b.LeadsByType.Call) && len(a.Unconverted) == len(b.Unconverted)
}

// Drilling down from a row (channel → source → campaign → keyword) gives a report whose
// totals are that row, for every model; filters narrow traffic, credit and cost alike,
// and the figures are the same from the rollups as from the tables.
func TestDrillDownTotalsAreTheParentRow(t *testing.T) {
	ctx := context.Background()
	store, start := exploreData(t)
	rng := fmt.Sprintf("from=%s&to=%s", start.Format("2006-01-02"), start.AddDate(0, 0, 20).Format("2006-01-02"))
	report := func(query string) *Sources {
		t.Helper()
		r, err := store.Sources(ctx, params(t, rng+"&"+query))
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return r
	}
	chain := []string{"channel", "source", "campaign", "keyword"}
	var drill func(m, filters string, level int) int
	drill = func(m, filters string, level int) int {
		parent := report(fmt.Sprintf("model=%s&by=%s%s", m, chain[level], filters))
		checked := 0
		for _, row := range parent.Rows {
			if row.Key == UnallocatedKey || level+1 == len(chain) {
				continue
			}
			f := filters + "&" + chain[level] + "=" + url.QueryEscape(row.Key)
			child := report(fmt.Sprintf("model=%s&by=%s%s", m, chain[level+1], f))
			if !sameFigures(child.Totals, row.Figures) {
				t.Fatalf("%s%s by %s: totals\n%+v\nwant the parent row\n%+v", m, f, chain[level+1], child.Totals, row.Figures)
			}
			checked += 1 + drill(m, f, level+1)
		}
		return checked
	}
	for _, m := range []string{model.FirstClick, model.Linear, model.DataDriven} {
		if n := drill(m, "", 0); n < 15 {
			t.Fatalf("%s: only %d drill-downs checked", m, n)
		}
	}
	// The same for country, device and landing page, which carry no cost.
	for _, dim := range []string{"country", "device", "landing_page"} {
		parent := report("model=linear&by=" + dim)
		for _, row := range parent.Rows {
			if row.Key == UnallocatedKey {
				continue
			}
			child := report("model=linear&by=channel&" + dim + "=" + url.QueryEscape(row.Key))
			want := row.Figures
			want.Cost, want.Clicks, want.Impressions = 0, 0, 0
			if !sameFigures(child.Totals, want) || child.CostIncluded {
				t.Fatalf("%s=%s: totals %+v, want %+v without cost", dim, row.Key, child.Totals, want)
			}
		}
	}
	// A lead type narrows leads, not traffic or sales.
	all, calls := report("model=first_click&by=channel"), report("model=first_click&by=channel&lead_type=call")
	if calls.Totals.Leads != all.Totals.LeadsByType.Call || calls.Totals.LeadsByType.Form != 0 || calls.Totals.Sales != all.Totals.Sales ||
		calls.Totals.Sessions != all.Totals.Sessions || calls.Totals.Cost != all.Totals.Cost || calls.Totals.Leads == 0 {
		t.Fatalf("lead_type=call: %+v, all: %+v", calls.Totals, all.Totals)
	}

	// Filtered reports and series, from the tables and then from the rollups.
	queries := []string{"model=linear&by=channel&channel=Paid+Search", "model=linear&by=source&channel=Paid+Search",
		"model=first_click&by=keyword&campaign=camp1", "model=time_decay&by=campaign&device=mobile&lead_type=form",
		"model=first_click&by=channel&lead_type=other", "model=first_click&by=country&country=%28none%29"}
	series := []string{"interval=week", "interval=day&channel=Email", "interval=month&device=desktop&source=google"}
	snapshot := func() map[string]any {
		out := map[string]any{}
		for _, q := range queries {
			r := report(q)
			round(r)
			out[q] = r
		}
		for _, q := range series {
			p := params(t, rng+"&"+q)
			interval, err := ParseInterval(p2q(q), p)
			if err != nil {
				t.Fatal(err)
			}
			s, err := store.Series(ctx, p, interval)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out[q] = s
		}
		return out
	}
	before := snapshot()
	time.Sleep(1100 * time.Millisecond) // ClickHouse's clock, which dates changes, has one-second steps
	if n, err := store.BuildRollups(ctx, "demo", 0); err != nil || n < 20 {
		t.Fatalf("built %d days: %v", n, err)
	}
	after := snapshot()
	for k, b := range before {
		x, _ := json.Marshal(b)
		y, _ := json.Marshal(after[k])
		if string(x) != string(y) {
			t.Fatalf("%s: from the tables\n%s\nfrom the rollups\n%s", k, x, y)
		}
	}
}

func p2q(s string) url.Values {
	q, _ := url.ParseQuery(s)
	return q
}

// A series' buckets hold the figures of the source report of their days, the previous
// period's those of the same days moved back by the range's length, and its totals
// those of the two ranges' reports; days without data are buckets of zeros.
func TestSeriesAgreesWithTheSourceReport(t *testing.T) {
	ctx := context.Background()
	store, start := exploreData(t)
	sources := func(from, to, filters string) Figures {
		t.Helper()
		r, err := store.Sources(ctx, params(t, fmt.Sprintf("from=%s&to=%s&model=linear%s", from, to, filters)))
		if err != nil {
			t.Fatal(err)
		}
		return r.Totals
	}
	// The second half of the data against the first half, by week starting mid-week,
	// by day and by month (one partial month on each side of a boundary).
	from, to := start.AddDate(0, 0, 12), start.AddDate(0, 0, 23) // Saturday Oct 3 … Wednesday Oct 14
	for _, c := range []struct {
		query  string
		points int
	}{{"interval=week", 3}, {"interval=day", 12}, {"interval=month", 1}, {"interval=week&channel=Paid+Search&device=mobile", 3},
		{"interval=week&channel=Paid+Search&source=google", 3}, {"interval=day&lead_type=call", 12}} {
		q := fmt.Sprintf("from=%s&to=%s&model=linear&%s", day(from), day(to), c.query)
		p := params(t, q)
		interval, err := ParseInterval(p2q(c.query), p)
		if err != nil {
			t.Fatal(err)
		}
		s, err := store.Series(ctx, p, interval)
		if err != nil {
			t.Fatal(err)
		}
		filters := ""
		for k, v := range s.Filters {
			filters += "&" + k + "=" + url.QueryEscape(v)
		}
		if len(s.Points) != c.points || s.Points[0].From != day(from) || s.Points[len(s.Points)-1].To != day(to) ||
			s.PreviousFrom != day(from.AddDate(0, 0, -12)) || s.PreviousTo != day(from.AddDate(0, 0, -1)) {
			t.Fatalf("%s: %d points from %s to %s, previous %s…%s", q, len(s.Points), s.Points[0].From, s.Points[len(s.Points)-1].To,
				s.PreviousFrom, s.PreviousTo)
		}
		if got, want := s.Totals, sources(s.From, s.To, filters); !sameFigures(got, want) {
			t.Fatalf("%s: totals %+v, want %+v", q, got, want)
		}
		if got, want := s.PreviousTotals, sources(s.PreviousFrom, s.PreviousTo, filters); !sameFigures(got, want) || want.Sessions == 0 {
			t.Fatalf("%s: previous totals %+v, want %+v", q, got, want)
		}
		for _, pt := range s.Points {
			if got, want := pt.Current, sources(pt.From, pt.To, filters); !sameFigures(got, want) {
				t.Fatalf("%s: %s…%s: %+v, want %+v", q, pt.From, pt.To, got, want)
			}
			if got, want := pt.Previous, sources(pt.PreviousFrom, pt.PreviousTo, filters); !sameFigures(got, want) {
				t.Fatalf("%s: previous %s…%s: %+v, want %+v", q, pt.PreviousFrom, pt.PreviousTo, got, want)
			}
		}
	}
	// Before the data: every bucket is there, all zero.
	p := params(t, "from=2026-01-05&to=2026-01-18&model=linear")
	s, err := store.Series(ctx, p, "week")
	if err != nil || len(s.Points) != 2 || s.Points[1].From != "2026-01-12" || s.Points[1].Current.Sessions != 0 || s.Totals.Visitors != 0 {
		t.Fatalf("empty range: %+v %v", s, err)
	}
}
