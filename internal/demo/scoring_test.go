package demo

import (
	"encoding/json"
	"net/url"
	"sort"
	"testing"
	"time"

	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
	"touchpoint/scoring/rules"
)

// The demo site's scoring rules make some demo leads MQLs by what they did and who they
// are, also leads the CRM never marked as MQLs, and leave others below the threshold.
func TestDemoRulesQualifySomeLeads(t *testing.T) {
	reg, err := site.Load(testenv.RepoRoot(t) + "/config/dev.json")
	if err != nil {
		t.Fatal(err)
	}
	r := reg.Get("demo").Scoring
	if r == nil || r.MQL == nil {
		t.Fatal("the demo site has no scoring rules with an MQL threshold")
	}
	end := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	ds := Generate(Options{Site: "demo", Visitors: 3000, Weeks: 9, End: end, Seed: 1})

	// People are their emails: the visitors that identified with one.
	email := map[string]string{}
	for _, e := range ds.Events {
		if m := e.Traits["email"]; m != "" {
			email[e.VID] = m
		}
	}
	leadEvents := map[string]bool{}
	for _, id := range ds.EventConversions {
		leadEvents[id] = true
	}
	acts := map[string][]rules.Activity{}
	for _, e := range ds.Events {
		m := email[e.VID]
		if m == "" {
			continue
		}
		a := rules.Activity{At: time.UnixMilli(e.TS).UTC().Truncate(time.Second), Type: e.Type}
		if u, err := url.Parse(e.URL); err == nil {
			a.Path = u.Path
		}
		if e.Form != nil {
			a.FormID, a.FormName = e.Form.ID, e.Form.Name
		}
		if len(e.Traits) > 0 {
			b, _ := json.Marshal(e.Traits)
			a.Traits = string(b)
		}
		acts[m] = append(acts[m], a)
		if leadEvents[e.ID] && e.Form != nil && e.Form.ID == "demo-request" {
			acts[m] = append(acts[m], rules.Activity{At: a.At, Conversion: true, Type: "lead", LeadType: "form"})
		}
	}
	crmMQL := map[string]bool{}
	for _, c := range ds.Conversions {
		at, err := time.Parse(time.RFC3339, c.OccurredAt)
		if err != nil {
			t.Fatal(err)
		}
		acts[c.Email] = append(acts[c.Email], rules.Activity{At: at, Conversion: true, Type: c.Type, LeadType: c.LeadType})
		if c.Type == "mql" {
			crmMQL[c.Email] = true
		}
	}
	ev := r.Evaluator()
	var leads, qualified, byScoringOnly, student int
	for m, as := range acts {
		sort.SliceStable(as, func(i, j int) bool {
			if !as[i].At.Equal(as[j].At) {
				return as[i].At.Before(as[j].At)
			}
			return !as[i].Conversion && as[j].Conversion
		})
		lead := false
		for _, a := range as {
			lead = lead || a.Conversion && a.Type == "lead"
		}
		if !lead {
			continue
		}
		leads++
		s := ev.Score(as, end)
		if !s.QualifiedAt.IsZero() {
			qualified++
			if !crmMQL[m] {
				byScoringOnly++
			}
		}
		for _, x := range s.Reasons {
			if x.Rule == "Student" && x.Points < 0 {
				student++
			}
		}
	}
	t.Logf("%d leads, %d qualify by score, %d of them without an MQL from the CRM, %d students", leads, qualified, byScoringOnly, student)
	if leads < 20 || qualified == 0 || qualified >= leads || byScoringOnly == 0 || student == 0 {
		t.Fatalf("%d leads, %d qualified, %d by scoring only, %d students", leads, qualified, byScoringOnly, student)
	}
}
