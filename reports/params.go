package reports

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"touchpoint/attribution/model"
)

// GroupBy is a dimension of the source report.
type GroupBy struct {
	Name string
	// SQL expressions for the dimension in sessions and touch_credits.
	session, attribution string
	// cost is the ad_costs column a campaign's cost is placed by; "" places keyword rows
	// by term when keyword is set, and no cost otherwise.
	cost    string
	keyword bool
}

// groupBys are the dimensions, also those of the report's daily rollups.
var groupBys = []GroupBy{
	{Name: "channel", session: "channel", attribution: "channel", cost: "channel"},
	{Name: "source", session: "source", attribution: "source", cost: "source"},
	{Name: "campaign", session: "campaign", attribution: "campaign", cost: "campaign"},
	{Name: "keyword", session: "term", attribution: "term", keyword: true},
	{Name: "landing_page", session: "path(landing_url)", attribution: "landing_page"},
	{Name: "country", session: "country", attribution: "country"},
	{Name: "device", session: "device", attribution: "device"},
}

// sessionKeyColumns are the sessions columns that the session expressions of the reports'
// rows (rowsOf) read: the dimensions of groupBys, and started_at for a series.
const sessionKeyColumns = "started_at, channel, source, campaign, term, landing_url, country, device"

// attributionKeyColumns are the touch_credits columns the attribution expressions of
// groupBys read. Queries with FINAL name the columns they need: FINAL reads every column
// it is given, and `SELECT *` gave it all of them.
const attributionKeyColumns = "channel, source, campaign, term, landing_page, country, device"

// GroupByNames lists the dimensions the source report groups by.
func GroupByNames() []string {
	out := make([]string, len(groupBys))
	for i, g := range groupBys {
		out[i] = g.Name
	}
	return out
}

// Params are the common query parameters of the reports.
type Params struct {
	Site     string
	From, To time.Time // dates, To inclusive
	Model    string
	By       GroupBy
	Filter   Filter
	Currency string // the site's reporting currency, which money is shown in
}

// ParseParams reads site, from, to, model, by and the filters, with defaults (last 30
// days, first_click, channel), and explains what is wrong with bad values. Currency is left
// for the caller, who knows the site.
func ParseParams(q url.Values, now time.Time) (Params, error) {
	p := Params{Site: q.Get("site"), Model: q.Get("model")}
	var err error
	if p.Site == "" {
		return p, fmt.Errorf("site is required")
	}
	if p.Model == "" {
		p.Model = model.FirstClick
	}
	if !validModel(p.Model) {
		return p, fmt.Errorf("unknown model %q (one of %v)", p.Model, model.Models)
	}
	by := q.Get("by")
	if by == "" {
		by = "channel"
	}
	g, ok := LookupGroupBy(by)
	if !ok {
		return p, fmt.Errorf("unknown by %q (one of %s)", by, strings.Join(GroupByNames(), ", "))
	}
	p.By = g
	if p.Filter, err = parseFilter(q); err != nil {
		return p, err
	}
	today := now.UTC().Truncate(24 * time.Hour)
	if p.To, err = parseDate(q.Get("to"), today); err != nil {
		return p, fmt.Errorf("to: %w", err)
	}
	if p.From, err = parseDate(q.Get("from"), p.To.AddDate(0, 0, -29)); err != nil {
		return p, fmt.Errorf("from: %w", err)
	}
	if p.From.After(p.To) {
		return p, fmt.Errorf("from %s is after to %s", day(p.From), day(p.To))
	}
	if p.To.Sub(p.From) > 5*366*24*time.Hour {
		return p, fmt.Errorf("a report covers at most five years")
	}
	return p, nil
}

func validModel(m string) bool {
	for _, x := range model.Models {
		if x == m {
			return true
		}
	}
	return false
}

func parseDate(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return t, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return t, nil
}

func day(t time.Time) string { return t.Format("2006-01-02") }

// end is the exclusive upper bound of the date range.
func (p Params) end() time.Time { return p.To.AddDate(0, 0, 1) }

// credited is the condition selecting the touches the model credits now (latestCredit) of
// the conversions that occurred in the range, and meet only when it is not "", and its
// arguments.
func (p Params) credited(db, only string) (string, []any) {
	var days []string
	for d := p.From; !d.After(p.To); d = d.AddDate(0, 0, 1) {
		days = append(days, day(d))
	}
	return latestCredit(db, p.Site, p.Model, days, only)
}

// LookupGroupBy returns the group-by of that name.
func LookupGroupBy(name string) (GroupBy, bool) {
	for _, g := range groupBys {
		if g.Name == name {
			return g, true
		}
	}
	return GroupBy{}, false
}
