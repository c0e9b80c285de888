// Package reports answers the reports API from ClickHouse: the source report and its
// series over time, the lifecycle report, the lead list, a lead's journey, ad cost and
// exchange rate imports and the webhook delivery log. Every value is a bound parameter;
// the only SQL fragments chosen from input are the group-by and filter columns and the
// series' bucket function, taken from fixed maps.
package reports

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/attribution/model"
)

// Keys of the source report that are no value of the dimension.
const (
	// NoneKey is the row of sessions and credit whose dimension is empty (no campaign, no
	// keyword).
	NoneKey = "(none)"
	// UnallocatedKey is the row of ad cost the grouping cannot place: keyword cost while
	// grouped by landing page, a campaign's cost beyond its keywords while grouped by
	// keyword. With it the cost total is the same for every grouping.
	UnallocatedKey = "(unallocated cost)"
)

// LeadsByType splits attributed leads by how they came in.
type LeadsByType struct {
	Form  float64 `json:"form"`
	Call  float64 `json:"call"`
	Chat  float64 `json:"chat"`
	Other float64 `json:"other"`
}

// Figures are the numbers of one row of the source report, or of its totals. Money is in
// the report's currency, rounded to cents; credit sums and ratios have six decimals.
type Figures struct {
	Visitors    uint64        `json:"visitors"`
	Sessions    uint64        `json:"sessions"`
	Leads       float64       `json:"leads"`
	LeadsByType LeadsByType   `json:"leads_by_type"`
	CallClicks  uint64        `json:"call_clicks"` // clicks on tel: links: the intent to call, no lead
	Sales       float64       `json:"sales"`
	Revenue     float64       `json:"revenue"`
	Cost        float64       `json:"cost"`
	Clicks      uint64        `json:"clicks"`
	Impressions uint64        `json:"impressions"`
	CostPerLead *float64      `json:"cost_per_lead"` // cost / leads; null without cost or leads
	CostPerSale *float64      `json:"cost_per_sale"` // cost / sales; null without cost or sales
	ROAS        *float64      `json:"roas"`          // revenue / cost
	ROI         *float64      `json:"roi"`           // (revenue − cost) / cost
	Unconverted []Unconverted `json:"unconverted"`   // amounts without an exchange rate
}

// SourceRow is one line of the source report.
type SourceRow struct {
	Key string `json:"key"`
	Figures
}

// Sources is the source report.
type Sources struct {
	Site     string `json:"site"`
	Model    string `json:"model"`
	By       string `json:"by"`
	From     string `json:"from"`
	To       string `json:"to"`
	Currency string `json:"currency"` // of every money field
	// Filters echoes the report's filters (parameter: value).
	Filters map[string]string `json:"filters"`
	// CostIncluded is false when a filter is on a dimension ad costs do not carry
	// (landing page, country, device): cost, clicks and impressions are then left out.
	CostIncluded bool        `json:"cost_included"`
	Rows         []SourceRow `json:"rows"`
	Totals       Figures     `json:"totals"`
}

// Store runs report queries on one ClickHouse database.
type Store struct {
	Conn driver.Conn
	DB   string
}

// tally collects one row's figures before they are rounded.
type tally struct {
	visitors, sessions  uint64
	leads               float64
	byType              LeadsByType
	sales               float64
	revenue, cost       money
	clicks, impressions uint64
	callClicks          uint64
}

func (l *LeadsByType) add(o LeadsByType) {
	l.Form += o.Form
	l.Call += o.Call
	l.Chat += o.Chat
	l.Other += o.Other
}

func (t *tally) addCredit(c *creditPart, book *rateBook) {
	t.leads += c.leads
	t.byType.add(c.byType)
	t.sales += c.sales
	t.revenue.add(c.revenue, c.currency, c.day, book)
}

func (t *tally) addCost(c *costPart, book *rateBook) {
	t.cost.add(c.cost, c.currency, c.day, book)
	t.clicks += c.clicks
	t.impressions += c.impressions
}

func (t *tally) plus(o *tally) {
	t.sessions += o.sessions
	t.leads += o.leads
	t.byType.add(o.byType)
	t.sales += o.sales
	t.revenue.plus(o.revenue)
	t.cost.plus(o.cost)
	t.clicks += o.clicks
	t.impressions += o.impressions
	t.callClicks += o.callClicks
}

// figures rounds the tally. Ratios that would need an unconverted amount are null.
func (t *tally) figures() Figures {
	f := Figures{Visitors: t.visitors, Sessions: t.sessions, Leads: credit6(t.leads), Sales: credit6(t.sales),
		LeadsByType: LeadsByType{credit6(t.byType.Form), credit6(t.byType.Call), credit6(t.byType.Chat), credit6(t.byType.Other)},
		Revenue:     cents(t.revenue.sum), Cost: cents(t.cost.sum), Clicks: t.clicks, Impressions: t.impressions, CallClicks: t.callClicks,
		Unconverted: unconverted(t.revenue, t.cost)}
	// Ratios are of the rounded figures shown beside them, so that dividing those gives
	// them. (Of the unrounded sums, a ratio on a half cent went either way with the order
	// in which they were added up.) Without cost there is no ratio (rather than a
	// misleading 0).
	costOK, bothOK := t.cost.whole() && f.Cost > 0, t.cost.whole() && t.revenue.whole()
	f.CostPerLead = ratio(f.Cost, f.Leads, costOK, cents)
	f.CostPerSale = ratio(f.Cost, f.Sales, costOK, cents)
	f.ROAS = ratio(f.Revenue, f.Cost, bothOK, credit6)
	f.ROI = ratio(f.Revenue-f.Cost, f.Cost, bothOK, credit6)
	return f
}

// Sources computes the source report: traffic from sessions started in the range, leads,
// sales and revenue as the model's credit for conversions that occurred in the range,
// cost, clicks and impressions from ad_costs. Leads and sales are fractional for
// multi-touch models. Revenue and cost in other currencies are converted into
// p.Currency with the rate of their day. Filters narrow the sessions and credited
// touches; a filter on a dimension ad costs do not carry leaves cost out.
func (s *Store) Sources(ctx context.Context, p Params) (*Sources, error) {
	out := &Sources{Site: p.Site, Model: p.Model, By: p.By.Name, From: day(p.From), To: day(p.To), Currency: p.Currency,
		Filters: p.Filter.Values(), CostIncluded: !p.Filter.costless(), Rows: []SourceRow{}}
	ds, of, err := s.dayStates(ctx, p, byDimension(p.By))
	if err != nil {
		return nil, err
	}
	rows, visitors, err := s.collect(ctx, p, ds, of)
	if err != nil {
		return nil, err
	}
	var total tally
	for k, r := range rows {
		total.plus(r)
		f := r.figures()
		if k == UnallocatedKey { // its leads and revenue are in the other rows: no ratio means anything
			f.CostPerLead, f.CostPerSale, f.ROAS, f.ROI = nil, nil, nil, nil
		}
		out.Rows = append(out.Rows, SourceRow{Key: k, Figures: f})
	}
	total.visitors = visitors
	out.Totals = total.figures()
	sort.Slice(out.Rows, func(i, j int) bool {
		a, b := out.Rows[i], out.Rows[j]
		if (a.Key == UnallocatedKey) != (b.Key == UnallocatedKey) {
			return b.Key == UnallocatedKey
		}
		if a.Leads != b.Leads {
			return a.Leads > b.Leads
		}
		if a.Sessions != b.Sessions {
			return a.Sessions > b.Sessions
		}
		return a.Key < b.Key
	})
	return out, nil
}

// visitors reads the source report's visitors alone: of each key of p.By, and of all
// keys together.
func (s *Store) visitors(ctx context.Context, p Params) (map[string]uint64, uint64, error) {
	ds, of, err := s.dayStates(ctx, p, byDimension(p.By))
	if err != nil {
		return nil, 0, err
	}
	rows := map[string]*tally{}
	total, err := s.readTraffic(ctx, p, ds, of, rows)
	byKey := make(map[string]uint64, len(rows))
	for k, r := range rows {
		byKey[k] = r.visitors
	}
	return byKey, total, err
}

// expr is an SQL expression and the values bound to its placeholders, in order.
type expr struct {
	sql  string
	args []any
}

// rowsOf says what the rows of a report are: the key of each rollup, session,
// touch_credits and ad cost row.
type rowsOf struct {
	dim                                string // the rollups' dimension whose rows are read
	rollup, session, attribution, cost expr   // cost.sql is "" when the rows cannot place cost
	keyword                            bool   // keyword rows of cost are placed by their term
	named                              bool   // keys are a dimension's values, the empty one NoneKey; the expressions bind nothing
	total                              bool   // the visitors of all keys together are wanted too
	// parent, when set, is an SQL expression of a key (k) naming a group of keys whose
	// visitors are wanted too, as rows of their own: the period of a series' bucket.
	parent string
	series *seriesOf // the buckets, when the rows are a series'
}

// byDimension are the rows of the source report grouped by g.
func byDimension(g GroupBy) rowsOf {
	return rowsOf{dim: g.Name, rollup: expr{sql: "key"}, session: expr{sql: g.session}, attribution: expr{sql: g.attribution},
		cost: expr{sql: g.cost}, keyword: g.keyword, named: true, total: true}
}

// dayStates reads which days of the range have current rollups, and which rollup rows
// answer the report (rollupFor); a report whose filters no rollup rows answer reads
// every day from sessions and touch_credits.
func (s *Store) dayStates(ctx context.Context, p Params, of rowsOf) (dayStates, rowsOf, error) {
	ds, err := s.days(ctx, p.Site, day(p.From), day(p.To))
	of, ok := of.rollupFor(p.Filter)
	if err != nil || ok {
		return ds, of, err
	}
	all := append(append([]string{}, ds.built...), ds.stale...)
	sort.Strings(all)
	return dayStates{stale: all}, of, nil
}

// rollupFor says which rollup rows answer a report of these rows under f: those of
// of.dim when every filter is on it; else, when of.dim and the filters are drilled
// dimensions, the drill-down rows; else, when they hold one dimension outside the
// drill-down (landing page, country, device), that dimension's rows, which carry the
// drill-down's values. ok is false when none do.
func (of rowsOf) rollupFor(f Filter) (_ rowsOf, ok bool) {
	if f.only(of.dim) {
		return of, true
	}
	dims, outside := []string{of.dim}, ""
	for _, d := range f.Dims {
		dims = append(dims, d.By.Name)
	}
	for _, dim := range dims {
		switch {
		case drilled(dim) || dim == outside:
		case outside == "":
			outside = dim
		default:
			return of, false // two dimensions outside the drill-down
		}
	}
	if of.named && of.dim != outside {
		// Keys are of.dim's values: a drill-down column, which is named as in sessions.
		of.rollup = of.session
	}
	of.dim = cmp.Or(outside, drilldown)
	return of, true
}

// rollupFilter is the condition f gives on the rollup rows of of.dim: on the key for
// of.dim's own values, on the drill-down columns (named as in sessions) for the others.
func (of rowsOf) rollupFilter(f Filter) (string, []any) {
	return f.where(func(g GroupBy) string {
		if g.Name == of.dim {
			return "key"
		}
		return g.session
	})
}

// collect reads the figures of each key of the report's rows, (unallocated cost)
// included, and the visitors of all keys together.
func (s *Store) collect(ctx context.Context, p Params, ds dayStates, of rowsOf) (map[string]*tally, uint64, error) {
	var (
		rows     = map[string]*tally{}
		visitors uint64 // of all keys together
		credits  []creditPart
		costs    costParts
		rates    []Rate
		calls    map[string]uint64
	)
	readTraffic := func() (err error) {
		visitors, err = s.readTraffic(ctx, p, ds, of, rows)
		return err
	}
	readCredit := func() (err error) {
		credits, err = s.readCredit(ctx, p, ds, of)
		return err
	}
	readCost := func() (err error) {
		costs, err = s.readCosts(ctx, p, of)
		return err
	}
	readRates := func() (err error) {
		from, to := rateRange(p.From, p.To)
		rates, err = s.Rates(ctx, p.Site, p.Currency, from, to)
		return err
	}
	readCalls := func() (err error) {
		calls, err = s.readCallClicks(ctx, p, of)
		return err
	}
	if err := parallel(readTraffic, readCredit, readCost, readRates, readCalls); err != nil {
		return nil, 0, err
	}

	book := newRateBook(p.Currency, rates)
	row := func(k string) *tally {
		if of.named {
			k = keyOf(k)
		}
		if rows[k] == nil {
			rows[k] = &tally{}
		}
		return rows[k]
	}
	for i := range credits {
		p.Filter.leads(&credits[i])
		row(credits[i].key).addCredit(&credits[i], book)
	}
	for i := range costs.placed {
		row(costs.placed[i].key).addCost(&costs.placed[i], book)
	}
	for k, n := range calls {
		row(k).callClicks += n
	}
	if rest, ok := costs.unallocated(book); ok {
		rows[UnallocatedKey] = &rest
	}
	return rows, visitors, nil
}

// keyOf is the row key of a dimension value: NoneKey for the empty value.
func keyOf(k string) string {
	if k == "" {
		return NoneKey
	}
	return k
}

// parallel runs fs at the same time and returns the first error.
func parallel(fs ...func() error) error {
	errs := make([]error, len(fs))
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readTraffic adds each key's visitors and sessions to rows and returns the visitors of
// all keys together when of.total asks for them.
func (s *Store) readTraffic(ctx context.Context, p Params, ds dayStates, of rowsOf, rows map[string]*tally) (uint64, error) {
	sel, grouped := visitsFor(of, p.By, p.Filter)
	if ds.readsVisits() {
		switch {
		case of.series != nil && of.dim != drilldown && p.Filter.only(of.dim):
			return 0, s.readSeriesVisits(ctx, p, ds, of, rows)
		case grouped:
			return s.readVisits(ctx, p.Site, ds, of, p.Filter, sel, rows)
		}
	}
	q, args := s.trafficQuery(p.Site, ds, of, p.Filter)
	if q == "" {
		return 0, nil
	}
	if of.total {
		q += " WITH TOTALS" // merging every key's visitors again: as much work as the keys
	}
	res, err := s.Conn.Query(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("cannot read traffic: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var k string
		var v, n uint64
		if err := res.Scan(&k, &v, &n); err != nil {
			return 0, fmt.Errorf("cannot read traffic: %w", err)
		}
		rows[k] = &tally{visitors: v, sessions: n}
	}
	if err := res.Err(); err != nil {
		return 0, fmt.Errorf("cannot read traffic: %w", err)
	}
	if !of.total {
		return 0, nil
	}
	var k string
	var v, n uint64
	if err := res.Totals(&k, &v, &n); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("cannot count visitors: %w", err)
	}
	return v, nil
}

// trafficQuery counts visitors and sessions per key of the rows (for a dimension, the
// empty value as NoneKey): from the rollups for built days, from sessions for the
// others, per day either way so both give the same figures. Sessions are counted exactly
// per day and summed (a session belongs to the day it started); visitors are the distinct
// 64-bit hashes of the visitor ids of each day, counted over the days, so both are the
// exact counts of docs/sql.md (two visitors would have to share a hash: for ten million
// visitors the odds of any such pair are about 1 in 400,000). It is "" when no day has
// data.
func (s *Store) trafficQuery(site string, ds dayStates, of rowsOf, f Filter) (string, []any) {
	named := func(k string) string {
		if of.named {
			return fmt.Sprintf("if(%s = '', '%s', %[1]s)", k, NoneKey)
		}
		return k
	}
	var parts []string
	var args []any
	if len(ds.built) > 0 {
		current, currentArgs := ds.current()
		keyCond, keyArgs := of.rollupFilter(f)
		// PREWHERE: the visitors of the rows that match are all that is read of them. A
		// filtered report read every row's visitors of the granules it touched, four times
		// as long.
		parts = append(parts, fmt.Sprintf(`SELECT %s AS k, visitors AS v, sessions AS n FROM %s.report_traffic
			PREWHERE site_id = ? AND dim = ? AND sessions > 0 AND %s%s`, named(of.rollup.sql), s.DB, current, keyCond))
		args = append(append(append(append(args, of.rollup.args...), site, of.dim), currentArgs...), keyArgs...)
	}
	if len(ds.stale) > 0 {
		live, liveArgs := liveSessions(s.DB, site, ds.stale)
		cond, condArgs := f.sessions()
		parts = append(parts, fmt.Sprintf(`SELECT %s AS k, v, n FROM (
				SELECT %s AS key, toDate(started_at, 'UTC') AS day, groupUniqArray(cityHash64(visitor_id)) AS v, uniqExact(session_id) AS n
				FROM %s.sessions WHERE %s%s
				GROUP BY key, day)`, named("key"), of.session.sql, s.DB, live, cond))
		args = append(append(append(args, of.session.args...), liveArgs...), condArgs...)
	}
	if of.parent == "" || len(parts) == 0 {
		return unionQuery("k", "uniqExactArray(v), sum(n)", parts), args
	}
	// Each key's visitors once merged, then each key's set merged again into its
	// parent's: cheaper than merging the days' sets twice, in two queries.
	keys := unionQuery("k", "uniqExactArrayState(v) AS kv, sum(n) AS kn", parts)
	return fmt.Sprintf(`SELECT pk, uniqExactArrayMerge(kv), sum(kn) FROM (%s) ARRAY JOIN [k, %s] AS pk GROUP BY pk`,
		keys, of.parent), args
}

// creditPart is the credit of one key, and for revenue in another currency than the
// report's, of one day (day is zero otherwise).
type creditPart struct {
	key, currency string
	day           time.Time
	leads, sales  float64
	byType        LeadsByType
	revenue       float64
}

// readCredit sums the model's credit per key of the rows: from the rollups for built
// days, from touch_credits for the others. Revenue in the report's currency (or none) is
// summed over the range; in another currency per day, to be converted with the day's
// rate.
func (s *Store) readCredit(ctx context.Context, p Params, ds dayStates, of rowsOf) ([]creditPart, error) {
	var parts []string
	var args []any
	own := func(column string) string { // the currency column as the query groups it
		return fmt.Sprintf("if(%s IN ('', ?), '', %[1]s)", column)
	}
	if len(ds.built) > 0 {
		current, currentArgs := ds.current()
		keyCond, keyArgs := of.rollupFilter(p.Filter)
		parts = append(parts, fmt.Sprintf(`SELECT %s AS k, %s AS c, if(c = '', toDate(0), day) AS d, leads AS c_leads, leads_form AS c_form,
				leads_call AS c_call, leads_chat AS c_chat, leads_other AS c_other, sales AS c_sales, revenue AS c_revenue
			FROM %s.report_credit
			WHERE site_id = ? AND model = ? AND dim = ? AND %s%s`, of.rollup.sql, own("currency"), s.DB, current, keyCond))
		args = append(append(append(append(args, of.rollup.args...), p.Currency, p.Site, p.Model, of.dim), currentArgs...), keyArgs...)
	}
	if len(ds.stale) > 0 {
		latest, largs := latestCredit(s.DB, p.Site, p.Model, ds.stale, "")
		cond, condArgs := p.Filter.attributions()
		credit := model.CreditColumn(p.Model)
		parts = append(parts, fmt.Sprintf(`SELECT %s AS k, %s AS c, if(c = '', toDate(0), toDate(occurred_at, 'UTC')) AS d, %s
			FROM %s.touch_credits WHERE %s%s GROUP BY k, c, d`, of.attribution.sql, own(revenueCurrency), creditSums(credit, "value * "+credit),
			s.DB, latest, cond))
		args = append(append(append(append(args, of.attribution.args...), p.Currency), largs...), condArgs...)
	}
	q := unionQuery("k, c, d", "sum(c_leads), sum(c_form), sum(c_call), sum(c_chat), sum(c_other), sum(c_sales), sum(c_revenue)", parts)
	if q == "" {
		return nil, nil
	}
	var out []creditPart
	err := s.each(ctx, q, args, func(sc scanner) error {
		var c creditPart
		if err := sc.Scan(&c.key, &c.currency, &c.day, &c.leads, &c.byType.Form, &c.byType.Call, &c.byType.Chat, &c.byType.Other,
			&c.sales, &c.revenue); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read attributed conversions: %w", err)
	}
	return out, nil
}

// unionQuery aggregates the rows of parts by the columns keys; with no parts it is "".
func unionQuery(keys, aggregates string, parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("SELECT %s, %s FROM (%s) GROUP BY %[1]s", keys, aggregates, strings.Join(parts, "\n\t\tUNION ALL\n\t\t"))
}

type scanner interface{ Scan(dest ...any) error }

func (s *Store) each(ctx context.Context, q string, args []any, f func(scanner) error) error {
	rows, err := s.Conn.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// readStrings reads the rows of a query of one String column.
func (s *Store) readStrings(ctx context.Context, q string, args []any) ([]string, error) {
	var out []string
	err := s.each(ctx, q, args, func(sc scanner) error {
		var v string
		if err := sc.Scan(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}
