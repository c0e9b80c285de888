package reports

import (
	"context"
	"fmt"
	"sort"
	"time"

	"touchpoint/internal/chstore"
)

// Stages are the lifecycle stages in order.
var Stages = []string{"lead", "mql", "sal", "sql", "opportunity", "customer"}

// StallAfter is how long a person may stay in a stage before counting as stalled.
const StallAfter = 30 * 24 * time.Hour

// LifecycleRow is one key of the lifecycle report; Totals has no key.
type LifecycleRow struct {
	Key        string              `json:"key,omitempty"`
	Counts     map[string]uint64   `json:"counts"`
	Rates      map[string]*float64 `json:"rates"`       // "lead_mql": share of leads that reached mql
	MedianDays map[string]*float64 `json:"median_days"` // "lead_mql": median days from lead to mql
	Stalled    map[string]uint64   `json:"stalled"`     // furthest stage reached over 30 days ago
}

// Lifecycle is the lifecycle report.
type Lifecycle struct {
	Site   string         `json:"site"`
	By     string         `json:"by"`
	From   string         `json:"from"`
	To     string         `json:"to"`
	Stages []string       `json:"stages"`
	Rows   []LifecycleRow `json:"rows"`
	Totals LifecycleRow   `json:"totals"`
}

// Lifecycle follows the leads that occurred in the range through the stages, grouped by
// the first-click touch of each lead: the same leads, under the same keys, as the
// first-click source report counts ("(no touchpoint)" included), so both reports agree.
// A person with several leads in the range counts once per lead in the lead stage; the
// later stages count people, each once, under the key of their first lead in the range.
// A stage counts when the person reached it at any time (stages may be skipped: a
// customer without an sql record still counts as customer).
func (s *Store) Lifecycle(ctx context.Context, p Params, now time.Time) (*Lifecycle, error) {
	if p.By.Name != "channel" && p.By.Name != "source" && p.By.Name != "campaign" {
		return nil, fmt.Errorf("lifecycle is grouped by channel, source or campaign")
	}
	leads := chstore.CurrentPerson(s.DB, fmt.Sprintf(`SELECT person_id, conversion_id, occurred_at, k FROM (
			SELECT person_id, conversion_id, occurred_at, %s AS k, removed FROM %s.attributions FINAL
			WHERE site_id = ? AND model = 'first_click' AND conversion_type = 'lead' AND occurred_at >= ? AND occurred_at < ?)
		WHERE removed = 0`, p.By.attribution, s.DB))
	stages := chstore.CurrentPerson(s.DB, fmt.Sprintf(`SELECT person_id, type, occurred_at FROM %s.conversions FINAL
		WHERE site_id = ? AND is_bot = 0 AND type IN ('mql', 'sal', 'sql', 'opportunity', 'customer')`, s.DB))
	q := fmt.Sprintf(`SELECT k, person, conversion_id, lead_at, at_mql, at_sal, at_sql, at_opportunity, at_customer FROM (
			SELECT k, person, conversion_id, occurred_at AS lead_at FROM (%s)
		) AS leads ANY LEFT JOIN (
			SELECT person,
				minIf(occurred_at, type = 'mql') AS at_mql, minIf(occurred_at, type = 'sal') AS at_sal,
				minIf(occurred_at, type = 'sql') AS at_sql, minIf(occurred_at, type = 'opportunity') AS at_opportunity,
				minIf(occurred_at, type = 'customer') AS at_customer
			FROM (%s) GROUP BY person
		) AS stages USING person`, leads, stages)
	args := []any{p.Site, p.Site, p.From, p.end(), p.Site, p.Site}
	type lead struct {
		key, id string
		t       [6]time.Time
	}
	byPerson := map[string][]lead{}
	err := s.each(ctx, q, args, func(sc scanner) error {
		var l lead
		var person string
		if err := sc.Scan(&l.key, &person, &l.id, &l.t[0], &l.t[1], &l.t[2], &l.t[3], &l.t[4], &l.t[5]); err != nil {
			return err
		}
		l.key = keyOf(l.key)
		byPerson[person] = append(byPerson[person], l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read lifecycle: %w", err)
	}
	agg := map[string]*stageAgg{}
	total := newStageAgg()
	for _, ls := range byPerson {
		sort.Slice(ls, func(i, j int) bool {
			if !ls[i].t[0].Equal(ls[j].t[0]) {
				return ls[i].t[0].Before(ls[j].t[0])
			}
			return ls[i].id < ls[j].id
		})
		for i, l := range ls {
			a := agg[l.key]
			if a == nil {
				a = newStageAgg()
				agg[l.key] = a
			}
			if i == 0 { // the person's first lead in the range carries their stages
				a.add(l.t, now)
				total.add(l.t, now)
			} else {
				a.counts[0]++
				total.counts[0]++
			}
		}
	}
	out := &Lifecycle{Site: p.Site, By: p.By.Name, From: day(p.From), To: day(p.To), Stages: Stages, Rows: []LifecycleRow{}}
	for k, a := range agg {
		out.Rows = append(out.Rows, a.row(k))
	}
	sort.Slice(out.Rows, func(i, j int) bool {
		a, b := out.Rows[i], out.Rows[j]
		if a.Counts["lead"] != b.Counts["lead"] {
			return a.Counts["lead"] > b.Counts["lead"]
		}
		return a.Key < b.Key
	})
	out.Totals = total.row("")
	return out, nil
}

type stageAgg struct {
	counts  [6]uint64
	stalled [6]uint64
	days    [5][]float64 // between stage i and i+1
}

func newStageAgg() *stageAgg { return &stageAgg{} }

// reached is false for the zero DateTime ClickHouse returns when minIf matched nothing.
func reached(t time.Time) bool { return t.Unix() > 0 }

func (a *stageAgg) add(t [6]time.Time, now time.Time) {
	furthest := -1
	for i := range t {
		if reached(t[i]) {
			a.counts[i]++
			furthest = i
		}
	}
	for i := 0; i+1 < len(t); i++ {
		if reached(t[i]) && reached(t[i+1]) && !t[i+1].Before(t[i]) {
			a.days[i] = append(a.days[i], t[i+1].Sub(t[i]).Hours()/24)
		}
	}
	if furthest >= 0 && furthest < len(t)-1 && now.Sub(t[furthest]) > StallAfter {
		a.stalled[furthest]++
	}
}

func (a *stageAgg) row(key string) LifecycleRow {
	r := LifecycleRow{Key: key, Counts: map[string]uint64{}, Rates: map[string]*float64{}, MedianDays: map[string]*float64{}, Stalled: map[string]uint64{}}
	for i, st := range Stages {
		r.Counts[st] = a.counts[i]
		r.Stalled[st] = a.stalled[i]
		if i+1 < len(Stages) {
			name := st + "_" + Stages[i+1]
			if a.counts[i] > 0 {
				v := credit6(float64(a.counts[i+1]) / float64(a.counts[i]))
				r.Rates[name] = &v
			} else {
				r.Rates[name] = nil
			}
			r.MedianDays[name] = median(a.days[i])
		}
	}
	return r
}

func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	m = credit6(m)
	return &m
}
