package rules

import (
	"testing"
	"time"
)

// BenchmarkScore scores one person of 20 activities (pages, a form, an identify call and a
// lead) with a dozen rules: the evaluator's share of a pass, per person.
func BenchmarkScore(b *testing.B) {
	r, err := Parse([]byte(`{"engagement": [
		{"name": "Pricing", "path": "/pricing", "points": 10, "max": 30}, {"name": "Demo", "form": "demo*", "points": 30, "once": true},
		{"name": "Blog", "path": "/blog/*", "points": 5, "max": 10}, {"name": "Careers", "path": "/careers/*", "points": -15},
		{"name": "Call", "conversion": "lead", "lead_type": "call", "points": 30}, {"name": "Webinar", "track": "webinar*", "points": 20},
		{"name": "Plan", "event": "track", "props": {"plan": "ent*"}, "points": 5}],
		"engagement_max": 80, "decay_percent": 25,
		"fit": [{"name": "Size", "trait": "team_size", "at_least": 10, "points": 20}, {"name": "Role", "trait": "role", "match": "*marketing*", "points": 15},
			{"name": "Student", "trait": "role", "equals": "Student", "points": -25}], "fit_max": 40, "mql": {"score": 60}}`))
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var acts []Activity
	paths := []string{"/", "/pricing", "/blog/a", "/features", "/pricing"}
	for i := 0; i < 17; i++ {
		acts = append(acts, Activity{At: at.Add(time.Duration(i) * 26 * time.Hour), Type: "pageview", Path: paths[i%len(paths)]})
	}
	acts = append(acts,
		Activity{At: at.Add(20 * 24 * time.Hour), Type: "identify", Traits: `{"team_size":"11-50","role":"Head of Marketing"}`},
		Activity{At: at.Add(20 * 24 * time.Hour), Type: "form_submit", FormID: "demo-request"},
		Activity{At: at.Add(20 * 24 * time.Hour), Conversion: true, Type: "lead", LeadType: "form"})
	ev := r.Evaluator()
	now := at.Add(60 * 24 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		ev.Score(acts, now)
	}
}
