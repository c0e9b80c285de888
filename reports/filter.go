package reports

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// LeadTypes are the kinds of lead a report can be narrowed to.
var LeadTypes = []string{"form", "call", "chat", "other"}

// DimFilter keeps the sessions and touches whose dimension has Value (NoneKey: none).
type DimFilter struct {
	By    GroupBy
	Value string
}

// Filter narrows a report: to the sessions and credited touches that match every
// dimension filter (the same touch for all of them), and with LeadType to the leads of
// that type (traffic, sales and revenue are not narrowed by it).
type Filter struct {
	Dims     []DimFilter // at most one per dimension, in the order of groupBys
	LeadType string
}

// parseFilter reads the filters of a query: one parameter per dimension of the source
// report (channel=Paid Search&device=mobile) and lead_type.
func parseFilter(q url.Values) (Filter, error) {
	var f Filter
	for _, g := range groupBys {
		v := q.Get(g.Name)
		if v == "" {
			continue
		}
		if len(v) > 1000 || !utf8.ValidString(v) {
			return f, fmt.Errorf("%s: a filter value is valid UTF-8 of at most 1000 bytes", g.Name)
		}
		f.Dims = append(f.Dims, DimFilter{By: g, Value: v})
	}
	if lt := q.Get("lead_type"); lt != "" {
		if !oneOf(lt, LeadTypes) {
			return f, fmt.Errorf("unknown lead_type %q (one of %s)", lt, strings.Join(LeadTypes, ", "))
		}
		f.LeadType = lt
	}
	return f, nil
}

func oneOf(v string, list []string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Values returns the filters as a map of parameter to value, as a report echoes them.
func (f Filter) Values() map[string]string {
	out := map[string]string{}
	for _, d := range f.Dims {
		out[d.By.Name] = d.Value
	}
	if f.LeadType != "" {
		out["lead_type"] = f.LeadType
	}
	return out
}

// only reports whether every dimension filter is on dim (also when there is none).
func (f Filter) only(dim string) bool {
	for _, d := range f.Dims {
		if d.By.Name != dim {
			return false
		}
	}
	return true
}

// costless reports whether a dimension filter is on something ad costs do not carry
// (landing page, country, device): such a report holds no cost at all.
func (f Filter) costless() bool {
	for _, d := range f.Dims {
		if d.By.cost == "" && !d.By.keyword {
			return true
		}
	}
	return false
}

// byKeyword reports whether a dimension filter is on the keyword.
func (f Filter) byKeyword() bool {
	for _, d := range f.Dims {
		if d.By.keyword {
			return true
		}
	}
	return false
}

// equals is the condition that expr has value v, NoneKey matching the empty value (and a
// literal "(none)", which the reports show under the same key).
func equals(expr, v string) (string, []any) {
	if v == NoneKey {
		return fmt.Sprintf("%s IN ('', '%s')", expr, NoneKey), nil
	}
	return expr + " = ?", []any{v}
}

// where joins the conditions each dimension filter gives through expr, as " AND …"
// ("" without filters).
func (f Filter) where(expr func(GroupBy) string) (string, []any) {
	var sql strings.Builder
	var args []any
	for _, d := range f.Dims {
		c, a := equals(expr(d.By), d.Value)
		sql.WriteString(" AND " + c)
		args = append(args, a...)
	}
	return sql.String(), args
}

// sessions is the filter on sessions rows, attributions on touch_credits rows.
func (f Filter) sessions() (string, []any) {
	return f.where(func(g GroupBy) string { return g.session })
}

func (f Filter) attributions() (string, []any) {
	return f.where(func(g GroupBy) string { return g.attribution })
}

// leadType is the condition on rows of lead conversions (touch_credits or conversions)
// that they are of the filter's lead type, as " AND …".
func (f Filter) leadType() (string, []any) {
	if f.LeadType == "" {
		return "", nil
	}
	return " AND " + leadTypeIs, []any{f.LeadType}
}

// leadTypeIs is the condition that a row's lead_type is the bound type, as the reports
// split leads: a type other than form, call and chat is "other".
const leadTypeIs = `if(lead_type IN ('form', 'call', 'chat'), lead_type, 'other') = ?`

// costs is the filter on ad_costs rows: by channel, source, campaign and keyword (term).
// It is meaningless when costless.
func (f Filter) costs() (string, []any) {
	return f.where(func(g GroupBy) string {
		if g.keyword {
			return "term"
		}
		return g.cost
	})
}

// leads narrows a credit part to the filter's lead type; sales stay as they are.
func (f Filter) leads(c *creditPart) {
	if f.LeadType == "" {
		return
	}
	by := map[string]*float64{"form": &c.byType.Form, "call": &c.byType.Call, "chat": &c.byType.Chat, "other": &c.byType.Other}
	n := *by[f.LeadType]
	c.byType = LeadsByType{}
	*by[f.LeadType] = n // by points into c.byType, which is now zero
	c.leads = n
}
