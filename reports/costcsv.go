package reports

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"touchpoint/internal/site"
)

// Cost CSV columns. An import may use Touchpoint's own names or an ad platform's: each
// field lists the header names it is read from, in order of preference (case, spaces and
// a byte order mark do not matter).
var costColumns = map[string][]string{
	"date":        {"date", "day", "timeperiod", "time period", "gregorian date", "reporting starts"},
	"date_end":    {"reporting ends"},
	"channel":     {"channel"},
	"source":      {"source", "utm_source"},
	"medium":      {"medium", "utm_medium"},
	"campaign":    {"campaign", "campaign name", "campaignname", "utm_campaign"},
	"ad_group":    {"ad_group", "ad group", "adgroup", "ad group name", "adgroupname", "ad set name", "ad set", "adset name"},
	"term":        {"term", "keyword", "search keyword", "utm_term"},
	"cost":        {"cost", "spend", "amount spent"},
	"currency":    {"currency", "currency code", "currencycode"},
	"clicks":      {"link clicks", "clicks", "clicks (all)"},
	"impressions": {"impressions", "impr.", "impr"},
}

// platform is an ad platform's export, recognised by its column names, with the source
// and medium its rows get when the import names none (?source=, ?medium=).
type platform struct {
	name, source, medium string
	columns              []string
}

var platforms = []platform{
	{"Meta Ads Manager", "facebook", "paid_social", []string{"reporting starts", "ad set name", "amount spent", "link clicks"}},
	{"Microsoft Advertising", "bing", "cpc", []string{"timeperiod", "gregorian date", "campaignname", "currencycode", "spend"}},
	{"Google Ads", "google", "cpc", []string{"day", "impr.", "currency code"}},
}

// "Amount spent (EUR)", "Cost (USD)": the currency of a whole export in its header.
var headerCurrency = regexp.MustCompile(`^(.*?)\s*\(([A-Za-z]{3})\)$`)

// costHeader is the layout of a cost CSV.
type costHeader struct {
	col      map[string]int // field -> column index
	currency string         // from a header like "Amount spent (EUR)"
	platform *platform
}

// readHeader maps a header row to fields; ok is false when it lacks a date or a cost.
func readHeader(rec []string) (costHeader, bool) {
	h := costHeader{col: map[string]int{}}
	names := map[string]int{}
	for i, raw := range rec {
		n := strings.Join(strings.Fields(strings.ToLower(strings.TrimPrefix(raw, "\ufeff"))), " ")
		if m := headerCurrency.FindStringSubmatch(n); m != nil && (m[1] == "amount spent" || m[1] == "cost" || m[1] == "spend") {
			n, h.currency = m[1], strings.ToUpper(m[2])
		}
		if _, dup := names[n]; !dup {
			names[n] = i
		}
	}
	for field, aliases := range costColumns {
		for _, a := range aliases {
			if i, ok := names[a]; ok {
				h.col[field] = i
				break
			}
		}
	}
	if _, ok := h.col["source"]; !ok {
		for i := range platforms {
			for _, c := range platforms[i].columns {
				if _, ok := names[c]; ok && h.platform == nil {
					h.platform = &platforms[i]
				}
			}
		}
	}
	_, date := h.col["date"]
	_, cost := h.col["cost"]
	return h, date && cost
}

// readCostCSV reads cost rows from CSV: Touchpoint's columns (date, source, medium,
// campaign, ad_group, term, cost, currency, clicks, impressions, channel) or a Google Ads,
// Microsoft Advertising or Meta Ads Manager export as downloaded, in UTF-8 or UTF-16,
// separated by commas, tabs or semicolons. Lines before the header (report name, date
// range, account) are skipped, and so are total and copyright lines after the data;
// any other line that cannot be read fails the import.
func readCostCSV(body []byte, def CostDefaults) ([]Cost, error) {
	text, err := decodeText(body)
	if err != nil {
		return nil, err
	}
	h, sep, skip, err := findHeader(text)
	if err != nil {
		return nil, err
	}
	if h.platform != nil {
		if def.Source == "" {
			def.Source = h.platform.source
		}
		if def.Medium == "" {
			def.Medium = h.platform.medium
		}
	}
	if h.currency != "" {
		def.Currency = h.currency
	}
	r := csv.NewReader(strings.NewReader(text[skip:]))
	r.Comma = sep
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	if _, err := r.Read(); err != nil { // the header
		return nil, fmt.Errorf("cannot read the CSV header: %w", err)
	}
	field := func(rec []string, name string) string {
		if i, ok := h.col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var out []Cost
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("CSV after the header: %w", err)
		}
		line, _ := r.FieldPos(0)
		line += strings.Count(text[:skip], "\n")
		if blank(rec) {
			continue
		}
		date, derr := parseDay(field(rec, "date"))
		if derr != nil {
			if footer(rec) {
				continue
			}
			return nil, fmt.Errorf("CSV line %d: %w", line, derr)
		}
		if end := field(rec, "date_end"); end != "" {
			if e, err := parseDay(end); err != nil || e != date {
				return nil, fmt.Errorf("CSV line %d: the row covers %s to %s; export one row per day (Meta: Breakdown, By time, Day)", line, field(rec, "date"), end)
			}
		}
		c := Cost{Date: date, Channel: field(rec, "channel"), Source: field(rec, "source"), Medium: field(rec, "medium"),
			Campaign: field(rec, "campaign"), AdGroup: field(rec, "ad_group"), Term: field(rec, "term"), Currency: field(rec, "currency")}
		if c.Cost, err = parseAmount(field(rec, "cost")); err != nil {
			return nil, fmt.Errorf("CSV line %d: cost %w", line, err)
		}
		if c.Clicks, err = parseCount(field(rec, "clicks")); err != nil {
			return nil, fmt.Errorf("CSV line %d: clicks %w", line, err)
		}
		if c.Impressions, err = parseCount(field(rec, "impressions")); err != nil {
			return nil, fmt.Errorf("CSV line %d: impressions %w", line, err)
		}
		if c.Source == "" {
			c.Source = def.Source
		}
		if c.Medium == "" {
			c.Medium = def.Medium
		}
		if c.Currency == "" || c.Currency == "--" {
			c.Currency = def.Currency
		}
		if c.Currency != "" && !site.CurrencyRe.MatchString(strings.ToUpper(c.Currency)) {
			return nil, fmt.Errorf("CSV line %d: currency %q is not an ISO 4217 code", line, c.Currency)
		}
		out = append(out, c)
		if len(out) > MaxCostRows {
			return nil, fmt.Errorf("more than %d rows; split the import", MaxCostRows)
		}
	}
}

// findHeader finds the header among the first lines of text: the first line that names
// a date and a cost column, with a comma, tab or semicolon between its fields. It
// returns the layout, the separator and the offset of the header line.
func findHeader(text string) (costHeader, rune, int, error) {
	off := 0
	for n := 0; n < 30 && off < len(text); n++ {
		end := strings.IndexByte(text[off:], '\n')
		if end < 0 {
			end = len(text) - off
		}
		line := strings.TrimRight(text[off:off+end], "\r")
		for _, sep := range []rune{',', '\t', ';'} {
			if !strings.ContainsRune(line, sep) {
				continue
			}
			r := csv.NewReader(strings.NewReader(line))
			r.Comma = sep
			r.LazyQuotes = true
			rec, err := r.Read()
			if err != nil {
				continue
			}
			if h, ok := readHeader(rec); ok {
				return h, sep, off, nil
			}
		}
		off += end + 1
	}
	return costHeader{}, 0, 0, errors.New("no CSV header with a date and a cost column (date, Day, TimePeriod, Gregorian date or " +
		"Reporting starts; cost, Cost, Spend or Amount spent) in the first 30 lines")
}

// footer reports whether a line without a date is an export's total or copyright line.
func footer(rec []string) bool {
	for _, f := range rec {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		return strings.HasPrefix(f, "total") || strings.HasPrefix(f, "©") || strings.HasPrefix(f, "(c)") ||
			strings.Contains(f, "all rights reserved")
	}
	return false
}
