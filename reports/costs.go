package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"touchpoint/internal/channel"
	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
)

// Cost is one day of ad spend for a campaign, or for one ad group or keyword of it.
type Cost struct {
	Date        string  `json:"date"` // YYYY-MM-DD
	Channel     string  `json:"channel"`
	Source      string  `json:"source"`
	Medium      string  `json:"medium"`
	Campaign    string  `json:"campaign"`
	AdGroup     string  `json:"ad_group"` // Meta: ad set
	Term        string  `json:"term"`     // the keyword
	Cost        float64 `json:"cost"`
	Currency    string  `json:"currency"`
	Clicks      uint64  `json:"clicks"`
	Impressions uint64  `json:"impressions"`
}

// CostDefaults fill what an import's rows leave out: ad platform exports have no source
// or medium, and not every export names its currency.
type CostDefaults struct {
	Source, Medium string
	Currency       string // of rows without one; the site's reporting currency
}

// MaxCostRows bounds one import.
const MaxCostRows = 100000

// ParseCosts reads an import body: JSON {"costs": [...]}, or CSV in Touchpoint's own
// columns or as Google Ads, Microsoft Advertising or Meta Ads Manager export it (see
// readCostCSV). Rows of one campaign, ad group, keyword and day are added together.
// A missing channel is derived from source, medium and campaign like a session's.
func ParseCosts(contentType string, body []byte, def CostDefaults) ([]Cost, error) {
	var costs []Cost
	var err error
	if strings.Contains(contentType, "json") {
		var in struct {
			Costs []Cost `json:"costs"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fmt.Errorf("malformed JSON: %w", err)
		}
		costs = in.Costs
	} else if costs, err = readCostCSV(body, def); err != nil {
		return nil, err
	}
	if len(costs) == 0 {
		return nil, errors.New("no cost rows")
	}
	if len(costs) > MaxCostRows {
		return nil, fmt.Errorf("%d rows; at most %d per import", len(costs), MaxCostRows)
	}
	for i := range costs {
		if err := costs[i].normalise(def); err != nil {
			return nil, fmt.Errorf("row %d: %w", i+1, err)
		}
	}
	return addUp(costs)
}

func (c *Cost) normalise(def CostDefaults) error {
	if _, err := time.Parse("2006-01-02", c.Date); err != nil {
		return fmt.Errorf("date %q is not YYYY-MM-DD", c.Date)
	}
	if math.IsNaN(c.Cost) || math.IsInf(c.Cost, 0) || c.Cost < 0 {
		return fmt.Errorf("cost must be a non-negative number")
	}
	for _, f := range []*string{&c.Channel, &c.Source, &c.Medium, &c.Campaign, &c.AdGroup, &c.Term, &c.Currency} {
		*f = strings.TrimSpace(*f)
		if len(*f) > 500 || !utf8.ValidString(*f) {
			return fmt.Errorf("text fields are valid UTF-8 of at most 500 bytes")
		}
	}
	if c.Source == "" {
		c.Source = def.Source
	}
	if c.Medium == "" {
		c.Medium = def.Medium
	}
	if c.Source == "" {
		return fmt.Errorf("source is required (a column, or ?source= for the whole import)")
	}
	c.Source, c.Medium = strings.ToLower(c.Source), strings.ToLower(c.Medium)
	c.Term = Keyword(c.Term)
	if c.Channel == "" {
		c.Channel = channel.Group(c.Source, c.Medium, c.Campaign)
	}
	if c.Currency = strings.ToUpper(c.Currency); c.Currency == "" {
		c.Currency = def.Currency
	}
	if !site.CurrencyRe.MatchString(c.Currency) {
		return fmt.Errorf("currency %q is not an ISO 4217 code", c.Currency)
	}
	return nil
}

// Keyword is a keyword as sessions carry it in utm_term: without the match-type marks
// of ad platform exports ([exact], "phrase", +broad +modifier).
func Keyword(s string) string {
	for {
		k := strings.TrimSpace(s)
		if len(k) >= 2 && (k[0] == '[' && k[len(k)-1] == ']' || k[0] == '"' && k[len(k)-1] == '"') {
			k = strings.TrimSpace(k[1 : len(k)-1])
		}
		if strings.Contains(k, "+") {
			words := strings.Fields(k)
			for i, w := range words {
				if t := strings.TrimLeft(w, "+"); t != "" {
					words[i] = t
				}
			}
			k = strings.Join(words, " ")
		}
		if k == s {
			return k
		}
		s = k
	}
}

// costKey is what a stored cost row is replaced by.
type costKey struct{ date, channel, source, medium, campaign, adGroup, term string }

// addUp adds together the rows of one campaign, ad group, keyword and day (an export
// lists a keyword once per match type or device), keeping the first row's place.
func addUp(costs []Cost) ([]Cost, error) {
	at := map[costKey]int{}
	out := costs[:0]
	for _, c := range costs {
		k := costKey{c.Date, c.Channel, c.Source, c.Medium, c.Campaign, c.AdGroup, c.Term}
		i, seen := at[k]
		if !seen {
			at[k] = len(out)
			out = append(out, c)
			continue
		}
		o := &out[i]
		if o.Currency != c.Currency {
			return nil, fmt.Errorf("%s %s/%s %q %q %q is in %s and in %s", c.Date, c.Source, c.Medium, c.Campaign, c.AdGroup, c.Term,
				o.Currency, c.Currency)
		}
		o.Cost += c.Cost
		o.Clicks += c.Clicks
		o.Impressions += c.Impressions
	}
	return out, nil
}

// ImportCosts writes costs for site; a row for the same day, campaign, ad group and
// keyword replaces the stored one.
func (s *Store) ImportCosts(ctx context.Context, site string, costs []Cost) error {
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+`.ad_costs (site_id, date, channel, source, medium, campaign,
		ad_group, term, cost, currency, clicks, impressions, imported_at, version)`)
	if err != nil {
		return fmt.Errorf("cannot store costs: %w", err)
	}
	defer b.Abort()
	now := time.Now()
	version := uint64(now.UnixNano())
	for _, c := range costs {
		d, _ := time.Parse("2006-01-02", c.Date)
		if err := b.Append(site, d, c.Channel, c.Source, c.Medium, c.Campaign, c.AdGroup, c.Term, c.Cost, c.Currency,
			c.Clicks, c.Impressions, now, version); err != nil {
			return fmt.Errorf("cannot store costs: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot store costs: %w", err)
	}
	return nil
}
