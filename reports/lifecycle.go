package reports

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Stages are the lifecycle stages in order.
var Stages = []string{"lead", "mql", "sal", "sql", "opportunity", "customer"}

// StallAfter is how long a person may stay in a stage before counting as stalled.
const StallAfter = 30 * 24 * time.Hour

// LifecycleRow is one key of the lifecycle report; Totals has Key "".
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

// Lifecycle follows the persons whose first lead occurred in the range through the
// stages, grouped by the first-click touch of that lead. A stage counts when the person
// reached it at any time (stages may be skipped: a customer without an sql record
// still counts as customer).
func (s *Store) Lifecycle(ctx context.Context, p Params, now time.Time) (*Lifecycle, error) {
	if p.By.Name != "channel" && p.By.Name != "source" && p.By.Name != "campaign" {
		return nil, fmt.Errorf("lifecycle is grouped by channel, source or campaign")
	}
	resolved := func(where string) string {
		return fmt.Sprintf(`SELECT if(current_person_id = '', person_id, current_person_id) AS person, conversion_id, type, occurred_at
			FROM (SELECT person_id, conversion_id, type, occurred_at FROM %s.conversions FINAL WHERE site_id = ? AND is_bot = 0 %s) AS unresolved
			ANY LEFT JOIN (SELECT person_id, current_person_id FROM %s.person_aliases FINAL WHERE site_id = ?) AS aliases USING person_id`, s.DB, where, s.DB)
	}
	q := fmt.Sprintf(`SELECT k, person, lead_at, at_mql, at_sal, at_sql, at_opportunity, at_customer FROM (
			SELECT person, cid, lead_at, k FROM (
				SELECT person, min(occurred_at) AS lead_at, argMin(conversion_id, occurred_at) AS cid
				FROM (%s) GROUP BY person HAVING lead_at >= ? AND lead_at < ?
			) AS leads ANY LEFT JOIN (
				SELECT conversion_id AS cid, %s AS k FROM %s.attributions FINAL
				WHERE site_id = ? AND model = 'first_click' AND removed = 0
			) AS first_touches USING cid
		) AS keyed ANY LEFT JOIN (
			SELECT person,
				minIf(occurred_at, type = 'mql') AS at_mql, minIf(occurred_at, type = 'sal') AS at_sal,
				minIf(occurred_at, type = 'sql') AS at_sql, minIf(occurred_at, type = 'opportunity') AS at_opportunity,
				minIf(occurred_at, type = 'customer') AS at_customer
			FROM (%s) GROUP BY person
		) AS stages USING person`,
		resolved("AND type = 'lead'"), p.By.attribution, s.DB, resolved("AND type != 'lead'"))
	args := []any{p.Site, p.Site, p.From, p.end(), p.Site, p.Site, p.Site}
	agg := map[string]*stageAgg{}
	total := newStageAgg()
	err := s.each(ctx, q, args, func(sc scanner) error {
		var k, person string
		var t [6]time.Time
		if err := sc.Scan(&k, &person, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5]); err != nil {
			return err
		}
		a := agg[k]
		if a == nil {
			a = newStageAgg()
			agg[k] = a
		}
		a.add(t, now)
		total.add(t, now)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read lifecycle: %w", err)
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
				v := float64(a.counts[i+1]) / float64(a.counts[i])
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
	return &m
}
