package reports

import (
	"math"
	"sort"
	"time"
)

// money is an amount of a report: the part converted into the report's currency, and
// the parts that had no exchange rate, by their currency. Amounts without a rate are
// never added into the converted part.
type money struct {
	sum         float64
	unconverted map[string]float64
}

// add adds v of currency cur ("" is the report's currency) on day, converted with the
// rate of the day when there is one.
func (m *money) add(v float64, cur string, day time.Time, book *rateBook) {
	if v == 0 {
		return
	}
	if cur == "" || cur == book.base {
		m.sum += v
		return
	}
	if r, ok := book.rate(cur, day); ok {
		m.sum += v / r
		return
	}
	if m.unconverted == nil {
		m.unconverted = map[string]float64{}
	}
	m.unconverted[cur] += v
}

// plus adds o to m; minus takes it away.
func (m *money) plus(o money)  { m.combine(o, 1) }
func (m *money) minus(o money) { m.combine(o, -1) }

func (m *money) combine(o money, sign float64) {
	m.sum += sign * o.sum
	for c, v := range o.unconverted {
		if m.unconverted == nil {
			m.unconverted = map[string]float64{}
		}
		m.unconverted[c] += sign * v
	}
}

// whole reports whether every part of m was converted.
func (m *money) whole() bool {
	for _, v := range m.unconverted {
		if cents(v) != 0 {
			return false
		}
	}
	return true
}

// Unconverted is what a report could not convert into its currency for want of an
// exchange rate on the amount's date: left out of revenue and cost, shown here in its
// own currency.
type Unconverted struct {
	Currency string  `json:"currency"`
	Revenue  float64 `json:"revenue"`
	Cost     float64 `json:"cost"`
}

// unconverted lists the unconverted parts of revenue and cost by currency.
func unconverted(revenue, cost money) []Unconverted {
	by := map[string]*Unconverted{}
	get := func(c string) *Unconverted {
		if by[c] == nil {
			by[c] = &Unconverted{Currency: c}
		}
		return by[c]
	}
	for c, v := range revenue.unconverted {
		if cents(v) != 0 {
			get(c).Revenue = cents(v)
		}
	}
	for c, v := range cost.unconverted {
		if cents(v) != 0 {
			get(c).Cost = cents(v)
		}
	}
	out := make([]Unconverted, 0, len(by))
	for _, u := range by {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// cents rounds money to cents, credit6 credit and ratios to six decimals: the
// precision the API answers in.
func cents(x float64) float64   { return roundTo(x, 100) }
func credit6(x float64) float64 { return roundTo(x, 1e6) }

func roundTo(x, scale float64) float64 {
	r := math.Round(x*scale) / scale
	if r == 0 {
		return 0 // no -0 in JSON
	}
	return r
}

// ratio is a/b rounded with round, or nil when b is not positive or an input has
// unconverted parts.
func ratio(a, b float64, ok bool, round func(float64) float64) *float64 {
	if !ok || !(b > 0) {
		return nil
	}
	r := round(a / b)
	return &r
}
