package reports

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// Intervals are the bucket sizes of a time series, with the ClickHouse function that
// gives the first day of a date's bucket: weeks start on Monday (ISO 8601).
var Intervals = map[string]string{"day": "toDate", "week": "toMonday", "month": "toStartOfMonth"}

// Point is one bucket of a time series and the same days of the previous period.
type Point struct {
	From         string  `json:"from"` // the bucket's first and last day in the range
	To           string  `json:"to"`
	PreviousFrom string  `json:"previous_from"`
	PreviousTo   string  `json:"previous_to"`
	Current      Figures `json:"current"`
	Previous     Figures `json:"previous"`
}

// Series is the source report's totals over time, beside those of the period before.
type Series struct {
	Site           string            `json:"site"`
	Model          string            `json:"model"`
	Interval       string            `json:"interval"`
	From           string            `json:"from"`
	To             string            `json:"to"`
	PreviousFrom   string            `json:"previous_from"`
	PreviousTo     string            `json:"previous_to"`
	Currency       string            `json:"currency"`
	Filters        map[string]string `json:"filters"`
	CostIncluded   bool              `json:"cost_included"`
	Points         []Point           `json:"points"`
	Totals         Figures           `json:"totals"`
	PreviousTotals Figures           `json:"previous_totals"`
}

// MaxPoints bounds a series: five years by day would be a chart nobody can read.
const MaxPoints = 800

// ParseInterval reads interval (default day) and checks that p's range has at most
// MaxPoints buckets of it.
func ParseInterval(q url.Values, p Params) (string, error) {
	i := q.Get("interval")
	if i == "" {
		i = "day"
	}
	if _, ok := Intervals[i]; !ok {
		return "", fmt.Errorf("unknown interval %q (one of day, week, month)", i)
	}
	if n := len(seriesBuckets(p.From, p.To, i)); n > MaxPoints {
		return "", fmt.Errorf("%d points of a %s; at most %d: choose a longer interval", n, i, MaxPoints)
	}
	return i, nil
}

// Series computes the source report's totals per day, week or month of the range, and
// for the previous period: the same number of days just before the range, each of its
// buckets the days of the current bucket moved back by the range's length. The figures
// are those of the source report (its totals when p's range is one bucket), with the
// same filters.
func (s *Store) Series(ctx context.Context, p Params, interval string) (*Series, error) {
	n := int(p.To.Sub(p.From).Hours()/24) + 1
	prevFrom, prevTo := p.From.AddDate(0, 0, -n), p.From.AddDate(0, 0, -1)
	out := &Series{Site: p.Site, Model: p.Model, Interval: interval, From: day(p.From), To: day(p.To),
		PreviousFrom: day(prevFrom), PreviousTo: day(prevTo), Currency: p.Currency, Filters: p.Filter.Values(),
		CostIncluded: !p.Filter.costless(), Points: []Point{}}

	// Keys: "c" or "p" for the period, and the first day of the bucket of the date (in
	// the previous period, of the date moved into the range).
	bucket := func(date string) expr {
		return expr{sql: fmt.Sprintf("concat(if(%[1]s >= toDate(?), 'c', 'p'), toString(%[2]s(if(%[1]s >= toDate(?), %[1]s, addDays(%[1]s, ?)))))",
			date, Intervals[interval]), args: []any{day(p.From), day(p.From), n}}
	}
	// The rollups of any one dimension hold every session and credit once.
	dim := "channel"
	if len(p.Filter.Dims) > 0 {
		dim = p.Filter.Dims[0].By.Name
	}
	// The traffic rows include each period's visitors, keyed "c" and "p".
	buckets := rowsOf{dim: dim, rollup: bucket("day"), session: bucket("toDate(started_at, 'UTC')"),
		attribution: bucket("toDate(occurred_at, 'UTC')"), cost: bucket("date"), parent: "substring(k, 1, 1)",
		series: &seriesOf{from: p.From, days: n, interval: interval}}
	window := p
	window.From = prevFrom
	ds, buckets, err := s.dayStates(ctx, window, buckets)
	if err != nil {
		return nil, err
	}
	rows, _, err := s.collect(ctx, window, ds, buckets)
	if err != nil {
		return nil, err
	}

	var cur, prev tally
	for _, b := range seriesBuckets(p.From, p.To, interval) {
		pt := Point{From: day(b.from), To: day(b.to), PreviousFrom: day(b.from.AddDate(0, 0, -n)), PreviousTo: day(b.to.AddDate(0, 0, -n))}
		for _, x := range []struct {
			period string
			into   *Figures
			sum    *tally
		}{{"c", &pt.Current, &cur}, {"p", &pt.Previous, &prev}} {
			t := rows[x.period+day(b.start)]
			if t == nil {
				t = &tally{}
			}
			*x.into = t.figures()
			x.sum.plus(t)
		}
		out.Points = append(out.Points, pt)
	}
	for _, x := range []struct {
		period string
		sum    *tally
		into   *Figures
	}{{"c", &cur, &out.Totals}, {"p", &prev, &out.PreviousTotals}} {
		if v := rows[x.period]; v != nil {
			x.sum.visitors = v.visitors
		}
		*x.into = x.sum.figures()
	}
	return out, nil
}

// seriesBucket is a bucket of a series: the first day of its calendar day, week or month
// (start) and the days of it in the range.
type seriesBucket struct{ start, from, to time.Time }

// seriesBuckets lists the buckets of [from, to]; there is one for every bucket, with
// data or not, so a chart shows the days without any.
func seriesBuckets(from, to time.Time, interval string) []seriesBucket {
	var out []seriesBucket
	for d := from; !d.After(to); {
		start, next := d, d.AddDate(0, 0, 1)
		switch interval {
		case "week":
			start = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
			next = start.AddDate(0, 0, 7)
		case "month":
			start = time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
			next = start.AddDate(0, 1, 0)
		}
		end := next.AddDate(0, 0, -1)
		if end.After(to) {
			end = to
		}
		out = append(out, seriesBucket{start: start, from: d, to: end})
		d = next
	}
	return out
}
