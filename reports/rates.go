package reports

import (
	"context"
	"fmt"
	"sort"
	"time"

	"touchpoint/internal/chstore"
)

// ImportRates writes rates for site; a rate of the same base, currency and day replaces
// the one stored. Within rates the last of a day wins.
func (s *Store) ImportRates(ctx context.Context, site string, rates []Rate) error {
	type key struct{ date, base, cur string }
	last := map[key]int{}
	for i, r := range rates {
		last[key{r.Date, r.Base, r.Currency}] = i
	}
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+".fx_rates (site_id, date, base, currency, rate, imported_at, version)")
	if err != nil {
		return fmt.Errorf("cannot store exchange rates: %w", err)
	}
	defer b.Abort()
	now := time.Now()
	version := uint64(now.UnixNano())
	for i, r := range rates {
		if last[key{r.Date, r.Base, r.Currency}] != i {
			continue
		}
		d, _ := time.Parse("2006-01-02", r.Date)
		if err := b.Append(site, d, r.Base, r.Currency, r.Rate, now, version); err != nil {
			return fmt.Errorf("cannot store exchange rates: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot store exchange rates: %w", err)
	}
	return nil
}

// Rates returns the site's rates against base from day from to day to, by date and currency.
func (s *Store) Rates(ctx context.Context, site, base string, from, to time.Time) ([]Rate, error) {
	q := fmt.Sprintf(`SELECT toString(date), currency, rate FROM %s.fx_rates FINAL
		WHERE site_id = ? AND base = ? AND date >= toDate(?) AND date <= toDate(?) ORDER BY date, currency`, s.DB)
	var out []Rate
	err := s.each(ctx, q, []any{site, base, day(from), day(to)}, func(sc scanner) error {
		r := Rate{Base: base}
		if err := sc.Scan(&r.Date, &r.Currency, &r.Rate); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read exchange rates: %w", err)
	}
	return out, nil
}

// rateBook converts amounts into a report's currency with the rates of their days.
type rateBook struct {
	base  string
	rates map[string][]datedRate // by currency, ordered by day
}

type datedRate struct {
	day  time.Time
	rate float64
}

func newRateBook(base string, rates []Rate) *rateBook {
	b := &rateBook{base: base, rates: map[string][]datedRate{}}
	for _, r := range rates {
		d, err := time.Parse("2006-01-02", r.Date)
		if err != nil || r.Base != base {
			continue
		}
		b.rates[r.Currency] = append(b.rates[r.Currency], datedRate{d, r.Rate})
	}
	for _, rs := range b.rates {
		sort.Slice(rs, func(i, j int) bool { return rs[i].day.Before(rs[j].day) })
	}
	return b
}

// rate returns the units of cur per unit of the base on day: that day's rate, else the
// latest of the RateStaleDays days before it. ok is false without one.
func (b *rateBook) rate(cur string, day time.Time) (float64, bool) {
	rs := b.rates[cur]
	i := sort.Search(len(rs), func(i int) bool { return rs[i].day.After(day) }) - 1
	if i < 0 || day.Sub(rs[i].day) > RateStaleDays*24*time.Hour {
		return 0, false
	}
	return rs[i].rate, true
}

// rateRange is the span of days whose rates a report over [from, to] may use.
func rateRange(from, to time.Time) (time.Time, time.Time) {
	return from.AddDate(0, 0, -RateStaleDays), to
}
