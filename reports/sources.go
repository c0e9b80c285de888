package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// LeadsByType splits attributed leads by how they came in.
type LeadsByType struct {
	Form  float64 `json:"form"`
	Call  float64 `json:"call"`
	Chat  float64 `json:"chat"`
	Other float64 `json:"other"`
}

// SourceRow is one line of the source report; Totals has Key "".
type SourceRow struct {
	Key         string      `json:"key,omitempty"`
	Visitors    uint64      `json:"visitors"`
	Sessions    uint64      `json:"sessions"`
	Leads       float64     `json:"leads"`
	LeadsByType LeadsByType `json:"leads_by_type"`
	Sales       float64     `json:"sales"`
	Revenue     float64     `json:"revenue"`
	Cost        float64     `json:"cost"`
	ROI         *float64    `json:"roi"` // (revenue − cost) / cost; null without cost
}

// Sources is the source report.
type Sources struct {
	Site   string      `json:"site"`
	Model  string      `json:"model"`
	By     string      `json:"by"`
	From   string      `json:"from"`
	To     string      `json:"to"`
	Rows   []SourceRow `json:"rows"`
	Totals SourceRow   `json:"totals"`
}

// Store runs report queries on one ClickHouse database.
type Store struct {
	Conn driver.Conn
	DB   string
}

// Sources computes the source report: traffic from sessions started in the range, leads,
// sales and revenue as the model's credit for conversions that occurred in the range,
// cost from ad_costs. Leads and sales are fractional for multi-touch models.
func (s *Store) Sources(ctx context.Context, p Params) (*Sources, error) {
	rows := map[string]*SourceRow{}
	var mu sync.Mutex // the queries below run at the same time
	set := func(k string, f func(r *SourceRow)) {
		mu.Lock()
		defer mu.Unlock()
		r := rows[k]
		if r == nil {
			r = &SourceRow{Key: k}
			rows[k] = r
		}
		f(r)
	}
	out := &Sources{Site: p.Site, Model: p.Model, By: p.By.Name, From: day(p.From), To: day(p.To)}

	ds, err := s.days(ctx, p.Site, day(p.From), day(p.To))
	if err != nil {
		return nil, err
	}
	// Traffic per key; its totals row counts the visitors of all keys together.
	readTraffic := func() error {
		q, args := s.trafficQuery(p.Site, ds, p.By)
		rows, err := s.Conn.Query(ctx, q+" WITH TOTALS", args...)
		if err != nil {
			return fmt.Errorf("cannot read traffic: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var v, n uint64
			if err := rows.Scan(&k, &v, &n); err != nil {
				return err
			}
			set(k, func(r *SourceRow) { r.Visitors, r.Sessions = v, n })
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("cannot read traffic: %w", err)
		}
		var k string
		var n uint64
		if err := rows.Totals(&k, &out.Totals.Visitors, &n); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("cannot count visitors: %w", err)
		}
		return nil
	}

	readCredit := func() error {
		q, args := s.creditQuery(p, ds)
		err := s.each(ctx, q, args, func(sc scanner) error {
			var k string
			var c SourceRow
			if err := sc.Scan(&k, &c.Leads, &c.LeadsByType.Form, &c.LeadsByType.Call, &c.LeadsByType.Chat,
				&c.LeadsByType.Other, &c.Sales, &c.Revenue); err != nil {
				return err
			}
			set(k, func(r *SourceRow) {
				r.Leads, r.LeadsByType, r.Sales, r.Revenue = c.Leads, c.LeadsByType, c.Sales, c.Revenue
			})
			return nil
		})
		if err != nil {
			return fmt.Errorf("cannot read attributed conversions: %w", err)
		}
		return nil
	}

	readCost := func() error {
		if p.By.cost == "" {
			return nil
		}
		cost := fmt.Sprintf(`SELECT %s AS k, sum(cost) FROM %s.ad_costs FINAL
			WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?) GROUP BY k`, p.By.cost, s.DB)
		err := s.each(ctx, cost, []any{p.Site, day(p.From), day(p.To)}, func(sc scanner) error {
			var k string
			var c float64
			if err := sc.Scan(&k, &c); err != nil {
				return err
			}
			set(k, func(r *SourceRow) { r.Cost = c })
			return nil
		})
		if err != nil {
			return fmt.Errorf("cannot read ad costs: %w", err)
		}
		return nil
	}

	if err := parallel(readTraffic, readCredit, readCost); err != nil {
		return nil, err
	}

	out.Rows = make([]SourceRow, 0, len(rows))
	for _, r := range rows {
		r.ROI = roi(r.Revenue, r.Cost)
		out.Rows = append(out.Rows, *r)
		t := &out.Totals
		t.Sessions += r.Sessions
		t.Leads += r.Leads
		t.LeadsByType.Form += r.LeadsByType.Form
		t.LeadsByType.Call += r.LeadsByType.Call
		t.LeadsByType.Chat += r.LeadsByType.Chat
		t.LeadsByType.Other += r.LeadsByType.Other
		t.Sales += r.Sales
		t.Revenue += r.Revenue
		t.Cost += r.Cost
	}
	out.Totals.ROI = roi(out.Totals.Revenue, out.Totals.Cost)
	sort.Slice(out.Rows, func(i, j int) bool {
		a, b := out.Rows[i], out.Rows[j]
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

func roi(revenue, cost float64) *float64 {
	if cost <= 0 {
		return nil
	}
	r := (revenue - cost) / cost
	return &r
}

// trafficQuery counts visitors and sessions per value of dimension by: from the rollups
// for built days, from sessions for the others, per day either way so both give the same
// figures. Sessions are summed over days; visitors are merged HyperLogLog states
// (uniqHLL12: exact up to 16, a typical error of about 1.6% above), which is what lets a
// report merge hundreds of days in milliseconds.
func (s *Store) trafficQuery(site string, ds dayStates, by GroupBy) (string, []any) {
	var parts []string
	var args []any
	if len(ds.built) > 0 {
		current, currentArgs := ds.current()
		parts = append(parts, fmt.Sprintf(`SELECT key AS k, visitors AS v, sessions AS n FROM %s.report_traffic
			WHERE site_id = ? AND dim = ? AND %s`, s.DB, current))
		args = append(append(args, site, by.Name), currentArgs...)
	}
	if len(ds.stale) > 0 {
		live, liveArgs := liveSessions(s.DB, site, ds.stale)
		parts = append(parts, fmt.Sprintf(`SELECT k, v, n FROM (
				SELECT %s AS k, toDate(started_at, 'UTC') AS day, uniqHLL12State(visitor_id) AS v, uniq(session_id) AS n
				FROM %s.sessions WHERE %s
				GROUP BY k, day)`, by.session, s.DB, live))
		args = append(args, liveArgs...)
	}
	return unionQuery("uniqHLL12Merge(v), sum(n)", parts), args
}

// creditQuery sums the model's credit per value of the report's dimension: from the
// rollups for built days, from attributions for the others.
func (s *Store) creditQuery(p Params, ds dayStates) (string, []any) {
	var parts []string
	var args []any
	if len(ds.built) > 0 {
		current, currentArgs := ds.current()
		parts = append(parts, fmt.Sprintf(`SELECT key AS k, leads AS c_leads, leads_form AS c_form, leads_call AS c_call,
				leads_chat AS c_chat, leads_other AS c_other, sales AS c_sales, revenue AS c_revenue
			FROM %s.report_credit
			WHERE site_id = ? AND model = ? AND dim = ? AND %s`, s.DB, current))
		args = append(append(args, p.Site, p.Model, p.By.Name), currentArgs...)
	}
	if len(ds.stale) > 0 {
		latest, largs := latestCredit(s.DB, p.Site, p.Model, ds.stale)
		parts = append(parts, fmt.Sprintf(`SELECT %s AS k, %s FROM %s.attributions WHERE %s GROUP BY k`,
			p.By.attribution, creditSums, s.DB, latest))
		args = append(args, largs...)
	}
	return unionQuery("sum(c_leads), sum(c_form), sum(c_call), sum(c_chat), sum(c_other), sum(c_sales), sum(c_revenue)", parts), args
}

// unionQuery aggregates the rows of parts by k; with no parts it selects nothing.
func unionQuery(aggregates string, parts []string) string {
	if len(parts) == 0 {
		return "SELECT '' AS k WHERE 0"
	}
	return fmt.Sprintf("SELECT k, %s FROM (%s) GROUP BY k", aggregates, strings.Join(parts, "\n\t\tUNION ALL\n\t\t"))
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
