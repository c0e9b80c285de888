package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"touchpoint/internal/channel"
	"touchpoint/internal/chstore"
)

// Cost is one day of ad spend for one campaign.
type Cost struct {
	Date     string  `json:"date"` // YYYY-MM-DD
	Channel  string  `json:"channel"`
	Source   string  `json:"source"`
	Medium   string  `json:"medium"`
	Campaign string  `json:"campaign"`
	Cost     float64 `json:"cost"`
	Currency string  `json:"currency"`
}

// MaxCostRows bounds one import.
const MaxCostRows = 100000

// ParseCosts reads an import body: CSV with a header row (date, source, medium, campaign,
// cost, and optionally channel and currency, in any order) or JSON {"costs": [...]}.
// A missing channel is derived from source, medium and campaign like a session's.
func ParseCosts(contentType string, body []byte) ([]Cost, error) {
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
	} else if costs, err = parseCostCSV(body); err != nil {
		return nil, err
	}
	if len(costs) == 0 {
		return nil, errors.New("no cost rows")
	}
	if len(costs) > MaxCostRows {
		return nil, fmt.Errorf("%d rows; at most %d per import", len(costs), MaxCostRows)
	}
	for i := range costs {
		if err := costs[i].normalise(); err != nil {
			return nil, fmt.Errorf("row %d: %w", i+1, err)
		}
	}
	return costs, nil
}

func (c *Cost) normalise() error {
	if _, err := time.Parse("2006-01-02", c.Date); err != nil {
		return fmt.Errorf("date %q is not YYYY-MM-DD", c.Date)
	}
	if math.IsNaN(c.Cost) || math.IsInf(c.Cost, 0) || c.Cost < 0 {
		return fmt.Errorf("cost must be a non-negative number")
	}
	for _, f := range []*string{&c.Channel, &c.Source, &c.Medium, &c.Campaign, &c.Currency} {
		*f = strings.TrimSpace(*f)
		if len(*f) > 500 || !utf8.ValidString(*f) {
			return fmt.Errorf("text fields are valid UTF-8 of at most 500 bytes")
		}
	}
	if c.Source == "" {
		return fmt.Errorf("source is required")
	}
	c.Source, c.Medium = strings.ToLower(c.Source), strings.ToLower(c.Medium)
	if c.Channel == "" {
		c.Channel = channel.Group(c.Source, c.Medium, c.Campaign)
	}
	c.Currency = strings.ToUpper(c.Currency)
	return nil
}

func parseCostCSV(body []byte) ([]Cost, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.TrimLeadingSpace = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("cannot read CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"date", "source", "cost"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("CSV header lacks column %q", need)
		}
	}
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var out []Cost
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("CSV line %d: %w", line, err)
		}
		cost, err := strconv.ParseFloat(strings.TrimSpace(field(rec, "cost")), 64)
		if err != nil {
			return nil, fmt.Errorf("CSV line %d: cost %q is not a number", line, field(rec, "cost"))
		}
		out = append(out, Cost{Date: field(rec, "date"), Channel: field(rec, "channel"), Source: field(rec, "source"),
			Medium: field(rec, "medium"), Campaign: field(rec, "campaign"), Cost: cost, Currency: field(rec, "currency")})
		if len(out) > MaxCostRows {
			return nil, fmt.Errorf("more than %d rows; split the import", MaxCostRows)
		}
	}
}

// ImportCosts writes costs for site; a row for the same day and campaign replaces the old one.
func (s *Store) ImportCosts(ctx context.Context, site string, costs []Cost) error {
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+".ad_costs (site_id, date, channel, source, medium, campaign, cost, currency, imported_at, version)")
	if err != nil {
		return err
	}
	defer b.Abort()
	now := time.Now()
	version := uint64(now.UnixNano())
	for _, c := range costs {
		d, _ := time.Parse("2006-01-02", c.Date)
		if err := b.Append(site, d, c.Channel, c.Source, c.Medium, c.Campaign, c.Cost, c.Currency, now, version); err != nil {
			return err
		}
	}
	return b.Send()
}
