package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"touchpoint/attribution/attrtest"
	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/reports"
	"touchpoint/scoring"
	"touchpoint/scoring/rules"
)

func siteFrom(t *testing.T, js string) site.Site {
	t.Helper()
	var s site.Site
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// A site's own stages and stall thresholds shape the lifecycle report: people who entered
// with a later stage count as leads, stalled people are counted per stage and listed with
// a journey to open, those who left through an exit stage are not stalled, and pipeline
// value and velocity follow the chosen model.
func TestLifecycleOfConfiguredStages(t *testing.T) {
	w := newWorld(t, siteFrom(t, `{"id": "s1", "currency": "EUR", "lifecycle": {
		"stages": ["lead", "mql", "demo", "customer"], "exit_stages": ["closed_lost"],
		"stall_after_days": {"lead": 7, "mql": 10, "default": 20}, "pipeline_stage": "demo"}}`))
	d := w.db
	paid := attrtest.Session{Site: "s1", Channel: "Paid Search", Source: "google", Medium: "cpc"}
	email := attrtest.Session{Site: "s1", Channel: "Email", Source: "newsletter", Medium: "email"}
	organic := attrtest.Session{Site: "s1", Channel: "Organic Search", Source: "google", Medium: "organic"}
	visit := func(s attrtest.Session, person string, at time.Time) {
		s.Person, s.At = person, at
		d.Session(s)
	}
	stage := func(person, typ string, at time.Time, value float64) {
		d.Conversion(attrtest.Conversion{Site: "s1", ID: typ + "-" + person, Type: typ, LeadType: map[string]string{"lead": "form"}[typ],
			Person: person, At: at, Value: value})
	}
	visit(paid, "A", oct(1, 9))
	stage("A", "lead", oct(2, 10), 0) // stalled as a lead since Oct 2
	visit(email, "B", oct(1, 9))
	stage("B", "lead", oct(3, 10), 0)
	stage("B", "mql", oct(15, 10), 0) // 5 days in mql: not stalled
	visit(paid, "C", oct(1, 9))
	stage("C", "lead", oct(2, 11), 0)
	stage("C", "mql", oct(3, 10), 0) // stalled in mql since Oct 3
	visit(organic, "D", oct(4, 9))
	stage("D", "mql", oct(5, 10), 0) // no lead: enters with mql; stalled since Oct 5
	visit(paid, "E", oct(1, 9))
	stage("E", "lead", oct(2, 12), 0)
	stage("E", "closed_lost", oct(4, 10), 0) // left: not stalled
	visit(paid, "F", oct(1, 8))
	visit(email, "F", oct(1, 9))
	stage("F", "lead", oct(1, 10), 0)
	stage("F", "mql", oct(2, 10), 0)
	stage("F", "demo", oct(3, 10), 1000)
	stage("F", "customer", oct(11, 10), 0) // 10 days from lead
	visit(paid, "G", oct(1, 9))
	stage("G", "lead", oct(1, 10), 0)
	stage("G", "customer", oct(5, 10), 0) // 4 days from lead
	w.rebuild("s1")

	report := func(q string) reports.Lifecycle {
		t.Helper()
		var lc reports.Lifecycle
		if code := get(t, w.srv.URL+"/api/v1/reports/lifecycle?site=s1&from=2026-10-01&to=2026-10-31&by=channel&"+q, "demo-admin", &lc); code != 200 {
			t.Fatalf("%s: status %d", q, code)
		}
		return lc
	}
	lc := report("model=first_click")
	tot := lc.Totals
	want := map[string]float64{"lead": 7, "mql": 4, "demo": 1, "customer": 2, "closed_lost": 1}
	for st, n := range want {
		if tot.Counts[st] != n {
			t.Fatalf("%s: %v, want %v (totals %+v)", st, tot.Counts[st], n, tot.Counts)
		}
	}
	if tot.Stalled["lead"] != 1 || tot.Stalled["mql"] != 2 || tot.Stalled["demo"] != 0 || lc.StalledTotal != 3 {
		t.Fatalf("stalled %v, %d people", tot.Stalled, lc.StalledTotal)
	}
	if lc.StallAfterDays["lead"] != 7 || lc.StallAfterDays["demo"] != 20 || lc.PipelineStage != "demo" || len(lc.ExitStages) != 1 {
		t.Fatalf("report settings %+v", lc)
	}
	var people []string
	for _, p := range lc.StalledPeople {
		people = append(people, p.PersonID+":"+p.Stage+":"+p.ConversionID)
	}
	// Each with the conversion they entered with: D, without a lead, entered with mql.
	if got, _ := json.Marshal(people); string(got) != `["A:lead:lead-A","C:mql:lead-C","D:mql:mql-D"]` || math.Abs(lc.StalledPeople[0].Days-(17+14.0/24)) > 1e-5 {
		t.Fatalf("stalled people %s %+v", got, lc.StalledPeople)
	}
	// Each links to a journey.
	for _, p := range lc.StalledPeople {
		var j reports.Journey
		if code := get(t, w.srv.URL+"/api/v1/journeys?site=s1&conversion_id="+p.ConversionID, "demo-admin", &j); code != 200 {
			t.Fatalf("journey of %+v: %d", p, code)
		}
	}
	if v := tot.Velocity; v.Median == nil || *v.Median != 7 || *v.P75 != 8.5 {
		t.Fatalf("velocity %+v", v)
	}
	if tot.PipelineValue != 1000 || tot.Visitors != 7 || tot.VisitorLeadRate == nil || *tot.VisitorLeadRate != 1 {
		t.Fatalf("totals %+v", tot)
	}
	rows := map[string]reports.LifecycleRow{}
	for _, r := range lc.Rows {
		rows[r.Key] = r
	}
	if rows["Paid Search"].PipelineValue != 1000 || rows["Organic Search"].Counts["lead"] != 1 || rows["Paid Search"].Counts["lead"] != 5 {
		t.Fatalf("first click rows %+v", rows)
	}
	// Under last click, F's lead and demo belong to the email visit.
	rows = map[string]reports.LifecycleRow{}
	for _, r := range report("model=last_click").Rows {
		rows[r.Key] = r
	}
	if rows["Email"].PipelineValue != 1000 || rows["Paid Search"].PipelineValue != 0 || rows["Email"].Counts["lead"] != 2 {
		t.Fatalf("last click rows %+v", rows)
	}
	// From Oct 3, B enters with their lead and D with their mql (D never had a lead). C
	// reached mql in the range, but their lead was before it: C does not enter.
	var late reports.Lifecycle
	get(t, w.srv.URL+"/api/v1/reports/lifecycle?site=s1&from=2026-10-03&to=2026-10-31&model=first_click", "demo-admin", &late)
	if c := late.Totals.Counts; c["lead"] != 2 || c["mql"] != 2 || c["customer"] != 0 {
		t.Fatalf("from Oct 3: %v", c)
	}
	// Nobody stalled in a range without leads: an empty list, not null.
	var raw map[string]any
	get(t, w.srv.URL+"/api/v1/reports/lifecycle?site=s1&from=2026-09-01&to=2026-09-30", "demo-admin", &raw)
	if l, ok := raw["stalled_people"].([]any); !ok || len(l) != 0 {
		t.Fatalf("stalled_people %#v", raw["stalled_people"])
	}
}

// With scoring rules, the lead list carries each person's score and its reasons, best
// first; a lead without points scores 0.
func TestLeadListByScore(t *testing.T) {
	w := newWorld(t, siteFrom(t, `{"id": "s1", "scoring": {
		"engagement": [{"name": "Pricing page", "path": "/pricing", "points": 10}],
		"fit": [{"name": "Marketing leader", "prop": "role", "match": "*marketing*", "points": 15}]}}`))
	d := w.db
	for _, p := range []string{"A", "B", "C"} {
		d.Session(attrtest.Session{Site: "s1", Person: p, At: oct(1, 9), Channel: "Direct", Source: "(direct)", Medium: "(none)"})
	}
	d.Event(attrtest.Event{Site: "s1", Person: "B", Type: event.Pageview, Path: "/pricing", At: oct(1, 9)})
	d.Event(attrtest.Event{Site: "s1", Person: "B", Type: event.Pageview, Path: "/pricing", At: oct(1, 10)})
	d.Event(attrtest.Event{Site: "s1", Person: "C", Type: event.Track, Name: "signup", Props: `{"role":"Head of Marketing"}`, At: oct(1, 10)})
	for i, p := range []string{"A", "B", "C"} {
		d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-" + p, Type: "lead", LeadType: "form", Person: p, At: oct(2+i, 10)})
	}
	w.rebuild("s1")
	sc := &scoring.Scorer{Conn: w.conn, DB: w.db.Name, Now: func() time.Time { return oct(20, 0) }}
	if _, err := sc.Pass(context.Background(), w.sites.Get("s1")); err != nil {
		t.Fatal(err)
	}
	var got reports.Leads
	if code := get(t, w.srv.URL+"/api/v1/leads?site=s1&from=2026-10-01&to=2026-10-31&order=score", "demo-admin", &got); code != 200 {
		t.Fatalf("status %d", code)
	}
	if !got.Scored || len(got.Leads) != 3 {
		t.Fatalf("lead list %+v", got)
	}
	var order []string
	for _, l := range got.Leads {
		order = append(order, l.PersonID)
	}
	if b, _ := json.Marshal(order); string(b) != `["B","C","A"]` {
		t.Fatalf("order %s", b)
	}
	b, c, a := got.Leads[0], got.Leads[1], got.Leads[2]
	if *b.Score != 20 || len(b.Reasons) != 1 || b.Reasons[0] != (rules.Reason{Kind: "engagement", Rule: "Pricing page", Points: 20, Times: 2}) {
		t.Fatalf("B %+v", b)
	}
	if *c.Score != 15 || len(c.Reasons) != 1 || c.Reasons[0].Value != "Head of Marketing" {
		t.Fatalf("C %+v", c)
	}
	if a.Score == nil || *a.Score != 0 || len(a.Reasons) != 0 {
		t.Fatalf("A %+v", a)
	}
	// Over a shorter range, filtered by the lead type and by a touch, in the same order.
	for query, want := range map[string]string{"lead_type=form": "B,C", "channel=Direct": "B,C", "channel=Email": "",
		"lead_type=call": ""} {
		var f reports.Leads
		w.getOK("/api/v1/leads?site=s1&from=2026-10-03&to=2026-10-31&order=score&"+query, &f)
		var ids []string
		for _, l := range f.Leads {
			ids = append(ids, l.PersonID)
		}
		if strings.Join(ids, ",") != want || f.Total != uint64(len(ids)) {
			t.Errorf("%s: %v of %d, want %s", query, ids, f.Total, want)
		}
	}
	// Newest first, each lead carries its person's score too.
	if code := get(t, w.srv.URL+"/api/v1/leads?site=s1&from=2026-10-01&to=2026-10-31", "demo-admin", &got); code != 200 || len(got.Leads) != 3 {
		t.Fatalf("newest first %d %+v", code, got.Leads)
	}
	var newest []string
	for _, l := range got.Leads {
		newest = append(newest, fmt.Sprintf("%s:%v:%d", l.PersonID, *l.Score, len(l.Reasons)))
	}
	if s := strings.Join(newest, " "); s != "C:15:1 B:20:1 A:0:0" {
		t.Fatalf("newest first %s, want C:15:1 B:20:1 A:0:0 (person:score:reasons)", s)
	}
	// The journey carries the stored score; a person without points has none.
	var j reports.Journey
	if code := get(t, w.srv.URL+"/api/v1/journeys?site=s1&conversion_id=lead-B", "demo-admin", &j); code != 200 || j.Score == nil ||
		j.Score.Score != 20 || j.Score.Engagement != 20 || len(j.Score.Reasons) != 1 || j.Score.QualifiedAt != nil {
		t.Fatalf("journey score %d %+v", code, j.Score)
	}
	if code := get(t, w.srv.URL+"/api/v1/journeys?site=s1&conversion_id=lead-A", "demo-admin", &j); code != 200 || j.Score != nil {
		t.Fatalf("journey without points %d %+v", code, j.Score)
	}
}

// A person whose latest score row is deleted has no points, in either order of the list,
// while ClickHouse still keeps the earlier row beside it.
func TestLeadListIgnoresDeletedScores(t *testing.T) {
	w := newWorld(t, siteFrom(t, `{"id": "s1", "scoring": {"engagement": [{"name": "Pricing page", "path": "/pricing", "points": 10}]}}`))
	d := w.db
	ctx := context.Background()
	if err := w.conn.Exec(ctx, "SYSTEM STOP MERGES "+d.Name+".lead_scores"); err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{"A", "B"} {
		d.Session(attrtest.Session{Site: "s1", Person: p, At: oct(1, 9), Channel: "Direct", Source: "(direct)", Medium: "(none)"})
		d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-" + p, Type: "lead", LeadType: "form", Person: p, At: oct(2+i, 10)})
	}
	w.rebuild("s1")
	for _, r := range []struct {
		person  string
		score   float64
		deleted uint8
		version uint64
	}{{"A", 50, 0, 1}, {"A", 0, 1, 2}, {"B", 20, 0, 1}} {
		reasons := fmt.Sprintf(`[{"kind":"engagement","rule":"Pricing page","points":%v,"times":1}]`, r.score)
		b, err := chstore.PrepareBatch(ctx, w.conn, "INSERT INTO "+d.Name+".lead_scores (site_id, person_id, score, engagement, reasons, deleted, version)")
		if err == nil {
			if err = b.Append("s1", r.person, r.score, r.score, reasons, r.deleted, r.version); err == nil {
				err = b.Send()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, order := range []string{"newest", "score"} {
		var got reports.Leads
		w.getOK("/api/v1/leads?site=s1&from=2026-10-01&to=2026-10-31&order="+order, &got)
		var listed []string
		for _, l := range got.Leads {
			listed = append(listed, fmt.Sprintf("%s:%v:%d", l.PersonID, *l.Score, len(l.Reasons)))
		}
		if s := strings.Join(listed, " "); s != "B:20:1 A:0:0" {
			t.Errorf("%s: %s, want B:20:1 A:0:0 (person:score:reasons)", order, s)
		}
	}
}

// A lead made under a person id since merged into another is listed with the person it
// belongs to now: their score and the furthest stage of all their ids, in either order.
func TestLeadListShowsMergedPerson(t *testing.T) {
	w := newWorld(t, siteFrom(t, `{"id": "s1", "scoring": {"engagement": [{"name": "Pricing page", "path": "/pricing", "points": 10}]}}`))
	d := w.db
	d.Session(attrtest.Session{Site: "s1", Person: "phone", At: oct(1, 9), Channel: "Direct", Source: "(direct)", Medium: "(none)"})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-phone", Type: "lead", LeadType: "form", Person: "phone", At: oct(2, 10)})
	d.Event(attrtest.Event{Site: "s1", Person: "laptop", Type: event.Pageview, Path: "/pricing", At: oct(3, 9)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "won-laptop", Type: "customer", Person: "laptop", At: oct(9, 10)})
	d.Alias("s1", "phone", "laptop")
	w.rebuild("s1")
	sc := &scoring.Scorer{Conn: w.conn, DB: w.db.Name, Now: func() time.Time { return oct(20, 0) }}
	if _, err := sc.Pass(context.Background(), w.sites.Get("s1")); err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{"newest", "score"} {
		var got reports.Leads
		w.getOK("/api/v1/leads?site=s1&from=2026-10-01&to=2026-10-31&order="+order, &got)
		if len(got.Leads) != 1 || got.Total != 1 {
			t.Fatalf("%s: lead list %+v", order, got)
		}
		l := got.Leads[0]
		if l.ConversionID != "lead-phone" || l.PersonID != "laptop" || l.Stage != "customer" || l.Score == nil || *l.Score != 10 {
			t.Fatalf("%s: lead %+v (score %v), want lead-phone of laptop, a customer scoring 10", order, l, l.Score)
		}
	}
}

// A lead's stage is the furthest its person reached under any of their ids, as each
// conversion and alias stands now: not by an earlier version of a conversion recorded
// under the person and since corrected to someone else, nor by an id merged into the
// person once and into someone else since.
func TestLeadStageIsOfConversionsAsTheyStand(t *testing.T) {
	w := newWorld(t, site.Site{ID: "s1"})
	d := w.db
	// Both versions of the corrected conversion stay stored, as until ClickHouse merges.
	if err := w.conn.Exec(context.Background(), "SYSTEM STOP MERGES "+d.Name+".conversions"); err != nil {
		t.Fatal(err)
	}
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-ann", Type: "lead", LeadType: "form", Person: "ann", At: oct(2, 10)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-bob", Type: "lead", LeadType: "form", Person: "bob", At: oct(1, 10)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "opp-tablet", Type: "opportunity", Person: "tablet", At: oct(5, 10)})
	d.Alias("s1", "tablet", "ann")
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "won-kiosk", Type: "customer", Person: "kiosk", At: oct(6, 10)})
	d.Alias("s1", "kiosk", "ann")
	d.Alias("s1", "kiosk", "bob")
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "deal", Type: "customer", Person: "ann", At: oct(7, 10)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "deal", Type: "customer", Person: "carl", At: oct(7, 10)})
	w.rebuild("s1")
	var got reports.Leads
	w.getOK("/api/v1/leads?site=s1&from=2026-10-01&to=2026-10-31", &got)
	var stages []string
	for _, l := range got.Leads {
		stages = append(stages, l.PersonID+":"+l.Stage)
	}
	if want := []string{"ann:opportunity", "bob:customer"}; !slices.Equal(stages, want) {
		t.Fatalf("stages %v, want %v", stages, want)
	}
}

// Rules set through the API replace the site file's at the next pass (everyone is
// rescored), bad rules are refused with the reason, and clearing them brings back the
// file's.
func TestScoringRulesThroughTheAPI(t *testing.T) {
	w := newWorld(t, siteFrom(t, `{"id": "s1", "scoring": {"engagement": [{"name": "Pricing page", "path": "/pricing", "points": 10}]}}`), site.Site{ID: "s2"})
	store := &scoring.Store{Conn: w.conn, DB: w.db.Name}
	srv := httptest.NewServer((&Server{Sites: w.sites, Reports: w.store, Scoring: store, Now: func() time.Time { return oct(20, 0) }}).Handler())
	defer srv.Close()
	send := func(method, site, body string) (int, scoring.Current) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/api/v1/scoring?site="+site, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer demo-admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var c scoring.Current
		json.NewDecoder(resp.Body).Decode(&c)
		return resp.StatusCode, c
	}
	w.db.Event(attrtest.Event{Site: "s1", Person: "B", Type: event.Pageview, Path: "/pricing", At: oct(1, 9)})
	w.db.Event(attrtest.Event{Site: "s1", Person: "B", Type: event.Track, Name: "whitepaper", At: oct(1, 10)})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-B", Type: "lead", LeadType: "form", Person: "B", At: oct(2, 10)})
	sc := &scoring.Scorer{Conn: w.conn, DB: w.db.Name, Now: func() time.Time { return oct(20, 0) }}
	score := func() float64 {
		t.Helper()
		if _, err := sc.Pass(context.Background(), w.sites.Get("s1")); err != nil {
			t.Fatal(err)
		}
		var got reports.Leads
		get(t, srv.URL+"/api/v1/leads?site=s1&from=2026-10-01&to=2026-10-31", "demo-admin", &got)
		return *got.Leads[0].Score
	}
	if code, c := send("GET", "s1", ""); code != 200 || c.Source != scoring.FromFile || score() != 10 {
		t.Fatalf("file rules: %d %+v", code, c)
	}
	if code, c := send("GET", "s2", ""); code != 200 || c.Source != scoring.FromNone || c.Rules != nil {
		t.Fatalf("no rules: %d %+v", code, c)
	}
	if code, _ := send("PUT", "s1", `{"engagement": [{"name": "Whitepaper", "track": "whitepaper", "points": 5, "maxx": 1}]}`); code != 400 {
		t.Fatalf("misspelt rules: %d", code)
	}
	if code, c := send("PUT", "s1", `{"engagement": [{"name": "Whitepaper", "track": "whitepaper", "points": 5}]}`); code != 200 ||
		c.Source != scoring.FromAPI || c.UpdatedBy != "admin" || c.Rules.Engagement[0].Name != "Whitepaper" {
		t.Fatalf("PUT: %d %+v", code, c)
	}
	if s := score(); s != 5 {
		t.Fatalf("score under the API's rules %v, want 5", s)
	}
	if code, c := send("DELETE", "s1", ""); code != 200 || c.Source != scoring.FromFile || score() != 10 {
		t.Fatalf("DELETE: %d %+v", code, c)
	}
}
