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

// LifecycleRow is one key of the lifecycle report; Totals has no key. Counts are the
// model's credit for the leads, whole numbers for single-touch models.
type LifecycleRow struct {
	Key        string              `json:"key,omitempty"`
	Counts     map[string]float64  `json:"counts"`
	Rates      map[string]*float64 `json:"rates"`       // "lead_mql": share of leads that reached mql
	MedianDays map[string]*float64 `json:"median_days"` // "lead_mql": median days from lead to mql
	Stalled    map[string]float64  `json:"stalled"`     // furthest stage reached over StallAfter ago
}

// Lifecycle is the lifecycle report.
type Lifecycle struct {
	Site           string            `json:"site"`
	Model          string            `json:"model"`
	By             string            `json:"by"`
	From           string            `json:"from"`
	To             string            `json:"to"`
	Filters        map[string]string `json:"filters"`
	StallAfterDays int               `json:"stall_after_days"`
	Stages         []string          `json:"stages"`
	Rows           []LifecycleRow    `json:"rows"`
	Totals         LifecycleRow      `json:"totals"`
}

// Lifecycle follows the leads that occurred in the range through the stages, each lead
// under the keys of the touches the model credits, with that credit: the same leads, under
// the same keys, as the source report of the model counts ("(no touchpoint)" included),
// so both reports agree. A person with several leads in the range counts once per lead
// in the lead stage; the later stages count people, each once, under the keys of their
// first lead in the range. A stage counts when the person reached it at any time (stages
// may be skipped: a customer without an sql record still counts as customer). Filters
// keep the credited touches that match them and the leads of the lead type.
func (s *Store) Lifecycle(ctx context.Context, p Params, now time.Time) (*Lifecycle, error) {
	cond, condArgs := p.Filter.attributions()
	typeCond, typeArgs := p.Filter.leadType()
	// Filters apply after FINAL: a touch that lost its credit is rewritten without its
	// dimensions.
	leads := chstore.CurrentPerson(s.DB, fmt.Sprintf(`SELECT person_id, conversion_id, occurred_at, %s AS k, credit FROM (
			SELECT * FROM %s.attributions FINAL
			WHERE site_id = ? AND model = ? AND conversion_type = 'lead' AND occurred_at >= ? AND occurred_at < ?)
		WHERE removed = 0%s%s`, p.By.attribution, s.DB, cond, typeCond))
	stages := chstore.CurrentPerson(s.DB, fmt.Sprintf(`SELECT person_id, type, occurred_at FROM %s.conversions FINAL
		WHERE site_id = ? AND is_bot = 0 AND type IN ('mql', 'sal', 'sql', 'opportunity', 'customer')`, s.DB))
	q := fmt.Sprintf(`SELECT k, person, conversion_id, credit, lead_at, at_mql, at_sal, at_sql, at_opportunity, at_customer FROM (
			SELECT k, person, conversion_id, sum(credit) AS credit, min(occurred_at) AS lead_at FROM (%s)
			GROUP BY k, person, conversion_id
		) AS leads ANY LEFT JOIN (
			SELECT person,
				minIf(occurred_at, type = 'mql') AS at_mql, minIf(occurred_at, type = 'sal') AS at_sal,
				minIf(occurred_at, type = 'sql') AS at_sql, minIf(occurred_at, type = 'opportunity') AS at_opportunity,
				minIf(occurred_at, type = 'customer') AS at_customer
			FROM (%s) GROUP BY person
		) AS stages USING person`, leads, stages)
	args := append(append(append([]any{p.Site, p.Site, p.Model, p.From, p.end()}, condArgs...), typeArgs...), p.Site, p.Site)
	type lead struct {
		key, id string
		credit  float64
		t       [6]time.Time
	}
	byPerson := map[string][]lead{}
	err := s.each(ctx, q, args, func(sc scanner) error {
		var l lead
		var person string
		if err := sc.Scan(&l.key, &person, &l.id, &l.credit, &l.t[0], &l.t[1], &l.t[2], &l.t[3], &l.t[4], &l.t[5]); err != nil {
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
	total := &stageAgg{}
	for _, ls := range byPerson {
		sort.Slice(ls, func(i, j int) bool {
			if !ls[i].t[0].Equal(ls[j].t[0]) {
				return ls[i].t[0].Before(ls[j].t[0])
			}
			if ls[i].id != ls[j].id {
				return ls[i].id < ls[j].id
			}
			return ls[i].key < ls[j].key
		})
		first := ls[0].id // the person's first lead in the range carries their stages
		var carried float64
		for _, l := range ls {
			a := agg[l.key]
			if a == nil {
				a = &stageAgg{}
				agg[l.key] = a
			}
			if l.id == first {
				a.add(l.t, now, l.credit)
				carried += l.credit
			} else {
				a.counts[0] += l.credit
				total.counts[0] += l.credit
			}
		}
		total.add(ls[0].t, now, carried)
	}
	out := &Lifecycle{Site: p.Site, Model: p.Model, By: p.By.Name, From: day(p.From), To: day(p.To), Filters: p.Filter.Values(),
		StallAfterDays: int(StallAfter / (24 * time.Hour)), Stages: Stages, Rows: []LifecycleRow{}}
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
	counts  [6]float64
	stalled [6]float64
	days    [5][]float64 // between stage i and i+1, once per person
}

// reached is false for the zero DateTime ClickHouse returns when minIf matched nothing.
func reached(t time.Time) bool { return t.Unix() > 0 }

// add counts a person's stages t with the weight w, the credit of their lead.
func (a *stageAgg) add(t [6]time.Time, now time.Time, w float64) {
	furthest := -1
	for i := range t {
		if reached(t[i]) {
			a.counts[i] += w
			furthest = i
		}
	}
	for i := 0; i+1 < len(t); i++ {
		if reached(t[i]) && reached(t[i+1]) && !t[i+1].Before(t[i]) {
			a.days[i] = append(a.days[i], t[i+1].Sub(t[i]).Hours()/24)
		}
	}
	if furthest >= 0 && furthest < len(t)-1 && now.Sub(t[furthest]) > StallAfter {
		a.stalled[furthest] += w
	}
}

func (a *stageAgg) row(key string) LifecycleRow {
	r := LifecycleRow{Key: key, Counts: map[string]float64{}, Rates: map[string]*float64{}, MedianDays: map[string]*float64{}, Stalled: map[string]float64{}}
	for i, st := range Stages {
		r.Counts[st] = credit6(a.counts[i])
		r.Stalled[st] = credit6(a.stalled[i])
		if i+1 < len(Stages) {
			name := st + "_" + Stages[i+1]
			if credit6(a.counts[i]) > 0 {
				v := credit6(a.counts[i+1] / a.counts[i])
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
