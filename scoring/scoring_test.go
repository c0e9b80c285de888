package scoring

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/attribution/attrtest"
	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
	"touchpoint/scoring/rules"
)

const testRules = `{
	"engagement": [
		{"name": "Pricing page", "path": "/pricing*", "points": 10, "max": 20},
		{"name": "Demo request", "form": "demo", "points": 30, "once": true},
		{"name": "Careers page", "path": "/careers*", "points": -15}
	],
	"fit": [{"name": "Company of 50 or more", "trait": "company_size", "at_least": 50, "points": 20}],
	"decay_percent": 50,
	"mql": {"score": 50}
}`

type fixture struct {
	t    *testing.T
	conn driver.Conn
	db   *attrtest.DB
	st   *site.Site
	now  time.Time
	s    *Scorer
}

func newFixture(t *testing.T, rulesJSON string) *fixture {
	conn, db := testenv.FreshDatabase(t)
	var cfg site.Config
	if err := json.Unmarshal([]byte(`{"sites": [{"id": "s1", "scoring": `+rulesJSON+`}]}`), &cfg); err != nil {
		t.Fatal(err)
	}
	reg, err := site.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, conn: conn, db: &attrtest.DB{T: t, Conn: conn, Name: db}, st: reg.Get("s1"),
		now: time.Date(2026, 10, 20, 12, 0, 0, 0, time.UTC)}
	f.s = &Scorer{Conn: conn, DB: db, Now: func() time.Time { return f.now }}
	return f
}

func day(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, time.UTC) }

// event inserts an event with a form or traits, received now.
func (f *fixture) event(person, typ, path string, at time.Time, form, traits string) {
	f.t.Helper()
	f.version(uuid.New(), person, typ, path, at, form, traits, false)
}

// version inserts a version of the event id, as a replay of it does: a later version
// replaces the earlier ones.
func (f *fixture) version(id uuid.UUID, person, typ, path string, at time.Time, form, traits string, bot bool) {
	f.t.Helper()
	b, err := chstore.PrepareBatch(context.Background(), f.conn, "INSERT INTO "+f.db.Name+`.events
		(site_id, event_id, event_type, visitor_id, person_id, session_id, ts, received_at, path, props, form, traits, is_bot, version)`)
	if err != nil {
		f.t.Fatal(err)
	}
	isBot := uint8(0)
	if bot {
		isBot = 1
	}
	if err := b.Append(f.st.ID, id, typ, "v-"+person, person, "", at, f.now, path, "{}", form, traits, isBot, uint64(time.Now().UnixNano())); err != nil {
		f.t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) pass() Result {
	f.t.Helper()
	r, err := f.s.Pass(context.Background(), f.st)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

type scoreRow struct {
	Score, Engagement, Fit float64
	Reasons                []rules.Reason
	Qualified              time.Time
}

// scores reads the current, not deleted, rows of lead_scores.
func (f *fixture) scores() map[string]scoreRow {
	f.t.Helper()
	rows, err := f.conn.Query(context.Background(), `SELECT person_id, argMax(score, version), argMax(engagement, version),
		argMax(fit, version), argMax(reasons, version), argMax(qualified_at, version), argMax(deleted, version)
		FROM `+f.db.Name+`.lead_scores WHERE site_id = 's1' GROUP BY person_id`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]scoreRow{}
	for rows.Next() {
		var p, reasons string
		var r scoreRow
		var deleted uint8
		if err := rows.Scan(&p, &r.Score, &r.Engagement, &r.Fit, &reasons, &r.Qualified, &deleted); err != nil {
			f.t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(reasons), &r.Reasons); err != nil {
			f.t.Fatal(err)
		}
		if deleted == 0 {
			out[p] = r
		}
	}
	return out
}

// mqls returns the mql conversions by person and their origin.
func (f *fixture) mqls() map[string]string {
	f.t.Helper()
	rows, err := f.conn.Query(context.Background(), `SELECT person_id, origin FROM `+f.db.Name+`.conversions FINAL
		WHERE site_id = 's1' AND type = 'mql'`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var p, o string
		if err := rows.Scan(&p, &o); err != nil {
			f.t.Fatal(err)
		}
		if _, ok := out[p]; ok {
			f.t.Fatalf("%s has two mql conversions", p)
		}
		out[p] = o
	}
	return out
}

func (f *fixture) history(person string) []string {
	f.t.Helper()
	rows, err := f.conn.Query(context.Background(), `SELECT cause FROM `+f.db.Name+`.lead_score_history
		WHERE site_id = 's1' AND person_id = ? ORDER BY at, score`, person)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// An event's versions count once, as its latest version says: a replayed event once, an
// event whose latest version is a bot's not at all. The first pass reads everyone, the
// next the persons with new activity.
func TestEventVersionsCountOnce(t *testing.T) {
	f := newFixture(t, testRules)
	pricing := func() int {
		t.Helper()
		for _, r := range f.scores()["p"].Reasons {
			if r.Rule == "Pricing page" {
				return r.Times
			}
		}
		return 0
	}
	first := uuid.New()
	f.version(first, "p", event.Pageview, "/pricing", day(1, 10), "", "", false)
	f.event("p", event.Pageview, "/", day(1, 10), "", "")
	f.pass()
	if n := pricing(); n != 1 {
		t.Fatalf("first pass: %d pricing visits, want 1", n)
	}
	f.now = f.now.Add(time.Minute)
	f.version(first, "p", event.Pageview, "/pricing", day(1, 10), "", "", false) // replayed
	f.event("p", event.Pageview, "/pricing/teams", day(2, 10), "", "")
	crawled := uuid.New()
	f.version(crawled, "p", event.Pageview, "/pricing/enterprise", day(2, 11), "", "", false)
	f.version(crawled, "p", event.Pageview, "/pricing/enterprise", day(2, 11), "", "", true) // found to be a bot's
	if r := f.pass(); r.Scored != 1 {
		t.Fatalf("second pass %+v: p scored again", r)
	}
	if n := pricing(); n != 2 {
		t.Fatalf("second pass: %d pricing visits, want 2", n)
	}
}

// A conversion counts for the person its current version is of: one corrected to someone
// else stops counting for the person it was first recorded under at their next pass,
// even while both versions are stored (as until ClickHouse merges them).
func TestACorrectedConversionCountsForItsCurrentPerson(t *testing.T) {
	f := newFixture(t, `{"engagement": [{"name": "Lead", "conversion": "lead", "points": 10}]}`)
	if err := f.conn.Exec(context.Background(), "SYSTEM STOP MERGES "+f.db.Name+".conversions"); err != nil {
		t.Fatal(err)
	}
	leads := func(person string) int {
		t.Helper()
		for _, r := range f.scores()[person].Reasons {
			if r.Rule == "Lead" {
				return r.Times
			}
		}
		return 0
	}
	f.event("ann", event.Pageview, "/", day(1, 9), "", "")
	f.db.Conversion(attrtest.Conversion{Site: "s1", ID: "deal", Type: "lead", LeadType: "form", Person: "ann", At: day(2, 9)})
	f.pass()
	if n := leads("ann"); n != 1 {
		t.Fatalf("first pass: ann has %d leads, want 1", n)
	}
	f.db.Conversion(attrtest.Conversion{Site: "s1", ID: "deal", Type: "lead", LeadType: "form", Person: "carl", At: day(2, 9)})
	f.now = f.now.Add(time.Minute)
	f.event("ann", event.Pageview, "/", day(3, 9), "", "") // ann's next pass
	f.pass()
	if n := leads("ann"); n != 0 {
		t.Fatalf("after the correction: ann has %d leads, want 0", n)
	}
}

// People are scored from their events and conversions with caps, once-only and negative
// rules and fit from traits; a lead whose score reaches the threshold gets one mql stage
// from scoring, unless the CRM recorded one; scores follow new activity, merges, decay and
// changed rules, and each change is in the history with its cause.
func TestScoresFollowActivityRulesMergesAndDecay(t *testing.T) {
	f := newFixture(t, testRules)
	demo := `{"id":"demo"}`
	for _, p := range []string{"hot", "warm", "crm", "anon"} {
		for i := 0; i < 3; i++ {
			f.event(p, event.Pageview, "/pricing", day(1, 10+i), "", "")
		}
	}
	for _, p := range []string{"hot", "warm", "crm"} {
		f.db.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-" + p, Type: "lead", LeadType: "form", Person: p, At: day(2, 9)})
	}
	f.event("hot", event.FormSubmit, "/contact", day(2, 9), demo, "")
	f.event("hot", event.FormSubmit, "/contact", day(3, 9), demo, "") // once
	f.event("crm", event.FormSubmit, "/contact", day(2, 9), demo, "")
	f.db.Conversion(attrtest.Conversion{Site: "s1", ID: "crm-mql", Type: "mql", Person: "crm", At: day(1, 8)})
	f.event("warm", event.Identify, "", day(2, 10), "", `{"company_size":"51-200","role":"CMO"}`)
	f.event("warm", event.Pageview, "/careers/engineer", day(2, 11), "", "")
	f.event("anon", event.FormSubmit, "/contact", day(2, 9), demo, "") // qualifies, but is no lead

	if r := f.pass(); r.Scored != 4 || r.Changed != 4 || r.MQLs != 1 {
		t.Fatalf("first pass %+v", r)
	}
	got := f.scores()
	if s := got["hot"]; s.Score != 50 || s.Engagement != 50 || s.Fit != 0 || !s.Qualified.Equal(day(2, 9)) {
		t.Fatalf("hot %+v", s)
	}
	want := []rules.Reason{{Kind: "engagement", Rule: "Pricing page", Points: 20, Times: 3}, {Kind: "engagement", Rule: "Demo request", Points: 30, Times: 2}}
	if b, w := mustJSON(got["hot"].Reasons), mustJSON(want); b != w {
		t.Fatalf("hot reasons %s, want %s", b, w)
	}
	if s := got["warm"]; s.Score != 25 || s.Engagement != 5 || s.Fit != 20 || s.Qualified.Unix() > 0 {
		t.Fatalf("warm %+v", s)
	}
	if s := got["anon"]; s.Score != 50 || s.Qualified.Unix() > 0 {
		t.Fatalf("anon %+v (not a lead: never qualified)", s)
	}
	if m := f.mqls(); len(m) != 2 || m["hot"] != OriginScoring || m["crm"] != event.OriginServer {
		t.Fatalf("mql conversions %v: one from scoring for hot, the CRM's for crm", m)
	}

	// Nothing new: nothing written, and the mql is not recorded again (what was received
	// within Margin of the last pass is read again).
	f.now = f.now.Add(2 * Margin)
	if r := f.pass(); r.Changed != 0 || r.MQLs != 0 {
		t.Fatalf("idle pass %+v", r)
	}
	// New activity rescored only the person it belongs to.
	f.now = f.now.Add(time.Minute)
	f.event("warm", event.FormSubmit, "/contact", day(20, 11), demo, "")
	if r := f.pass(); r.Scored != 1 || r.Changed != 1 || r.MQLs != 1 {
		t.Fatalf("pass after warm's demo request %+v", r)
	}
	if s := f.scores()["warm"]; s.Score != 55 || !s.Qualified.Equal(day(20, 11)) {
		t.Fatalf("warm after the demo request %+v", s)
	}
	if m := f.mqls(); len(m) != 3 || m["warm"] != OriginScoring {
		t.Fatalf("mql conversions %v", m)
	}

	// anon becomes hot: one person, their visits counted once under the pricing cap.
	f.db.Alias("s1", "anon", "hot")
	if r := f.pass(); r.Changed != 2 {
		t.Fatalf("pass after a merge %+v (the merged id dropped, hot rescored)", r)
	}
	got = f.scores()
	if _, ok := got["anon"]; ok || got["hot"].Score != 50 || got["hot"].Reasons[0].Times != 6 {
		t.Fatalf("after the merge %+v", got)
	}
	if h := f.history("anon"); len(h) != 2 || h[1] != CauseMerge {
		t.Fatalf("anon's history %v", h)
	}

	// 31 days without activity halve the engagement, not the fit.
	f.now = day(20, 12).Add(31 * 24 * time.Hour)
	f.pass()
	got = f.scores()
	if s := got["warm"]; s.Engagement != 17.5 || s.Fit != 20 || s.Score != 37.5 || !s.Qualified.Equal(day(20, 11)) {
		t.Fatalf("warm after decay %+v", s)
	}
	if s := got["hot"]; s.Engagement != 25 { // last active Oct 3: one whole period by Nov 20
		t.Fatalf("hot after decay %+v", s)
	}
	if h := f.history("warm"); h[len(h)-1] != CauseDecay {
		t.Fatalf("warm's history %v", h)
	}

	// New rules rescore everyone.
	r2, err := rules.Parse([]byte(`{"engagement": [{"name": "Pricing page", "path": "/pricing", "points": 1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	f.st.Scoring = r2
	f.now = f.now.Add(time.Minute)
	if r := f.pass(); r.Scored != 3 {
		t.Fatalf("pass after new rules %+v", r)
	}
	if s := f.scores()["hot"]; s.Score != 6 { // hot's and anon's three visits each
		t.Fatalf("hot under the new rules %+v", s)
	}
	if h := f.history("hot"); h[len(h)-1] != CauseRules {
		t.Fatalf("hot's history %v", h)
	}
	if m := f.mqls(); len(m) != 3 {
		t.Fatalf("stages recorded stay: %v", m)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var sqlBlock = regexp.MustCompile("(?s)```sql\n(.*?)```")

// Every query of docs/scoring.md runs on ClickHouse over scored people and returns rows.
func TestScoringDocQueriesRun(t *testing.T) {
	doc, err := os.ReadFile("../docs/scoring.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := sqlBlock.FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 3 {
		t.Fatalf("docs/scoring.md has %d sql blocks, want at least 3", len(blocks))
	}
	f := newFixture(t, testRules)
	f.st.ID = "demo"
	for i := 0; i < 2; i++ {
		f.event("p1", event.Pageview, "/pricing", day(1, 10+i), "", "")
	}
	f.event("p1", event.FormSubmit, "/contact", day(2, 9), `{"id":"demo"}`, "")
	f.db.Conversion(attrtest.Conversion{Site: "demo", ID: "lead-p1", Type: "lead", LeadType: "form", Person: "p1", At: day(2, 9)})
	f.db.Conversion(attrtest.Conversion{Site: "demo", ID: "crm-mql", Type: "mql", Person: "p2", At: day(3, 9)})
	if r := f.pass(); r.MQLs != 1 {
		t.Fatalf("pass %+v", r)
	}
	for i, b := range blocks {
		q := strings.ReplaceAll(b[1], "touchpoint.", f.db.Name+".")
		rows, err := f.conn.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("docs/scoring.md query %d fails: %v\n%s", i+1, err, b[1])
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil || n == 0 {
			t.Fatalf("docs/scoring.md query %d: %d rows, %v\n%s", i+1, n, err, b[1])
		}
	}
}

// A pass scores every person active since the last one, however many: a burst of a few
// thousand (an import, a campaign) once made the query too long for ClickHouse, and
// scoring stopped for good.
func TestPassScoresThousandsOfActivePersons(t *testing.T) {
	f := newFixture(t, testRules)
	f.pass() // from now on, passes read the persons active since the last
	const n = 4000
	b, err := chstore.PrepareBatch(context.Background(), f.conn, "INSERT INTO "+f.db.Name+`.events
		(site_id, event_id, event_type, visitor_id, person_id, session_id, ts, received_at, path, props, form, traits, version)`)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		p := uuid.NewString()
		if err := b.Append(f.st.ID, uuid.New(), event.Pageview, "v-"+p, p, "", day(1, 10), f.now, "/pricing", "{}", "", "", uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Minute)
	if r := f.pass(); r.Scored != n || r.Changed != n {
		t.Fatalf("pass %+v, want %d persons scored and changed", r, n)
	}
	got := f.scores()
	for p, s := range got {
		if s.Score != 10 {
			t.Fatalf("%s scored %+v, want 10 for one pricing page", p, s)
		}
	}
	if len(got) != n {
		t.Fatalf("%d persons scored, want %d", len(got), n)
	}
}
