package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"touchpoint/attribution/model"
	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
	"touchpoint/scoring/rules"
)

// LeadOrders are the orders of the lead list.
var LeadOrders = []string{"newest", "score"}

// LeadTouch is the touch a single-touch model credits with a lead.
type LeadTouch struct {
	At          time.Time `json:"at"`
	Channel     string    `json:"channel"`
	Source      string    `json:"source"`
	Medium      string    `json:"medium"`
	Campaign    string    `json:"campaign"`
	Term        string    `json:"term"`
	LandingPage string    `json:"landing_page"`
}

// Lead is one lead of the lead list.
type Lead struct {
	ConversionID string    `json:"conversion_id"`
	OccurredAt   time.Time `json:"occurred_at"`
	LeadType     string    `json:"lead_type"`
	PersonID     string    `json:"person_id"`
	// Stage is the furthest lifecycle stage the person reached (lead at least).
	Stage string `json:"stage"`
	// Touches is how many touches the lead's lookback window holds (0: none).
	Touches    int        `json:"touches"`
	FirstTouch *LeadTouch `json:"first_touch"` // null while the lead is not yet attributed
	LastTouch  *LeadTouch `json:"last_touch"`
	// Score is the person's lead score; null while the site has no lead scoring.
	Score *float64 `json:"score"`
	// Reasons are the parts of the score, adding up to it (empty without a score).
	Reasons []rules.Reason `json:"reasons"`
}

// Leads is a page of the lead list.
type Leads struct {
	Site    string            `json:"site"`
	From    string            `json:"from"`
	To      string            `json:"to"`
	Model   string            `json:"model"`
	Order   string            `json:"order"`
	Scored  bool              `json:"scored"` // whether the site's leads have scores
	Filters map[string]string `json:"filters"`
	Total   uint64            `json:"total"` // leads matching, on all pages
	Offset  int               `json:"offset"`
	Limit   int               `json:"limit"`
	Leads   []Lead            `json:"leads"`
}

// LeadQuery is what the lead list shows.
type LeadQuery struct {
	Params
	Order         string
	Offset, Limit int
	// Scored says whether the site scores leads; Stages are its lifecycle stages.
	Scored bool
	Stages []string
}

// ParseLeadQuery reads order (newest by default), offset and limit (50, at most 500)
// next to the report parameters.
func ParseLeadQuery(q url.Values, now time.Time) (LeadQuery, error) {
	p, err := ParseParams(q, now)
	lq := LeadQuery{Params: p, Order: q.Get("order"), Limit: 50}
	if err != nil {
		return lq, err
	}
	if lq.Order == "" {
		lq.Order = "newest"
	}
	if !oneOf(lq.Order, LeadOrders) {
		return lq, fmt.Errorf("unknown order %q (newest or score)", lq.Order)
	}
	for _, x := range []struct {
		name     string
		into     *int
		min, max int
	}{{"offset", &lq.Offset, 0, 1 << 30}, {"limit", &lq.Limit, 1, 500}} {
		v := q.Get(x.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < x.min || n > x.max {
			return lq, fmt.Errorf("%s is a whole number from %d to %d", x.name, x.min, x.max)
		}
		*x.into = n
	}
	return lq, nil
}

// Leads lists the leads that occurred in the range, newest first, with the touches first
// and last click credit and the furthest stage each person reached. With dimension
// filters it lists the leads the model credits to a touch that matches them: the leads
// behind a row of the source report. Ordered by score, the best scored come first (a
// person without points scores 0); until the site scores leads, the newest come first.
func (s *Store) Leads(ctx context.Context, lq LeadQuery) (*Leads, error) {
	p := lq.Params
	out := &Leads{Site: p.Site, From: day(p.From), To: day(p.To), Model: p.Model, Order: lq.Order, Filters: p.Filter.Values(),
		Offset: lq.Offset, Limit: lq.Limit, Leads: []Lead{}, Scored: lq.Scored}
	if lq.Stages == nil {
		lq.Stages = site.DefaultStages
	}
	// A bot's lead is not listed, as no report counts it.
	leads := fmt.Sprintf(`SELECT conversion_id, type, lead_type, occurred_at, person_id
		FROM %s.conversions FINAL WHERE site_id = ? AND is_bot = 0`, s.DB)
	// Filters apply after FINAL: a corrected conversion may no longer be a lead, or of
	// another type or date.
	where := "type = 'lead' AND occurred_at >= ? AND occurred_at < ?"
	whereArgs := []any{p.From, p.end()}
	typeCond, typeArgs := p.Filter.leadType()
	where += typeCond
	whereArgs = append(whereArgs, typeArgs...)
	if len(p.Filter.Dims) > 0 {
		matching, matchingArgs := s.leadsCreditedTo(p)
		where += " AND cityHash64(conversion_id) IN (" + matching + ")"
		whereArgs = append(whereArgs, matchingArgs...)
	}
	// The leads' persons are resolved through their aliases only where the list needs
	// them: newest first, the page is found first and only its persons are resolved; by
	// score, the person of every lead of the range is. Resolving every lead's person took
	// 0.65-0.85 s over a million conversions with a million aliases, finding the page 0.15 s.
	var total pageTotal
	var err error
	byScore := lq.Order == "score" && lq.Scored
	if byScore {
		err = s.leadsByScore(ctx, lq, leads, where, whereArgs, &total, out)
	} else {
		err = s.newestLeads(ctx, lq, leads, where, whereArgs, &total, out)
	}
	if err == nil && !total.covers(lq.Offset, len(out.Leads)) {
		count := fmt.Sprintf(`SELECT count() FROM (%s) WHERE %s`, leads, where)
		err = s.Conn.QueryRow(ctx, count, append([]any{p.Site}, whereArgs...)...).Scan(&total.rows)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list leads: %w", err)
	}
	out.Total = total.rows
	if len(out.Leads) == 0 {
		return out, nil
	}
	// The touches need the conversions alone, the scores and stages the resolved persons:
	// the newest-first page's persons are resolved beside the touches.
	err = parallel(func() error { return s.leadTouches(ctx, p.Site, out.Leads) }, func() error {
		if !byScore {
			if err := s.resolvePage(ctx, p.Site, out.Leads); err != nil {
				return err
			}
		}
		return parallel(func() error { return s.setScores(ctx, lq, out.Leads) },
			func() error { return s.leadStages(ctx, p.Site, lq.Stages, out.Leads) })
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// leadsCreditedTo is the query of the 64-bit hashes (cityHash64) of the conversion ids of
// the leads in p's range whose current credit under p's model has a touch that meets p's
// filter: the highest version among a lead's touch_credits rows (its latest computation)
// must be that of such a touch. The leads' rows are grouped once for it. Looking each
// matching row's computation up among the latest ones (latestCredit) took a third longer
// over 200 days of a million conversions (0.8-1.0 s against 0.6 s for a channel, 0.45-0.55
// against 0.35 over 30 days). Two leads would be judged together only if their ids shared
// a hash.
func (s *Store) leadsCreditedTo(p Params) (string, []any) {
	cond, condArgs := p.Filter.attributions()
	q := fmt.Sprintf(`SELECT cityHash64(conversion_id) AS h FROM %s.touch_credits PREWHERE conversion_type = 'lead'
		WHERE site_id = ? AND occurred_at >= ? AND occurred_at < ?
		GROUP BY h HAVING maxIf(version, removed = 0 AND %s > 0%s) = max(version)`, s.DB, model.CreditColumn(p.Model), cond)
	return q, append([]any{p.Site, p.From, p.end()}, condArgs...)
}

// pageTotal is how many rows a page's query sorted before its LIMIT, as ClickHouse tells
// with its result (rows_before_limit): all rows that match, as every one is sorted. The
// lead list's total comes with its page so: a count of its own read the site's
// conversions FINAL a second time beside the page, and with a filter the credited leads
// too (over 200 days filtered on a channel, 0.75 s of ClickHouse's time each; over the
// last 30 days unfiltered, 0.09 s beside the page's 0.15 s).
// The page's ORDER BY … LIMIT must stay the outer query's, over a subquery of the
// conversions: on a cluster a LIMIT on the Distributed table itself stops each shard at
// the page's end, and the number is then only a lower bound.
type pageTotal struct {
	rows  uint64
	known bool
}

// counting is ctx for a page's query, whose total it records.
func (t *pageTotal) counting(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithProfileInfo(func(p *clickhouse.ProfileInfo) {
		if p.CalculatedRowsBeforeLimit || p.AppliedLimit {
			t.rows, t.known = p.RowsBeforeLimit, true
		}
	}))
}

// covers reports whether the total is known and holds a page of n rows at offset; when
// not (a server that did not tell), the caller counts.
func (t *pageTotal) covers(offset, n int) bool {
	return t.known && t.rows >= uint64(offset+n)
}

// newestOrder orders the lead list newest first, then by conversion id.
const newestOrder = "occurred_at DESC, conversion_id"

// scoresOf is the query of a site's current lead scores by the hash of their person
// (chstore.PersonHash, as person_hash), from lead_scores in database %s (its argument),
// by which the list orders its leads. A person without a row has no points: 0 once the
// site scores leads. The listed leads' reasons are read for them alone (setScores).
// FINAL merges the table's versions as it reads them in the order of its key: grouping
// them by person took four times as long (0.35-0.4 s for a million people). Joined by a
// number rather than by the person's id, and with only the range's leads resolved, the
// list took a quarter less time on a site with a million scored people (0.86-1.05 s
// against 1.1-1.47 s, over 30 and 200 days); two people would share a score only if their
// ids shared a hash.
const scoresOf = `SELECT cityHash64(person_id) AS person_hash, score FROM %s.lead_scores FINAL WHERE site_id = ? AND deleted = 0`

// leadsByScore lists the page of leads (rows of the site's leads that meet where), best
// scored first, with their persons resolved; setScores gives them their scores.
func (s *Store) leadsByScore(ctx context.Context, lq LeadQuery, leads, where string, whereArgs []any, total *pageTotal, out *Leads) error {
	// The leads are picked before their persons are resolved: only theirs are looked up.
	picked := fmt.Sprintf("SELECT * FROM (%s) WHERE %s", leads, where)
	resolved, args := chstore.CurrentPerson(s.DB, lq.Site, picked, append([]any{lq.Site}, whereArgs...)...)
	q := fmt.Sprintf(`SELECT conversion_id, occurred_at, lead_type, person FROM (
			SELECT conversion_id, occurred_at, lead_type, person, %s AS person_hash FROM (%s)
		) AS leads ANY LEFT JOIN (%s) AS scores USING person_hash
		ORDER BY score DESC, %s LIMIT ?, ?`, chstore.PersonHash, resolved, fmt.Sprintf(scoresOf, s.DB), newestOrder)
	return s.each(total.counting(ctx), q, append(args, lq.Site, lq.Offset, lq.Limit), func(sc scanner) error {
		var l Lead
		if err := sc.Scan(&l.ConversionID, &l.OccurredAt, &l.LeadType, &l.PersonID); err != nil {
			return err
		}
		out.Leads = append(out.Leads, l)
		return nil
	})
}

// newestLeads lists the page of leads (rows of the site's leads that meet where), newest
// first, with their persons as stored: resolvePage resolves them.
func (s *Store) newestLeads(ctx context.Context, lq LeadQuery, leads, where string, whereArgs []any, total *pageTotal, out *Leads) error {
	q := fmt.Sprintf(`SELECT conversion_id, occurred_at, lead_type, person_id FROM (%s) WHERE %s ORDER BY %s LIMIT ?, ?`,
		leads, where, newestOrder)
	return s.each(total.counting(ctx), q, append(append([]any{lq.Site}, whereArgs...), lq.Offset, lq.Limit), func(sc scanner) error {
		var l Lead
		if err := sc.Scan(&l.ConversionID, &l.OccurredAt, &l.LeadType, &l.PersonID); err != nil {
			return err
		}
		out.Leads = append(out.Leads, l)
		return nil
	})
}

// resolvePage resolves the persons of a page of leads through their aliases.
func (s *Store) resolvePage(ctx context.Context, site string, page []Lead) error {
	var ids []string
	for i := range page { // by field: leadTouches may fill others meanwhile
		ids = append(ids, page[i].PersonID)
	}
	current := map[string]string{} // by stored id
	resolved, args := chstore.CurrentPersonOfFew(s.DB, site, "SELECT arrayJoin(?) AS person_id", ids)
	err := s.each(ctx, "SELECT person_id, person FROM ("+resolved+")", args, func(sc scanner) error {
		var id, person string
		if err := sc.Scan(&id, &person); err != nil {
			return err
		}
		current[id] = person
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot resolve the leads' persons: %w", err)
	}
	for i := range page {
		page[i].PersonID = current[page[i].PersonID]
	}
	return nil
}

// setScores sets the score of each lead of a page from its (resolved) person's; it sets
// those fields alone: leadTouches and leadStages fill others meanwhile. Only the page's
// persons' scores are read, by the table's key: reading every person's took 0.9-1.0 s
// and half a gigabyte of memory on a site with a million scored people.
func (s *Store) setScores(ctx context.Context, lq LeadQuery, page []Lead) error {
	type score struct {
		score   float64
		reasons string
	}
	scores := map[string]score{} // by person with a score
	if lq.Scored {
		var persons []string
		for i := range page {
			persons = append(persons, page[i].PersonID)
		}
		q := fmt.Sprintf(`SELECT person_id, score, reasons FROM %s.lead_scores FINAL WHERE site_id = ? AND %s AND deleted = 0`,
			s.DB, chstore.InList("person_id"))
		err := s.each(ctx, q, []any{lq.Site, persons}, func(sc scanner) error {
			var person string
			var x score
			if err := sc.Scan(&person, &x.score, &x.reasons); err != nil {
				return err
			}
			scores[person] = x
			return nil
		})
		if err != nil {
			return fmt.Errorf("cannot read the leads' scores: %w", err)
		}
	}
	for i := range page {
		l := &page[i]
		l.Reasons = []rules.Reason{}
		if lq.Scored {
			x, scored := scores[l.PersonID]
			l.Score = &x.score
			if scored && json.Unmarshal([]byte(x.reasons), &l.Reasons) != nil {
				l.Reasons = []rules.Reason{}
			}
		}
	}
	return nil
}

// leadTouches fills in the first and last touch of leads and their number of touches
// (the linear model credits each once).
func (s *Store) leadTouches(ctx context.Context, site string, leads []Lead) error {
	at := map[string]*Lead{}
	ids := make([]string, len(leads))
	times := make([]time.Time, len(leads))
	for i := range leads {
		at[leads[i].ConversionID] = &leads[i]
		ids[i], times[i] = leads[i].ConversionID, leads[i].OccurredAt
	}
	// The credit of a conversion is at its time (touch_credits is partitioned by month of
	// it): naming the times picks the leads' months and days. By id alone, each month's
	// granules of the ids were read, 2.4 million rows and 2.1 s over a million conversions.
	// The current rows are those of each lead's latest computation (latestRows),
	// found in touch_credit_versions by its key, the times: FINAL over the granules read
	// took 0.2 s, this 0.04 s. A lead whose time was corrected gets its touches once its
	// credit is computed again.
	picked := "site_id = ? AND " + chstore.InList("occurred_at") + " AND " + chstore.InList("conversion_id")
	q := fmt.Sprintf(`SELECT conversion_id, %s, %s, %s, touch_at, channel, source, medium, campaign, term, landing_page
		FROM %s.touch_credits WHERE %s AND removed = 0 AND %s`,
		model.CreditColumn(model.FirstClick), model.CreditColumn(model.LastClick), model.CreditColumn(model.Linear), s.DB, picked,
		latestRows(s.DB, picked))
	err := s.each(ctx, q, []any{site, times, ids, site, times, ids}, func(sc scanner) error {
		var id string
		var first, last, linear float64
		var t LeadTouch
		if err := sc.Scan(&id, &first, &last, &linear, &t.At, &t.Channel, &t.Source, &t.Medium, &t.Campaign, &t.Term,
			&t.LandingPage); err != nil {
			return err
		}
		l := at[id]
		if first > 0 {
			f := t
			l.FirstTouch = &f
		}
		if last > 0 {
			l.LastTouch = &t
		}
		if linear > 0 && t.Channel != model.NoTouchpoint {
			l.Touches++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot read the leads' touches: %w", err)
	}
	return nil
}

// leadStages fills in the furthest of stages each lead's person reached (lead at least).
func (s *Store) leadStages(ctx context.Context, site string, stages []string, leads []Lead) error {
	var persons []string
	for i := range leads { // by field: leadTouches and setScores fill others meanwhile
		persons = append(persons, leads[i].PersonID)
	}
	// The persons' conversions are picked under their ids (chstore.IDsOf,
	// chstore.ConversionsUnder); a current version whose id is not one of them is
	// someone else's.
	// Picking conversions by their stored person ids (a column without an index) and
	// resolving them through every alias of the site took 0.5 s over a million
	// conversions with a million aliases.
	owner, err := chstore.IDsOf(ctx, s.Conn, s.DB, site, persons)
	if err != nil {
		return err
	}
	types := map[string][]string{} // by person
	err = chstore.EachChunk(slices.Collect(maps.Keys(owner)), chstore.MaxListLen, func(ids []string) error {
		q := fmt.Sprintf(`SELECT person_id, groupUniqArray(type) FROM %s.conversions FINAL PREWHERE %s
			WHERE site_id = ? AND has(?, type)
			GROUP BY person_id`, s.DB, chstore.ConversionsUnder(s.DB, chstore.InList("person_id")))
		return s.each(ctx, q, []any{site, ids, site, stages[1:]}, func(sc scanner) error {
			var id string
			var ts []string
			if err := sc.Scan(&id, &ts); err != nil {
				return err
			}
			if p, ok := owner[id]; ok {
				types[p] = append(types[p], ts...)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("cannot read the leads' stages: %w", err)
	}
	for i := range leads {
		ts := types[leads[i].PersonID]
		leads[i].Stage = "lead"
		for j := len(stages) - 1; j > 0; j-- {
			if oneOf(stages[j], ts) {
				leads[i].Stage = stages[j]
				break
			}
		}
	}
	return nil
}
