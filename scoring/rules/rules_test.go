package rules

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRefusesWhatCannotScore(t *testing.T) {
	f := func(rules, want string) {
		t.Helper()
		_, err := Parse([]byte(rules))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %v, want one saying %q", rules, err, want)
		}
	}
	f(`{}`, "at least one engagement or fit rule")
	f(`{"engagement": [{"name": "a", "path": "/p", "pints": 5}]}`, `unknown field "pints"`)
	f(`{"engagement": [{"name": "a", "path": "/p"}]}`, "points is a number other than 0")
	f(`{"engagement": [{"name": "a", "points": 5}]}`, "give at least one of")
	f(`{"engagement": [{"path": "/p", "points": 5}]}`, "a name is required")
	f(`{"engagement": [{"name": "a", "path": "/p", "points": 5}, {"name": "a", "path": "/q", "points": 5}]}`, "used twice")
	f(`{"engagement": [{"name": "a", "path": "/p", "conversion": "lead", "points": 5}]}`, "cannot match both")
	f(`{"engagement": [{"name": "a", "event": "pageview", "form": "demo", "points": 5}]}`, "form matches form_submit events")
	f(`{"engagement": [{"name": "a", "event": "conversion", "points": 5}]}`, `matched with "conversion"`)
	f(`{"engagement": [{"name": "a", "path": "/p", "points": 5, "max": -1}]}`, "max is a number of points")
	f(`{"fit": [{"name": "a", "points": 5}]}`, "give one of trait or prop")
	f(`{"fit": [{"name": "a", "trait": "role", "prop": "role", "points": 5}]}`, "give one of trait or prop")
	f(`{"fit": [{"name": "a", "trait": "size", "equals": "x", "at_least": 5, "points": 5}]}`, "give one condition")
	f(`{"fit": [{"name": "a", "trait": "size", "at_least": 50, "at_most": 10, "points": 5}]}`, "at_least is above at_most")
	f(`{"fit": [{"name": "a", "trait": "size", "points": 5}], "decay_percent": 120}`, "decay_percent")
	f(`{"fit": [{"name": "a", "trait": "size", "points": 5}], "mql": {}}`, "mql sets at least one")
	f(`{"fit": [{"name": "a", "trait": "size", "points": 5}]} {}`, "after top-level value")
}

func TestEqualsTakesOneValueOrAList(t *testing.T) {
	r, err := Parse([]byte(`{"fit": [{"name": "a", "trait": "role", "equals": "CMO", "points": 5},
		{"name": "b", "trait": "team", "equals": ["agency", "studio"], "points": 5}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Fit[0].Equals) != 1 || len(r.Fit[1].Equals) != 2 {
		t.Fatalf("equals read as %v and %v", r.Fit[0].Equals, r.Fit[1].Equals)
	}
	again, err := Parse(r.JSON())
	if err != nil || string(again.JSON()) != string(r.JSON()) {
		t.Fatalf("stored form does not read back the same: %s / %v", r.JSON(), err)
	}
}

var t0 = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const day = 24 * time.Hour

func page(d time.Duration, path string) Activity {
	return Activity{At: at(d), Type: "pageview", Path: path}
}

func lead(d time.Duration, leadType string) Activity {
	return Activity{At: at(d), Conversion: true, Type: "lead", LeadType: leadType}
}

func mustParse(t *testing.T, s string) *Rules {
	t.Helper()
	r, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func reasonsOf(s Score) string {
	var b strings.Builder
	for _, r := range s.Reasons {
		b.WriteString(r.Kind)
		if r.Rule != "" {
			b.WriteString(":" + r.Rule)
		}
		b.WriteString("=" + strconv.FormatFloat(r.Points, 'f', -1, 64) + " ")
	}
	return strings.TrimSpace(b.String())
}

// The reasons of a score add up to it, whatever caps, decay and rounding did.
func checkSum(t *testing.T, s Score) {
	t.Helper()
	sum := 0.0
	for _, r := range s.Reasons {
		sum += r.Points
	}
	if round2(sum) != s.Score {
		t.Fatalf("reasons add up to %v, score %v: %+v", sum, s.Score, s.Reasons)
	}
}

func TestEngagementRules(t *testing.T) {
	r := mustParse(t, `{"engagement": [
		{"name": "pricing", "path": "/pricing*", "points": 10, "max": 25},
		{"name": "demo", "form": "demo*", "points": 30, "once": true},
		{"name": "careers", "path": "/careers*", "points": -5},
		{"name": "call", "call": true, "points": 20},
		{"name": "download", "track": "download", "props": {"file": "*.pdf"}, "points": 7},
		{"name": "sale", "conversion": "sale", "points": 50}]}`)
	ev := r.Evaluator()
	f := func(want float64, wantReasons string, acts ...Activity) {
		t.Helper()
		s := ev.Score(acts, at(time.Hour))
		checkSum(t, s)
		if s.Engagement != want || s.Score != want || reasonsOf(s) != wantReasons {
			t.Fatalf("engagement %v (%s), want %v (%s)", s.Engagement, reasonsOf(s), want, wantReasons)
		}
	}
	f(0, "")
	f(0, "", page(0, "/"))
	f(10, "engagement:pricing=10", page(0, "/pricing"))
	// Capped at 25 however often.
	f(25, "engagement:pricing=25", page(0, "/pricing"), page(1, "/pricing/teams"), page(2, "/PRICING"), page(3, "/pricing"))
	// A form on the pricing page is no visit of it.
	f(30, "engagement:demo=30", Activity{At: at(0), Type: "form_submit", Path: "/pricing", FormID: "demo-request"})
	f(30, "engagement:demo=30", Activity{At: at(0), Type: "form_submit", FormID: "", FormName: "Demo"},
		Activity{At: at(1), Type: "form_submit", FormID: "demo-request"})
	f(-10, "engagement:careers=-10", page(0, "/careers"), page(1, "/careers/dev"))
	// A call lead and a repeat call event count; a tel: click does not.
	f(40, "engagement:call=40", lead(0, "call"), Activity{At: at(1), Type: "call"}, Activity{At: at(2), Type: "call_click"})
	f(0, "", lead(0, "form"))
	f(7, "engagement:download=7", Activity{At: at(0), Type: "track", Track: "Download", Props: `{"file":"Guide.PDF"}`},
		Activity{At: at(1), Type: "track", Track: "download", Props: `{"file":"guide.docx"}`},
		Activity{At: at(2), Type: "track", Track: "download"})
	f(50, "engagement:sale=50", Activity{At: at(0), Conversion: true, Type: "sale"}, Activity{At: at(1), Type: "sale"})
}

func TestCapsDecayAndRounding(t *testing.T) {
	r := mustParse(t, `{"engagement": [{"name": "visit", "event": "pageview", "points": 10}], "engagement_max": 35, "decay_percent": 25}`)
	ev := r.Evaluator()
	acts := []Activity{page(0, "/"), page(1, "/"), page(2, "/"), page(3, "/"), page(4, "/")}
	s := ev.Score(acts, at(4))
	checkSum(t, s)
	if s.Engagement != 35 || reasonsOf(s) != "engagement:visit=50 engagement_cap=-15" {
		t.Fatalf("capped: %v %s", s.Engagement, reasonsOf(s))
	}
	// 29 days idle: nothing lost; 30: a quarter; 61: a quarter of the rest more.
	for _, c := range []struct {
		idle time.Duration
		want float64
	}{{29 * day, 35}, {30 * day, 26.25}, {61 * day, 19.69}} {
		s := ev.Score(acts, at(4).Add(c.idle))
		checkSum(t, s)
		if s.Engagement != c.want {
			t.Fatalf("after %s idle: %v, want %v (%s)", c.idle, s.Engagement, c.want, reasonsOf(s))
		}
		if d := r.Decayed(ev.Score(acts, at(4)), at(4).Add(c.idle)); d.Engagement != c.want || reasonsOf(d) != reasonsOf(s) || !d.DecaysAt.Equal(s.DecaysAt) {
			t.Fatalf("decaying a stored score gives %v %s, scoring again %v %s", d.Engagement, reasonsOf(d), s.Engagement, reasonsOf(s))
		}
	}
	if s := ev.Score(acts, at(4).Add(45*day)); !s.DecaysAt.Equal(at(4).Add(60 * day)) {
		t.Fatalf("decays next at %s, want 60 days after the last activity", s.DecaysAt)
	}
	// Decay between activities: 35 decays to 26.25 over 30 idle days, then a visit.
	s = ev.Score(append(acts, page(4+30*day, "/")), at(4+30*day))
	checkSum(t, s)
	if s.Engagement != 35 || reasonsOf(s) != "engagement:visit=60 engagement_cap=-16.25 decay=-8.75" {
		t.Fatalf("decay in between: %v %s", s.Engagement, reasonsOf(s))
	}
}

func TestFitRules(t *testing.T) {
	r := mustParse(t, `{"fit": [
		{"name": "agency", "trait": "industry", "equals": ["Agency", "studio"], "points": 15},
		{"name": "team", "trait": "team_size", "at_least": 10, "points": 10},
		{"name": "small", "trait": "team_size", "at_most": 5, "points": -10},
		{"name": "boss", "trait": "role", "match": "*head of*", "points": 10},
		{"name": "student", "trait": "role", "match": "*student*", "points": -20},
		{"name": "enterprise", "prop": "plan", "equals": "enterprise", "points": 5},
		{"name": "phone", "trait": "phone", "points": 1}], "fit_max": 30}`)
	ev := r.Evaluator()
	f := func(want float64, wantReasons string, traits ...string) {
		t.Helper()
		var acts []Activity
		for i, tr := range traits {
			acts = append(acts, Activity{At: at(time.Duration(i) * time.Minute), Type: "identify", Traits: tr})
		}
		s := ev.Score(acts, at(day))
		checkSum(t, s)
		if s.Fit != want || reasonsOf(s) != wantReasons {
			t.Fatalf("%v: fit %v (%s), want %v (%s)", traits, s.Fit, reasonsOf(s), want, wantReasons)
		}
	}
	f(0, "")
	f(15, "fit:agency=15", `{"industry":" agency "}`)
	f(10, "fit:team=10", `{"team_size":"25"}`)
	f(10, "fit:team=10", `{"team_size":"11-50"}`)
	f(0, "", `{"team_size":"1-50"}`)
	f(10, "fit:team=10", `{"team_size":"1,500"}`)
	f(10, "fit:team=10", `{"team_size":"500+"}`)
	f(-10, "fit:small=-10", `{"team_size":"2"}`)
	f(0, "", `{"team_size":"many"}`)
	// The latest value counts; an empty value changes nothing.
	f(10, "fit:boss=10", `{"role":"Student"}`, `{"role":"Head of Marketing"}`, `{"role":""}`)
	f(30, "fit:agency=15 fit:team=10 fit:boss=10 fit_cap=-5", `{"industry":"Agency","team_size":"40","role":"Head of Growth"}`)
	f(1, "fit:phone=1", `{"phone":"+4930123"}`)
	// Properties of events and conversions.
	s := ev.Score([]Activity{{At: at(0), Conversion: true, Type: "opportunity", Props: `{"plan":"Enterprise","seats":40}`}}, at(day))
	if s.Fit != 5 {
		t.Fatalf("fit from a conversion's property: %v", s.Fit)
	}
}

func TestQualifiesOnceALeadReachesTheThreshold(t *testing.T) {
	r := mustParse(t, `{"engagement": [{"name": "pricing", "path": "/pricing", "points": 20},
		{"name": "demo", "form": "demo", "points": 30}],
		"fit": [{"name": "team", "trait": "team_size", "at_least": 10, "points": 20}],
		"decay_percent": 50, "mql": {"engagement": 40, "fit": 20}}`)
	ev := r.Evaluator()
	// Engaged and fit long before becoming a lead: qualified by the lead itself.
	s := ev.Score([]Activity{page(0, "/pricing"), page(1, "/pricing"), {At: at(2), Type: "identify", Traits: `{"team_size":"12"}`},
		lead(3*time.Hour, "form")}, at(day))
	if !s.QualifiedAt.Equal(at(3 * time.Hour)) {
		t.Fatalf("qualified at %s, want the lead's time", s.QualifiedAt)
	}
	// Not fit enough: never.
	s = ev.Score([]Activity{page(0, "/pricing"), page(1, "/pricing"), lead(2, "form")}, at(day))
	if !s.QualifiedAt.IsZero() {
		t.Fatalf("qualified without fit at %s", s.QualifiedAt)
	}
	// Anonymous and engaged, then a lead after the engagement decayed below 40: qualified
	// by the pricing visit after the lead.
	s = ev.Score([]Activity{page(0, "/pricing"), page(1, "/pricing"), {At: at(2), Type: "identify", Traits: `{"team_size":"12"}`},
		lead(31*day, "call"), page(32*day, "/pricing")}, at(40*day))
	if !s.QualifiedAt.Equal(at(32*day)) || s.Engagement != 40 {
		t.Fatalf("qualified at %s with %v engagement, want 32 days in, 40", s.QualifiedAt, s.Engagement)
	}
	// A lead without a threshold in the rules is never qualified.
	s = mustParse(t, `{"engagement": [{"name": "pricing", "path": "/pricing", "points": 20}]}`).Evaluator().Score(
		[]Activity{page(0, "/pricing"), lead(1, "form")}, at(day))
	if !s.QualifiedAt.IsZero() {
		t.Fatal("qualified without an mql threshold")
	}
}

func TestNumber(t *testing.T) {
	f := func(v string, lo, hi float64, ok bool) {
		t.Helper()
		a, b, k := Number(v)
		if k != ok || ok && (a != lo || b != hi) {
			t.Fatalf("Number(%q) = %v, %v, %v", v, a, b, k)
		}
	}
	f("25", 25, 25, true)
	f(" -3.5 ", -3.5, -3.5, true)
	f("11-50", 11, 50, true)
	f("11 – 50", 11, 50, true)
	f("10 to 20", 10, 20, true)
	f("50-11", 0, 0, false)
	f("abc", 0, 0, false)
	f("", 0, 0, false)
	f("NaN", 0, 0, false)
}
