package reports

import (
	"context"
	"fmt"
	"time"
)

// A campaign's cost of a day can be imported at several levels: a campaign report (no
// ad group, no keyword), an ad group report, a keyword report, or all of them. Read as a
// tree, campaign → ad group → keyword, each level's cost is the larger of its own row
// and the sum of the rows below it, so a keyword report never adds to the campaign
// report of the same day, and spend the keywords do not account for (other ad types,
// rounding) is not lost. Clicks and impressions follow the same rule. Rows of one
// campaign and day in different currencies are separate trees.
const campaignTotals = `SELECT %[2]s AS k, if(cur IN ('', ?), '', cur) AS c, if(c = '', toDate(0), date) AS d,
		sum(t_cost), sum(t_clicks), sum(t_impressions)
	FROM (
		SELECT date, channel, source, medium, campaign, cur,
			greatest(sumIf(own_cost, ad_group = ''), sum(if(ad_group = '', below_cost, greatest(own_cost, below_cost)))) AS t_cost,
			greatest(sumIf(own_clicks, ad_group = ''), sum(if(ad_group = '', below_clicks, greatest(own_clicks, below_clicks)))) AS t_clicks,
			greatest(sumIf(own_impressions, ad_group = ''), sum(if(ad_group = '', below_impressions, greatest(own_impressions, below_impressions)))) AS t_impressions
		FROM (
			SELECT date, channel, source, medium, campaign, ad_group, upper(currency) AS cur,
				sumIf(cost, term = '') AS own_cost, sumIf(cost, term != '') AS below_cost,
				sumIf(clicks, term = '') AS own_clicks, sumIf(clicks, term != '') AS below_clicks,
				sumIf(impressions, term = '') AS own_impressions, sumIf(impressions, term != '') AS below_impressions
			FROM %[1]s.ad_costs FINAL
			WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?)%[3]s
			GROUP BY date, channel, source, medium, campaign, ad_group, cur)
		GROUP BY date, channel, source, medium, campaign, cur)
	GROUP BY k, c, d`

// keywordCosts places keyword rows by a key (their keyword when grouped by keyword).
const keywordCosts = `SELECT %[2]s AS k, if(upper(currency) IN ('', ?), '', upper(currency)) AS c, if(c = '', toDate(0), date) AS d,
		sum(cost), sum(clicks), sum(impressions)
	FROM %[1]s.ad_costs FINAL
	WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?) AND term != ''%[3]s
	GROUP BY k, c, d`

// costPart is the cost, clicks and impressions of one key and currency; of one day too
// for a currency other than the report's (day is zero otherwise).
type costPart struct {
	key, currency       string
	day                 time.Time
	cost                float64
	clicks, impressions uint64
}

// costParts is the ad cost of a report: what the grouping places in its rows, and the
// total of all campaigns when it does not place all of it.
type costParts struct {
	placed []costPart
	total  []costPart
}

// unallocated is the cost the rows do not hold, total less placed, and whether there is
// any. Without a total every campaign's cost was placed.
func (c *costParts) unallocated(book *rateBook) (tally, bool) {
	var rest, placed tally
	if len(c.total) == 0 {
		return rest, false
	}
	for _, p := range c.placed {
		placed.addCost(&p, book)
	}
	for _, p := range c.total {
		rest.addCost(&p, book)
	}
	rest.cost.minus(placed.cost)
	rest.clicks -= min(placed.clicks, rest.clicks)
	rest.impressions -= min(placed.impressions, rest.impressions)
	return rest, cents(rest.cost.sum) != 0 || !rest.cost.whole() || rest.clicks > 0 || rest.impressions > 0
}

// readCosts reads the ad cost of the report's range: by campaign, source or channel
// every campaign's cost is placed in a row; by keyword the keyword rows are, and the
// rest of the campaigns' cost is unallocated; by any other dimension all of it is.
// Filtered by a keyword, only keyword rows count; filtered by a dimension ad costs do not
// carry, nothing does.
func (s *Store) readCosts(ctx context.Context, p Params, of rowsOf) (costParts, error) {
	var out costParts
	if p.Filter.costless() {
		return out, nil
	}
	cond, condArgs := p.Filter.costs()
	read := func(query string, key expr, dst *[]costPart) error {
		q := fmt.Sprintf(query, s.DB, key.sql, cond)
		args := append(append(append([]any{}, key.args...), p.Currency, p.Site, day(p.From), day(p.To)), condArgs...)
		err := s.each(ctx, q, args, func(sc scanner) error {
			var c costPart
			if err := sc.Scan(&c.key, &c.currency, &c.day, &c.cost, &c.clicks, &c.impressions); err != nil {
				return err
			}
			*dst = append(*dst, c)
			return nil
		})
		if err != nil {
			return fmt.Errorf("cannot read ad costs: %w", err)
		}
		return nil
	}
	none, term := expr{sql: "''"}, expr{sql: "term"}
	if p.Filter.byKeyword() {
		switch {
		case of.cost.sql != "":
			return out, read(keywordCosts, of.cost, &out.placed)
		case of.keyword:
			return out, read(keywordCosts, term, &out.placed)
		default:
			return out, read(keywordCosts, none, &out.total)
		}
	}
	if of.cost.sql != "" {
		return out, read(campaignTotals, of.cost, &out.placed)
	}
	if err := read(campaignTotals, none, &out.total); err != nil {
		return out, err
	}
	if of.keyword {
		return out, read(keywordCosts, term, &out.placed)
	}
	return out, nil
}
