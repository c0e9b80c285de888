package rules

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

var docBlock = regexp.MustCompile("(?s)```json scoring-(rules|activities|result)([^\n]*)\n(.*?)```")

// docActivity is an activity as docs/scoring.md writes it.
type docActivity struct {
	At         time.Time         `json:"at"`
	Event      string            `json:"event"`
	Conversion string            `json:"conversion"`
	LeadType   string            `json:"lead_type"`
	Path       string            `json:"path"`
	Track      string            `json:"track"`
	FormID     string            `json:"form_id"`
	FormName   string            `json:"form_name"`
	Props      map[string]string `json:"props"`
	Traits     map[string]string `json:"traits"`
}

type docResult struct {
	Engagement  float64    `json:"engagement"`
	Fit         float64    `json:"fit"`
	Score       float64    `json:"score"`
	QualifiedAt *time.Time `json:"qualified_at"`
	Reasons     []Reason   `json:"reasons"`
}

// The worked examples of docs/scoring.md give the results they show.
func TestScoringDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/scoring.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := docBlock.FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 9 || len(blocks)%3 != 0 {
		t.Fatalf("docs/scoring.md has %d example blocks, want rules, activities and result, at least three times", len(blocks))
	}
	for i := 0; i < len(blocks); i += 3 {
		if blocks[i][1] != "rules" || blocks[i+1][1] != "activities" || blocks[i+2][1] != "result" {
			t.Fatalf("example %d: blocks %s, %s, %s", i/3+1, blocks[i][1], blocks[i+1][1], blocks[i+2][1])
		}
		r, err := Parse([]byte(blocks[i][3]))
		if err != nil {
			t.Fatalf("example %d: %v", i/3+1, err)
		}
		var in []docActivity
		if err := json.Unmarshal([]byte(blocks[i+1][3]), &in); err != nil {
			t.Fatalf("example %d: activities: %v", i/3+1, err)
		}
		acts := make([]Activity, len(in))
		for j, a := range in {
			acts[j] = Activity{At: a.At, Type: a.Event, LeadType: a.LeadType, Path: a.Path, Track: a.Track, FormID: a.FormID, FormName: a.FormName}
			if a.Conversion != "" {
				acts[j].Conversion, acts[j].Type = true, a.Conversion
			}
			if a.Props != nil {
				b, _ := json.Marshal(a.Props)
				acts[j].Props = string(b)
			}
			if a.Traits != nil {
				b, _ := json.Marshal(a.Traits)
				acts[j].Traits = string(b)
			}
		}
		now, err := time.Parse(time.RFC3339, strings.TrimSpace(blocks[i+2][2]))
		if err != nil {
			t.Fatalf("example %d: the result's time: %v", i/3+1, err)
		}
		var want docResult
		if err := json.Unmarshal([]byte(blocks[i+2][3]), &want); err != nil {
			t.Fatalf("example %d: result: %v", i/3+1, err)
		}
		s := r.Evaluator().Score(acts, now)
		got := docResult{Engagement: s.Engagement, Fit: s.Fit, Score: s.Score, Reasons: s.Reasons}
		if !s.QualifiedAt.IsZero() {
			got.QualifiedAt = &s.QualifiedAt
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("example %d of docs/scoring.md:\n got %s\nwant %s", i/3+1, g, w)
		}
	}
}
