package engine

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/model"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
	"touchpoint/reports"
)

// fixture writes stitcher-shaped rows straight into a fresh database.
type fixture struct {
	t    *testing.T
	conn driver.Conn
	db   *attrtest.DB
	eng  *Engine
	sess map[string]string // label -> session id
}

func newFixture(t *testing.T) *fixture {
	conn, db := testenv.FreshDatabase(t)
	sites, err := site.New(site.Config{Sites: []site.Site{{ID: "s1", LookbackDays: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	eng := New(conn, db, sites)
	eng.Settle = 0
	return &fixture{t: t, conn: conn, db: &attrtest.DB{T: t, Conn: conn, Name: db}, eng: eng, sess: map[string]string{}}
}

var t0 = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

func (f *fixture) session(label, person string, at time.Time, channel, source, medium string) {
	f.t.Helper()
	f.sess[label] = f.db.Session(attrtest.Session{Site: "s1", Person: person, At: at, Channel: channel, Source: source,
		Medium: medium, Campaign: "camp-" + label, Landing: "/" + label})
}

func (f *fixture) conversion(id, typ, person string, at time.Time, value float64) {
	f.t.Helper()
	f.db.Conversion(attrtest.Conversion{Site: "s1", ID: id, Type: typ, LeadType: "form", Person: person, At: at, Value: value})
}

// keepVersions stops ClickHouse's merges of the sessions table, so that the versions a
// test writes stay apart, as they are until a merge: a merge would hide what is tested.
func (f *fixture) keepVersions() { f.stopMerges("sessions") }

// stopMerges stops ClickHouse's merges of one of the test database's tables.
func (f *fixture) stopMerges(table string) {
	f.t.Helper()
	if err := f.conn.Exec(context.Background(), "SYSTEM STOP MERGES "+f.db.Name+"."+table); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) alias(person, current string) {
	f.t.Helper()
	f.db.Alias("s1", person, current)
}

// lifecycle reads s1's lifecycle report of September and October, with query's other
// parameters, as of three days after t0.
func (f *fixture) lifecycle(query url.Values) *reports.Lifecycle {
	f.t.Helper()
	query.Set("site", "s1")
	query.Set("from", "2026-09-01")
	query.Set("to", "2026-10-31")
	p, err := reports.ParseParams(query, t0)
	if err != nil {
		f.t.Fatal(err)
	}
	lc, err := (&reports.Store{Conn: f.conn, DB: f.db.Name}).Lifecycle(context.Background(), p, site.Lifecycle{}, t0.Add(72*time.Hour))
	if err != nil {
		f.t.Fatal(err)
	}
	return lc
}

// watchPass runs a pass of the watcher over s1 that is not a sweep: only the watermark
// finds new conversions.
func (f *fixture) watchPass() {
	f.t.Helper()
	if err := f.eng.pass(context.Background(), f.eng.sites.Get("s1"), false); err != nil {
		f.t.Fatal(err)
	}
}

// writeConversion writes a lead of p1 with its version: the receive time in ms, plus
// event.ServerRank for a server's row and event.CallEndedRank for an ended call's.
func (f *fixture) writeConversion(id, leadType, origin string, version uint64) {
	f.t.Helper()
	b, err := f.conn.PrepareBatch(context.Background(), "INSERT INTO "+f.db.Name+`.conversions (site_id, conversion_id, type, lead_type,
		occurred_at, received_at, visitor_id, person_id, value, currency, origin, version)`)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := b.Append("s1", id, "lead", leadType, t0, t0, "v-p1", "p1", 0.0, "EUR", origin, version); err != nil {
		f.t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		f.t.Fatal(err)
	}
}

// credits returns model -> session label (or "" for the no-touchpoint touch) -> credit.
func (f *fixture) credits(convID string) map[string]map[string]float64 {
	f.t.Helper()
	labels := map[string]string{}
	for l, id := range f.sess {
		labels[id] = l
	}
	rows, err := f.conn.Query(context.Background(), "SELECT model, session_id, credit FROM "+f.db.Name+
		".attributions_current WHERE site_id = 's1' AND conversion_id = ?", convID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]map[string]float64{}
	for rows.Next() {
		var m, sid string
		var c float64
		if err := rows.Scan(&m, &sid, &c); err != nil {
			f.t.Fatal(err)
		}
		if out[m] == nil {
			out[m] = map[string]float64{}
		}
		out[m][labels[sid]] = c
	}
	return out
}

func (f *fixture) rebuild() (int, int) {
	f.t.Helper()
	n, rows, err := f.eng.Rebuild(context.Background(), "s1", t0.AddDate(0, -3, 0), t0.AddDate(0, 3, 0))
	if err != nil {
		f.t.Fatal(err)
	}
	return n, rows
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestRebuildCreditsEveryModel(t *testing.T) {
	f := newFixture(t)
	f.session("search", "p1", t0.Add(-72*time.Hour), "Organic Search", "google", "organic")
	f.session("social", "p1", t0.Add(-24*time.Hour), "Paid Social", "facebook", "paid_social")
	f.session("direct", "p1", t0.Add(-time.Hour), "Direct", "(direct)", "(none)")
	f.session("after", "p1", t0.Add(time.Hour), "Email", "newsletter", "email")              // after the conversion
	f.session("old", "p1", t0.Add(-40*24*time.Hour), "Referral", "blog.example", "referral") // outside 30 days
	f.conversion("lead-1", "lead", "p1", t0, 0)
	f.conversion("sale-1", "sale", "p2", t0, 900) // no touchpoints

	n, _ := f.rebuild()
	if n != 2 {
		t.Fatalf("rebuilt %d conversions, want 2", n)
	}
	got := f.credits("lead-1")
	want := map[string]map[string]float64{
		"first_click":     {"search": 1},
		"last_click":      {"direct": 1},
		"last_non_direct": {"social": 1},
		"linear":          {"search": 1.0 / 3, "social": 1.0 / 3, "direct": 1.0 / 3},
		"position_based":  {"search": 0.4, "social": 0.2, "direct": 0.4},
	}
	for m, w := range want {
		if len(got[m]) != len(w) {
			t.Fatalf("%s: credits %v, want %v", m, got[m], w)
		}
		for l, c := range w {
			if !near(got[m][l], c) {
				t.Fatalf("%s: credits %v, want %v", m, got[m], w)
			}
		}
	}
	for _, m := range []string{"time_decay", "data_driven"} {
		sum := 0.0
		for _, c := range got[m] {
			sum += c
		}
		if !near(sum, 1) || got[m]["after"] != 0 || got[m]["old"] != 0 {
			t.Fatalf("%s: credits %v", m, got[m])
		}
	}
	if d := got["time_decay"]; !(d["direct"] > d["social"] && d["social"] > d["search"]) {
		t.Fatalf("time_decay does not favour recent touches: %v", d)
	}
	sale := f.credits("sale-1")
	if len(sale) != 7 || sale["first_click"][""] != 1 {
		t.Fatalf("sale without touchpoints: %v", sale)
	}
	var revenue float64
	var direct uint64
	if err := f.conn.QueryRow(context.Background(), "SELECT sumIf(revenue, channel = '(no touchpoint)' AND source = '(no touchpoint)'), countIf(channel = 'Direct') FROM "+
		f.db.Name+".attributions_current WHERE conversion_id = 'sale-1' AND model = 'linear'").Scan(&revenue, &direct); err != nil {
		t.Fatal(err)
	}
	if revenue != 900 || direct != 0 {
		t.Fatalf("(no touchpoint) revenue %v, Direct rows %d; want 900 and none", revenue, direct)
	}
}

// A rebuild walks the conversions and the sessions person by person: persons with
// conversions and no sessions come before, between and after those with sessions, some
// persons have sessions and no conversion, one has two conversions. Each conversion is
// credited once under every model, to its own person's sessions only; computing the same
// conversions by the list (ComputeConversions) gives the same.
func TestRebuildWalksPersonsWithAndWithoutSessions(t *testing.T) {
	f := newFixture(t)
	f.session("b", "pb", t0.Add(-48*time.Hour), "Organic Search", "google", "organic")
	f.session("d", "pd", t0.Add(-24*time.Hour), "Email", "newsletter", "email") // no conversion
	f.session("e", "pe", t0.Add(-2*time.Hour), "Paid Social", "facebook", "paid_social")
	f.session("g", "pg", t0.Add(-time.Hour), "Referral", "blog.example", "referral") // no conversion, last
	// Each conversion's person, and the session credited ("" for none: no touchpoint).
	convs := []struct{ id, person, label string }{{"lead-a", "pa", ""}, {"lead-b1", "pb", "b"}, {"lead-b2", "pb", "b"},
		{"lead-c", "pc", ""}, {"lead-e", "pe", "e"}, {"lead-f", "pf", ""}, {"lead-h", "ph", ""}}
	want := map[string]string{}
	for i, c := range convs {
		f.conversion(c.id, "lead", c.person, t0.Add(time.Duration(i)*time.Minute), 0)
		want[c.id] = c.label
	}
	check := func(how string) {
		t.Helper()
		for id, label := range want {
			got := f.credits(id)
			if len(got) != len(model.Models) {
				t.Fatalf("%s: %s credited under %d models, want %d: %v", how, id, len(got), len(model.Models), got)
			}
			for m, touches := range got {
				if len(touches) != 1 || touches[label] != 1 {
					t.Fatalf("%s: %s under %s credits %v, want all to %q", how, id, m, touches, label)
				}
			}
		}
	}
	if n, _ := f.rebuild(); n != len(want) {
		t.Fatalf("rebuilt %d conversions, want %d", n, len(want))
	}
	check("rebuild")

	cs, err := f.eng.store.conversions(context.Background(), "s1", conversionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(cs) // ComputeConversions orders them itself
	if _, err := f.eng.ComputeConversions(context.Background(), f.eng.sites.Get("s1"), cs, false); err != nil {
		t.Fatal(err)
	}
	check("by the list")
}

// A lead whose only session is a bot's (a headless browser submitting a form) has no
// touchpoint: every model credits "(no touchpoint)" in every dimension, never an invented
// Direct visit. A touch's country and device go into its attribution rows.
func TestLeadWithoutTouchpointIsCreditedToNoTouchpoint(t *testing.T) {
	f := newFixture(t)
	f.db.Session(attrtest.Session{Site: "s1", Person: "bot", At: t0.Add(-time.Minute), Channel: "Direct", Source: "(direct)", Medium: "(none)", Bot: true})
	f.conversion("lead-bot", "lead", "bot", t0, 0)
	f.db.Session(attrtest.Session{Site: "s1", Person: "p1", At: t0.Add(-time.Hour), Channel: "Paid Search", Source: "google", Medium: "cpc",
		Campaign: "brand", Term: "crm", Landing: "/pricing", Country: "DE", Device: "mobile"})
	f.conversion("lead-p1", "lead", "p1", t0, 0)
	f.rebuild()
	rows, err := f.conn.Query(context.Background(), `SELECT conversion_id, model, session_id, channel, source, medium, campaign, term,
			content, landing_page, country, device, credit
		FROM `+f.db.Name+`.attributions_current ORDER BY conversion_id, model`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, m, sid, ch, src, med, camp, term, content, land, country, device string
		var credit float64
		if err := rows.Scan(&id, &m, &sid, &ch, &src, &med, &camp, &term, &content, &land, &country, &device, &credit); err != nil {
			t.Fatal(err)
		}
		n++
		got := fmt.Sprint(sid, "|", ch, "|", src, "|", med, "|", camp, "|", term, "|", content, "|", land, "|", country, "|", device, "|", credit)
		want := "|(no touchpoint)|(no touchpoint)|(no touchpoint)|(no touchpoint)|(no touchpoint)|(no touchpoint)|(no touchpoint)|(no touchpoint)|(no touchpoint)|1"
		if id == "lead-p1" {
			if ch != "Paid Search" || country != "DE" || device != "mobile" || land != "/pricing" || credit != 1 {
				t.Fatalf("%s %s: %s", id, m, got)
			}
			continue
		}
		if got != want {
			t.Fatalf("%s %s: %s, want %s", id, m, got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 14 {
		t.Fatalf("%d credit rows, want one per model for each lead", n)
	}
}

func TestRebuildTwiceIsIdempotent(t *testing.T) {
	f := newFixture(t)
	f.session("a", "p1", t0.Add(-48*time.Hour), "Organic Search", "google", "organic")
	f.session("b", "p1", t0.Add(-2*time.Hour), "Email", "newsletter", "email")
	f.conversion("c1", "lead", "p1", t0, 0)
	snapshot := func() []string {
		rows, err := f.conn.Query(context.Background(), "SELECT * FROM (SELECT conversion_id, session_id, credit_first_click, credit_last_click, "+
			"credit_last_non_direct, credit_linear, credit_time_decay, credit_position_based, credit_data_driven, removed FROM "+f.db.Name+
			".touch_credits FINAL) ORDER BY conversion_id, session_id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var c, s string
			var cr [7]float64
			var rm uint8
			if err := rows.Scan(&c, &s, &cr[0], &cr[1], &cr[2], &cr[3], &cr[4], &cr[5], &cr[6], &rm); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %s %v %d", c, s, cr, rm)) // %v: every bit of each credit
		}
		return out
	}
	f.rebuild()
	first := snapshot()
	f.rebuild()
	second := snapshot()
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatalf("second rebuild changed rows:\n%v\n%v", first, second)
	}
	if len(first) != 2 || !strings.HasSuffix(first[0], " 0") || !strings.HasSuffix(first[1], " 0") { // a row per touch, both credited
		t.Fatalf("rows after rebuild: %v, want one per touch", first)
	}
}

// A person merged into another after the lead was credited: the watcher recomputes the
// lead with the merged person's earlier touch, and the touch that lost first-click credit
// keeps the credit of the models that still give it some.
// A rebuild credits a conversion written under an id merged into a person with the
// sessions of every id of theirs.
func TestRebuildCreditsTheMergedPerson(t *testing.T) {
	f := newFixture(t)
	f.session("phone", "p-phone", t0.Add(-24*time.Hour), "Paid Social", "linkedin", "paid_social")
	f.session("laptop", "p-laptop", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	f.conversion("lead-p", "lead", "p-phone", t0, 0)
	f.alias("p-phone", "p-laptop")
	if n, _ := f.rebuild(); n != 1 {
		t.Fatalf("rebuilt %d conversions, want 1", n)
	}
	if c := f.credits("lead-p"); c["first_click"]["phone"] != 1 || c["last_click"]["laptop"] != 1 {
		t.Fatalf("credit %v, want first click phone and last click laptop", c)
	}
}

func TestMergeRecomputesLead(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.session("phone", "p-phone", t0.Add(-24*time.Hour), "Paid Social", "linkedin", "paid_social")
	f.session("laptop", "p-laptop", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	f.conversion("lead-m", "lead", "p-laptop", t0, 0)
	st := f.eng.sites.Get("s1")
	if err := f.eng.pass(ctx, st, true); err != nil {
		t.Fatal(err)
	}
	if c := f.credits("lead-m"); c["first_click"]["laptop"] != 1 {
		t.Fatalf("before the merge: %v", c)
	}
	f.alias("p-phone", "p-laptop")
	if err := f.eng.pass(ctx, st, false); err != nil {
		t.Fatal(err)
	}
	c := f.credits("lead-m")
	if c["first_click"]["phone"] != 1 || c["last_click"]["laptop"] != 1 || !near(c["linear"]["phone"], 0.5) {
		t.Fatalf("after the merge: %v", c)
	}
	// The laptop session lost its first-click credit, not its row: last click credits it.
	var rows, removed uint64
	var first, last float64
	if err := f.conn.QueryRow(ctx, "SELECT count(), sum(removed), sum(credit_first_click), sum(credit_last_click) FROM "+f.db.Name+
		".touch_credits FINAL WHERE conversion_id = 'lead-m' AND session_id = ?",
		f.sess["laptop"]).Scan(&rows, &removed, &first, &last); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || removed != 0 || first != 0 || last != 1 {
		t.Fatalf("laptop row: %d rows, %d removed, first click %v, last click %v; want 1, 0, 0, 1", rows, removed, first, last)
	}

	// The source report counts the recomputed credit only.
	p, err := reports.ParseParams(url.Values{"site": {"s1"}, "from": {"2026-09-01"}, "to": {"2026-10-31"}, "model": {"first_click"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&reports.Store{Conn: f.conn, DB: f.db.Name}).Sources(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	leads := map[string]float64{}
	for _, r := range rep.Rows {
		leads[r.Key] = r.Leads
	}
	if leads["Paid Social"] != 1 || leads["Organic Search"] != 0 || rep.Totals.Leads != 1 {
		t.Fatalf("first-click leads after the merge: %v (total %v)", leads, rep.Totals.Leads)
	}
}

// The lifecycle report counts people as their conversions were last credited: once a
// pass has computed a merged person's conversions again, the stage recorded under the id
// merged away counts for the lead of the person it was merged into.
func TestMergeMovesStagesInLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.session("laptop", "p-laptop", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	f.conversion("lead-l", "lead", "p-laptop", t0, 0)
	f.conversion("won-c", "customer", "p-crm", t0.Add(48*time.Hour), 0) // the CRM's record, before it knew the visitor
	st := f.eng.sites.Get("s1")
	stages := func() (lead, customer, organicCustomer float64) {
		t.Helper()
		lc := f.lifecycle(url.Values{"by": {"channel"}})
		for _, r := range lc.Rows {
			if r.Key == "Organic Search" {
				organicCustomer = r.Counts["customer"]
			}
		}
		return lc.Totals.Counts["lead"], lc.Totals.Counts["customer"], organicCustomer
	}
	if err := f.eng.pass(ctx, st, true); err != nil {
		t.Fatal(err)
	}
	// Two people: the customer without a lead enters with that stage.
	if lead, customer, organic := stages(); lead != 2 || customer != 1 || organic != 0 {
		t.Fatalf("before the merge: %v leads, %v customers, %v of them organic; want 2, 1, 0", lead, customer, organic)
	}
	f.alias("p-crm", "p-laptop")
	if err := f.eng.pass(ctx, st, false); err != nil {
		t.Fatal(err)
	}
	if lead, customer, organic := stages(); lead != 1 || customer != 1 || organic != 1 {
		t.Fatalf("after the merge: %v leads, %v customers, %v of them organic; want 1, 1, 1", lead, customer, organic)
	}
}

// A conversion sent again with another person, time and type counts for its latest
// person only, though its earlier computation keeps a row under its earlier time.
func TestLifecycleCountsAConversionForItsLatestPerson(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.session("laptop", "p-a", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	f.conversion("lead-a", "lead", "p-a", t0, 0)
	f.conversion("deal", "customer", "p-a", t0.Add(24*time.Hour), 0)
	st := f.eng.sites.Get("s1")
	totals := func() map[string]float64 {
		t.Helper()
		return f.lifecycle(url.Values{}).Totals.Counts
	}
	if err := f.eng.pass(ctx, st, true); err != nil {
		t.Fatal(err)
	}
	if c := totals(); c["lead"] != 1 || c["customer"] != 1 {
		t.Fatalf("before: %v leads, %v customers; want 1, 1", c["lead"], c["customer"])
	}
	// The CRM moves the deal to another person, who lost it.
	f.conversion("deal", "closed_lost", "p-b", t0.Add(48*time.Hour), 0)
	if err := f.eng.pass(ctx, st, false); err != nil {
		t.Fatal(err)
	}
	if c := totals(); c["lead"] != 1 || c["customer"] != 0 || c["closed_lost"] != 0 {
		t.Fatalf("after: %v leads, %v customers, %v lost; want 1, 0, 0", c["lead"], c["customer"], c["closed_lost"])
	}
}

// A site whose lookback window shrank is rebuilt when the engine starts: a touch now
// outside the window loses its credit to (no touchpoint).
func TestChangedLookbackRebuilds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.session("old", "p1", t0.Add(-20*24*time.Hour), "Paid Search", "google", "cpc")
	f.conversion("c1", "lead", "p1", t0, 0)
	st := f.eng.sites.Get("s1") // 30 days
	if err := f.eng.checkLookback(ctx, st); err != nil {
		t.Fatal(err)
	}
	f.rebuild()
	if c := f.credits("c1"); c["first_click"]["old"] != 1 {
		t.Fatalf("with 30 days: %v", c)
	}
	st.LookbackDays = 7
	if err := f.eng.checkLookback(ctx, st); err != nil {
		t.Fatal(err)
	}
	c := f.credits("c1")
	if c["first_click"][""] != 1 || len(c["first_click"]) != 1 {
		t.Fatalf("with 7 days the conversion should go to (no touchpoint): %v", c)
	}
}

// A rebuild marks removed a touch that dropped out of a conversion's window once: the
// rebuilds after it write no more rows for it, and a wider window credits it again.
func TestRebuildRemovesADroppedTouchOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Merges would fold the rows counted below.
	if err := f.conn.Exec(ctx, "SYSTEM STOP MERGES "+f.db.Name+".touch_credits"); err != nil {
		t.Fatal(err)
	}
	f.session("old", "p1", t0.Add(-20*24*time.Hour), "Paid Search", "google", "cpc")
	f.session("new", "p1", t0.Add(-24*time.Hour), "Email", "newsletter", "email")
	f.conversion("c1", "lead", "p1", t0, 0)
	st := f.eng.sites.Get("s1") // 30 days
	rows := func(session string) (n uint64, removed uint8) {
		t.Helper()
		err := f.conn.QueryRow(ctx, "SELECT count(), argMax(removed, version) FROM "+f.db.Name+
			".touch_credits WHERE conversion_id = 'c1' AND session_id = ?", f.sess[session]).Scan(&n, &removed)
		if err != nil {
			t.Fatal(err)
		}
		return n, removed
	}
	f.rebuild()
	st.LookbackDays = 7
	f.rebuild()
	if c := f.credits("c1"); c["first_click"]["new"] != 1 || len(c["first_click"]) != 1 {
		t.Fatalf("with 7 days: %v", c)
	}
	if n, removed := rows("old"); n != 2 || removed != 1 {
		t.Fatalf("the dropped touch has %d rows, the latest removed=%d; want its credit and one removal", n, removed)
	}
	f.rebuild()
	if n, _ := rows("old"); n != 2 {
		t.Fatalf("a rebuild that changed nothing wrote another row for the dropped touch: %d rows", n)
	}
	if n, removed := rows("new"); n != 3 || removed != 0 {
		t.Fatalf("the credited touch has %d rows, the latest removed=%d; want one per rebuild, credited", n, removed)
	}
	st.LookbackDays = 30
	f.rebuild()
	if c := f.credits("c1"); c["first_click"]["old"] != 1 || !near(c["linear"]["old"], 0.5) || !near(c["linear"]["new"], 0.5) {
		t.Fatalf("with 30 days again: %v", c)
	}
	if n, removed := rows("old"); n != 3 || removed != 0 {
		t.Fatalf("the touch back in the window has %d rows, the latest removed=%d", n, removed)
	}
}

// Credit goes to each session's latest row version, as the stitcher writes them: a visit
// written again with each batch, first under its visitor's own person and then under the
// person that one was merged into; a session folded into another (deleted) or found to be
// a bot's later; and one deleted and then written again by a restitch.
func TestCreditGoesToEachSessionsLatestVersion(t *testing.T) {
	f := newFixture(t)
	f.keepVersions()
	at := func(h int) time.Time { return t0.Add(-time.Duration(h) * time.Hour) }
	visit := attrtest.Session{Site: "s1", Person: "v-anon", At: at(48), Channel: "Paid Search", Source: "google", Medium: "cpc"}
	visit.ID = f.db.Session(visit)
	f.db.Session(visit)
	visit.Person = "p1"
	f.db.Session(visit)
	f.alias("v-anon", "p1")
	f.sess["visit"] = visit.ID

	folded := attrtest.Session{Site: "s1", Person: "p1", At: at(24), Channel: "Referral", Source: "blog.example", Medium: "referral"}
	folded.ID = f.db.Session(folded)
	folded.Deleted = true
	f.db.Session(folded)
	f.sess["folded"] = folded.ID

	bot := attrtest.Session{Site: "s1", Person: "p1", At: at(12), Channel: "Email", Source: "newsletter", Medium: "email"}
	bot.ID = f.db.Session(bot)
	bot.Bot = true
	f.db.Session(bot)
	f.sess["bot"] = bot.ID

	back := attrtest.Session{Site: "s1", Person: "p1", At: at(6), Channel: "Organic Search", Source: "google", Medium: "organic"}
	back.ID = f.db.Session(back)
	back.Deleted = true
	f.db.Session(back)
	back.Deleted = false
	f.db.Session(back)
	f.sess["back"] = back.ID

	f.conversion("c1", "lead", "p1", t0, 0)
	f.rebuild()
	c := f.credits("c1")
	if got, want := fmt.Sprint(c["linear"]), "map[back:0.5 visit:0.5]"; got != want {
		t.Fatalf("linear credit %s, want %s (all: %v)", got, want, c)
	}
	if got, want := fmt.Sprint(c["first_click"], c["last_click"]), "map[visit:1] map[back:1]"; got != want {
		t.Fatalf("first and last click %s, want %s", got, want)
	}
}

// The data-driven model's journeys count each session once whatever its row versions,
// and leave out sessions whose latest version is deleted or a bot's. A person's path
// holds the sessions of the ids merged into them, and their conversions under those ids
// make them converted. A site read in several passes gives the same journeys.
func TestJourneysReadEachSessionOnce(t *testing.T) {
	f := newFixture(t)
	f.keepVersions()
	s := attrtest.Session{Site: "s1", Person: "p1", At: t0.Add(-48 * time.Hour), Channel: "Paid Search", Source: "google", Medium: "cpc"}
	s.ID = f.db.Session(s)
	f.db.Session(s) // a second version of the same session
	gone := attrtest.Session{Site: "s1", Person: "p1", At: t0.Add(-24 * time.Hour), Channel: "Referral", Source: "blog.example", Medium: "referral"}
	gone.ID = f.db.Session(gone)
	gone.Deleted = true
	f.db.Session(gone)
	bot := attrtest.Session{Site: "s1", Person: "p1", At: t0.Add(-18 * time.Hour), Channel: "Organic Social", Source: "linkedin", Medium: "social"}
	bot.ID = f.db.Session(bot)
	bot.Bot = true
	f.db.Session(bot)
	back := attrtest.Session{Site: "s1", Person: "p1", At: t0.Add(-12 * time.Hour), Channel: "Organic Search", Source: "google", Medium: "organic"}
	back.ID, back.Deleted = f.db.Session(back), true
	f.db.Session(back)
	back.Deleted = false
	f.db.Session(back)
	f.session("email", "p1", t0.Add(-time.Hour), "Email", "newsletter", "email")
	f.session("other", "p2", t0.Add(-time.Hour), "Direct", "(direct)", "(none)")
	f.session("third", "p3", t0.Add(-2*time.Hour), "Direct", "(direct)", "(none)")
	f.conversion("c1", "lead", "p1", t0, 0)
	f.session("phone", "p1-phone", t0.Add(-30*time.Hour), "Paid Social", "facebook", "paid_social")
	f.alias("p1-phone", "p1")
	f.session("tablet", "p4", t0.Add(-3*time.Hour), "Referral", "g2.com", "referral")
	f.conversion("c4", "lead", "p4-laptop", t0, 0)
	f.alias("p4-laptop", "p4")

	var want model.Journeys
	want.Add([]string{"Paid Search", "Paid Social", "Organic Search", "Email"}, true)
	want.Add([]string{"Direct"}, false)
	want.Add([]string{"Direct"}, false)
	want.Add([]string{"Referral"}, true)
	// In one pass, and in passes of at most two rows each (a site larger than a pass).
	for _, limit := range []uint64{0, 2} {
		f.eng.store.pathLimit = limit
		got, err := f.eng.store.journeys(context.Background(), "s1", t0.AddDate(0, 0, -10), t0.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("journeys in passes of %d rows:\n%s\nwant:\n%s", limit, got, &want)
		}
	}
}

// A site's own channel names reach the paths whatever they hold, and a range without
// sessions has no journeys.
func TestJourneysKeepTheSitesChannelNames(t *testing.T) {
	f := newFixture(t)
	odd := `Partner's "best" \ deals`
	f.session("partner", "p1", t0.Add(-2*time.Hour), odd, "partner.example", "referral")
	f.session("direct", "p1", t0.Add(-time.Hour), "Direct", "(direct)", "(none)")
	f.conversion("c1", "lead", "p1", t0, 0)
	got, err := f.eng.store.journeys(context.Background(), "s1", t0.AddDate(0, 0, -10), t0.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	var want model.Journeys
	want.Add([]string{odd, "Direct"}, true)
	if got.String() != want.String() {
		t.Fatalf("journeys:\n%s\nwant:\n%s", got, &want)
	}
	if got, err = f.eng.store.journeys(context.Background(), "s1", t0.AddDate(0, 0, 2), t0.AddDate(0, 0, 3)); err != nil {
		t.Fatal(err)
	}
	if got.String() != (&model.Journeys{}).String() {
		t.Fatalf("journeys of a range without sessions:\n%s", got)
	}
}

// A new conversion is credited by the first pass that sees it, and one received before it
// that becomes visible only after it is credited too: the watermark waits for it.
func TestNewConversionIsCreditedAtOnce(t *testing.T) {
	f := newFixture(t)
	f.eng.Settle = 300 * time.Millisecond
	// Browser conversions received at these milliseconds (their version).
	write := func(id string, received uint64) { f.writeConversion(id, "form", "web", received) }
	f.watchPass() // first start: nothing yet
	f.session("search", "p1", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	write("old", 1000)
	f.watchPass()
	time.Sleep(350 * time.Millisecond)
	f.watchPass() // the watermark passes old

	write("c1", 3000)
	f.watchPass()
	if c := f.credits("c1"); c["first_click"]["search"] != 1 {
		t.Fatalf("c1 after the pass that saw it: %v", c)
	}
	write("c0", 2000) // received before c1, visible after it (the stitcher's partitions interleave)
	f.watchPass()
	if c := f.credits("c0"); c["first_click"]["search"] != 1 {
		t.Fatalf("c0, received before c1 and visible after it: %v", c)
	}
}

// A session written after its person's conversion was credited, but started before it (a
// late one: another device's, or one the stitcher wrote late), moves the credit at the
// next pass; a pass with nothing new changes nothing.
func TestLateSessionMovesTheCredit(t *testing.T) {
	f := newFixture(t)
	f.watchPass() // first start: nothing yet
	f.session("search", "p1", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	f.conversion("c1", "lead", "p1", t0, 0)
	f.watchPass()
	if c := f.credits("c1"); c["first_click"]["search"] != 1 {
		t.Fatalf("c1 credited first: %v", c)
	}
	f.watchPass()
	f.session("ad", "p1", t0.Add(-3*time.Hour), "Paid Search", "google", "cpc")
	f.session("after", "p1", t0.Add(time.Hour), "Email", "newsletter", "email") // after the lead: no touch of it
	f.watchPass()
	if c := f.credits("c1"); c["first_click"]["ad"] != 1 || c["last_click"]["search"] != 1 || len(c["linear"]) != 2 {
		t.Fatalf("c1 after the late session: %v", c)
	}
}

// A new conversion is credited ahead of the reports (ClickHouse's priority 1, read back
// from the server's query log); a recomputation, here after a merge, at the reports' pace.
func TestNewConversionsGoAheadOfTheReports(t *testing.T) {
	f := newFixture(t)
	f.watchPass() // first start: nothing yet
	f.session("laptop", "p-laptop", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	f.conversion("lead-1", "lead", "p-laptop", t0, 0)
	f.watchPass()
	f.session("phone", "p-phone", t0.Add(-2*time.Hour), "Paid Social", "linkedin", "paid_social")
	f.alias("p-phone", "p-laptop")
	f.watchPass()
	if c := f.credits("lead-1"); c["first_click"]["phone"] != 1 {
		t.Fatalf("lead-1 after the merge: %v", c)
	}
	got := testenv.Priorities(t, f.conn, "INSERT INTO "+f.db.Name+".touch_credits %")
	if !slices.Equal(got, []string{"1", ""}) {
		t.Fatalf("the credit inserts ran at priorities %q, want the new lead's at 1 and the recomputation's at none", got)
	}
}

// An ended call's row ranks above its ringing one in its version, but the watermark of
// new conversions is a time: a conversion received after the call is credited by the
// first pass that sees it, also where the watermark was stored with the rank.
func TestConversionAfterAnEndedCallIsCreditedAtOnce(t *testing.T) {
	f := newFixture(t)
	f.eng.Settle = 300 * time.Millisecond
	f.watchPass() // first start
	f.session("search", "p1", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	f.writeConversion("call:twilio:CA1", "call", "server", event.ServerRank+event.CallEndedRank+1000)
	f.watchPass()
	time.Sleep(350 * time.Millisecond)
	f.watchPass() // the watermark passes the call
	f.writeConversion("c1", "form", "server", event.ServerRank+2000)
	f.watchPass()
	if c := f.credits("c1"); c["first_click"]["search"] != 1 {
		t.Fatalf("c1, received after an ended call: %v", c)
	}

	// A watermark stored with the rank is read as the time it holds.
	if err := f.eng.store.setState(context.Background(), "s1", map[string]uint64{"conversions": event.CallEndedRank + 2500}); err != nil {
		t.Fatal(err)
	}
	f.writeConversion("c2", "form", "server", event.ServerRank+3000)
	f.watchPass()
	if c := f.credits("c2"); c["first_click"]["search"] != 1 {
		t.Fatalf("c2, received after a watermark stored with the rank: %v", c)
	}
}

// A conversion credited while the watermark stays below it — held back by another that
// became visible later but was received earlier, still settling — is not credited again
// when the watermark moves on: before, the two could take turns settling at every pass and
// be recomputed for ever.
func TestCreditedConversionIsNotCreditedAgain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.eng.Settle = 300 * time.Millisecond
	f.watchPass() // first start
	f.session("search", "p1", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	f.conversion("a", "lead", "p1", t0, 0)
	pass := func() {
		t.Helper()
		f.watchPass()
		time.Sleep(350 * time.Millisecond)
	}
	pass() // a waits
	// b was received before a, and is written now (the stitcher's partitions interleave).
	f.writeConversion("b", "form", "server", event.ServerRank+1)
	for range 4 {
		pass()
	}
	var computations uint64
	if err := f.conn.QueryRow(ctx, "SELECT uniqExact(version) FROM "+f.db.Name+".touch_credits WHERE conversion_id = 'a'").Scan(&computations); err != nil {
		t.Fatal(err)
	}
	if computations != 1 {
		t.Fatalf("a credited %d times, want once", computations)
	}
	if c := f.credits("b"); c["first_click"]["search"] != 1 {
		t.Fatalf("b: %v", c)
	}
}

// Server rows rank above browser rows in their version; the watcher still finds a browser
// conversion written after a server one, and a browser row reusing a server's id changes
// nothing.
func TestWatchFindsBrowserConversionsAfterServerOnes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	st := f.eng.sites.Get("s1")
	if err := f.eng.pass(ctx, st, false); err != nil { // first start
		t.Fatal(err)
	}
	f.session("search", "p1", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	f.conversion("crm-1", "sale", "p1", t0, 100)
	if err := f.eng.pass(ctx, st, false); err != nil {
		t.Fatal(err)
	}
	f.db.Conversion(attrtest.Conversion{Site: "s1", ID: "web-1", Type: "lead", Person: "p1", At: t0, Origin: "web"})
	f.db.Conversion(attrtest.Conversion{Site: "s1", ID: "crm-1", Type: "lead", Person: "p1", At: t0, Origin: "web"})
	if err := f.eng.pass(ctx, st, false); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"crm-1", "web-1"} {
		if c := f.credits(id); c["first_click"]["search"] != 1 {
			t.Fatalf("%s: credits %v", id, c)
		}
	}
	cs, err := f.eng.store.conversions(ctx, "s1", conversionQuery{persons: []string{"p1"}})
	cs = slices.DeleteFunc(cs, func(c Conversion) bool { return c.ID != "crm-1" })
	if err != nil || len(cs) != 1 || cs[0].Type != "sale" || cs[0].Value != 100 {
		t.Fatalf("crm-1 = %+v (%v), want the server's sale", cs, err)
	}
}

// The writer batches rows per month of the conversion and writes every row, however the
// batches fill: one month filling up, many months open at once, a last partial batch. A
// failing insert is reported by flush instead of being lost or hanging.
func TestWriterWritesEveryRowOncePerMonthBatch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	w := f.eng.store.newWriter(3, "s1", t0, 1)
	want := 0
	for i := 0; i < 40; i++ {
		c := &Conversion{ID: fmt.Sprintf("c%02d", i), Type: "lead", At: t0.AddDate(0, -(i % 7), 0), Person: "p"}
		for _, s := range []string{"x", "y"} {
			if err := w.row(ctx, c, &Session{ID: s, At: c.At}, &modelCredits{1}, 0); err != nil {
				t.Fatal(err)
			}
			want++
		}
	}
	if err := w.flush(ctx); err != nil {
		t.Fatal(err)
	}
	var rows, months uint64
	q := fmt.Sprintf("SELECT count(), uniqExact(toYYYYMM(occurred_at)) FROM %s.touch_credits", f.db.Name)
	if err := f.conn.QueryRow(ctx, q).Scan(&rows, &months); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(want) || months != 7 {
		t.Fatalf("wrote %d rows over %d months, want %d over 7", rows, months, want)
	}

	if err := f.conn.Exec(ctx, "DROP TABLE "+f.db.Name+".touch_credits"); err != nil {
		t.Fatal(err)
	}
	w = f.eng.store.newWriter(3, "s1", t0, 1)
	var err error
	for i := 0; i < 40 && err == nil; i++ {
		err = w.row(ctx, &Conversion{ID: "c", At: t0}, &Session{At: t0}, &modelCredits{1}, 0)
	}
	if err == nil {
		err = w.flush(ctx)
	}
	w.wait()
	if err == nil {
		t.Fatal("writing into a dropped table reported no error")
	}
}

// A write's rows of one month, however they interleave with other months', land in one
// part of touch_credits: ClickHouse merges fewer parts after a rebuild.
func TestWriterWritesAMonthsRowsInOnePart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.stopMerges("touch_credits")
	w := f.eng.store.newWriter(3, "s1", t0, 1)
	for i := 0; i < 3000; i++ {
		c := &Conversion{ID: fmt.Sprintf("c%04d", i), Type: "lead", At: t0.AddDate(0, -(i % maxLanes), 0), Person: "p"}
		if err := w.row(ctx, c, &Session{ID: "x", At: c.At}, &modelCredits{1}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.flush(ctx); err != nil {
		t.Fatal(err)
	}
	var parts string
	err := f.conn.QueryRow(ctx, `SELECT arrayStringConcat(groupArray(concat(partition, ': ', toString(n))), ', ') FROM (
		SELECT partition, count() AS n FROM system.parts WHERE database = ? AND table = 'touch_credits' AND active
		GROUP BY partition ORDER BY partition)`, f.db.Name).Scan(&parts)
	if err != nil {
		t.Fatal(err)
	}
	if want := "202607: 1, 202608: 1, 202609: 1, 202610: 1"; parts != want {
		t.Fatalf("parts by month %q, want %q", parts, want)
	}
}

// Credit that an earlier version gave to an invented Direct touch (no session id,
// channel Direct) is computed again when the engine starts: it moves to
// "(no touchpoint)", and no Direct credit is left.
func TestStartReplacesInventedDirect(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.conversion("old-lead", "lead", "p1", t0, 0)
	b, err := f.conn.PrepareBatch(ctx, "INSERT INTO "+f.db.Name+`.touch_credits (site_id, conversion_id, conversion_type, lead_type,
		occurred_at, person_id, session_id, touch_at, channel, source, medium, credit_first_click, credit_last_click, credit_linear,
		value, currency, removed, computed_at, version)`)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("s1", "old-lead", "lead", "form", t0, "p1", "", t0, "Direct", "(direct)", "(none)", 1.0, 1.0, 1.0, 0.0, "EUR",
		uint8(0), t0, uint64(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.replaceInventedDirect(ctx, f.eng.sites.Get("s1")); err != nil {
		t.Fatal(err)
	}
	var direct, none uint64
	if err := f.conn.QueryRow(ctx, "SELECT countIf(channel = 'Direct'), countIf(channel = '(no touchpoint)' AND credit = 1) FROM "+
		f.db.Name+".attributions_current WHERE conversion_id = 'old-lead'").Scan(&direct, &none); err != nil {
		t.Fatal(err)
	}
	if direct != 0 || none != 7 {
		t.Fatalf("after start: %d Direct rows, %d (no touchpoint) rows; want 0 and 7", direct, none)
	}
}

// OnComputed hears of each conversion credited for the first time, with its first and
// last touch and the touch count, then only of conversions whose first or last touch a
// merge or a late session moved, with the touches credited before. A pass that could not
// hand them over writes no credit, and the next pass hands them over again.
func TestOnComputedTellsNewAndChangedConversions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var got [][]Computed
	fail := false
	f.eng.OnComputed = func(_ context.Context, st *site.Site, cs []Computed) error {
		if fail {
			return fmt.Errorf("queue away")
		}
		got = append(got, slices.Clone(cs))
		return nil
	}
	f.session("laptop", "p-laptop", t0.Add(-time.Hour), "Organic Search", "google", "organic")
	f.session("mail", "p-laptop", t0.Add(-10*time.Minute), "Email", "newsletter", "email")
	f.conversion("lead-n", "lead", "p-laptop", t0, 0)
	f.conversion("sale-n", "sale", "p-none", t0, 50) // no touchpoint
	st := f.eng.sites.Get("s1")
	if err := f.eng.pass(ctx, st, true); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0]) != 2 {
		t.Fatalf("first pass told %v", got)
	}
	byID := map[string]Computed{}
	for _, c := range got[0] {
		byID[c.Conversion.ID] = c
	}
	lead, sale := byID["lead-n"], byID["sale-n"]
	if !lead.New || lead.First.ID != f.sess["laptop"] || lead.Last.ID != f.sess["mail"] || lead.Touches != 2 || lead.First.Campaign != "camp-laptop" {
		t.Fatalf("new lead: %+v", lead)
	}
	if !sale.New || sale.First.ID != "" || sale.Last.ID != "" || sale.Touches != 0 || sale.First.Channel != "(no touchpoint)" {
		t.Fatalf("new sale without touchpoint: %+v", sale)
	}

	// Nothing moved: a recomputation tells nothing.
	got = nil
	if _, err := f.eng.ComputeConversions(ctx, st, []Conversion{lead.Conversion, sale.Conversion}, true); err != nil || len(got) != 0 {
		t.Fatalf("recomputation with nothing changed told %v (%v)", got, err)
	}

	// A merge brings an earlier touch: first click moves, last click stays.
	f.session("phone", "p-phone", t0.Add(-24*time.Hour), "Paid Social", "linkedin", "paid_social")
	f.alias("p-phone", "p-laptop")
	fail = true
	if err := f.eng.pass(ctx, st, false); err == nil {
		t.Fatal("a pass whose hand-over failed succeeded")
	}
	if c := f.credits("lead-n"); c["first_click"]["laptop"] != 1 {
		t.Fatalf("credit was written although the hand-over failed: %v", c)
	}
	fail = false
	if err := f.eng.pass(ctx, st, false); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0]) != 1 {
		t.Fatalf("after the merge: told %v", got)
	}
	u := got[0][0]
	if u.New || !u.FirstOrLastChanged() || u.Conversion.ID != "lead-n" || u.First.ID != f.sess["phone"] || u.PrevFirst != f.sess["laptop"] ||
		u.Last.ID != f.sess["mail"] || u.PrevLast != f.sess["mail"] || u.Touches != 3 {
		t.Fatalf("after the merge: %+v", u)
	}
}

// Lists of persons or conversions longer than a query can bind (an import's thousands of
// new sessions at one pass) are read a part at a time: as one list, ClickHouse refused the
// query (max_query_size) at every pass.
func TestConversionsOfThousandsOfPersons(t *testing.T) {
	f := newFixture(t)
	f.conversion("c1", "lead", "p1", t0, 0)
	f.conversion("c2", "lead", "p2", t0.Add(time.Hour), 0)
	persons, ids := []string{"p2"}, []string{"c2"}
	for len(persons) < 8000 {
		persons, ids = append(persons, uuid.NewString()), append(ids, uuid.NewString())
	}
	persons, ids = append(persons, "p1"), append(ids, "c1")
	want := []string{"c1", "c2"} // in the order of their persons
	if keyOf("p2").compare(keyOf("p1")) < 0 {
		want = []string{"c2", "c1"}
	}
	for name, q := range map[string]conversionQuery{"persons": {persons: persons}, "ids": {ids: ids}} {
		cs, err := f.eng.store.conversions(context.Background(), "s1", q)
		if err != nil {
			t.Fatalf("by %s: %v", name, err)
		}
		if len(cs) != 2 || cs[0].ID != want[0] || cs[1].ID != want[1] {
			t.Fatalf("by %s: %+v, want %s in the order of their persons", name, cs, want)
		}
	}
}
