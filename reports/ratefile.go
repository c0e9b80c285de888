package reports

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"touchpoint/internal/site"
)

// Rate is one exchange rate: Rate units of Currency buy one unit of Base on Date, the way
// the ECB quotes its reference rates (Base EUR, Currency USD, Rate 1.08: 100 USD are
// 92.59 EUR).
type Rate struct {
	Date     string  `json:"date"` // YYYY-MM-DD
	Base     string  `json:"base"`
	Currency string  `json:"currency"`
	Rate     float64 `json:"rate"`
}

// MaxRates bounds one import: the ECB's whole history since 1999 is about 200,000 rates.
const MaxRates = 1000000

// RateStaleDays is how far back a report looks for a rate when the date of an amount has
// none: the ECB publishes no rates on weekends and TARGET holidays, whose amounts take
// the last rate published before them.
const RateStaleDays = 7

// ParseRates reads a rates file for a site whose reporting currency is base:
//   - an ECB reference file: eurofxref.csv (the day's rates, "02 January 2026" dates)
//     or eurofxref-hist.csv (every day since 1999, ISO dates, N/A where a currency had no
//     rate), or the zip the ECB serves them in. Its rates are per 1 EUR; for another base
//     they are crossed through the euro: GBP per USD = (USD per EUR) / (GBP per EUR);
//   - a CSV with a header naming the columns date (YYYY-MM-DD), currency and rate (units
//     of currency per one unit of the site's currency), and optionally base, which must
//     then be the site's currency.
//
// Rates are positive numbers; a currency's rate against itself is left out.
func ParseRates(body []byte, base string) ([]Rate, error) {
	if bytes.HasPrefix(body, []byte("PK\x03\x04")) {
		var err error
		if body, err = unzipOne(body); err != nil {
			return nil, err
		}
	}
	text, err := decodeText(body)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(text))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("cannot read the CSV header: %w", err)
	}
	for len(head) > 0 && strings.TrimSpace(head[len(head)-1]) == "" {
		head = head[:len(head)-1] // the ECB's lines end with a comma
	}
	names := make([]string, len(head))
	for i, h := range head {
		names[i] = strings.ToLower(strings.TrimSpace(h))
	}
	var rates []Rate
	if isECBHeader(head) {
		rates, err = parseECB(r, head, base)
	} else {
		rates, err = parsePlainRates(r, names, base)
	}
	if err != nil {
		return nil, err
	}
	if len(rates) == 0 {
		return nil, errors.New("no rates in the file")
	}
	return rates, nil
}

// isECBHeader reports whether head is "Date" followed by currency codes.
func isECBHeader(head []string) bool {
	if len(head) < 2 || !strings.EqualFold(strings.TrimSpace(head[0]), "date") {
		return false
	}
	for _, h := range head[1:] {
		if !site.CurrencyRe.MatchString(strings.TrimSpace(h)) {
			return false
		}
	}
	return true
}

func parseECB(r *csv.Reader, head []string, base string) ([]Rate, error) {
	codes := make([]string, len(head))
	hasBase := base == "EUR"
	for i, h := range head[1:] {
		codes[i+1] = strings.TrimSpace(h)
		hasBase = hasBase || codes[i+1] == base
	}
	if !hasBase {
		return nil, fmt.Errorf("the ECB file has no rate for %s, the site's currency: load a CSV of date,currency,rate instead", base)
	}
	var out []Rate
	perEUR := map[string]float64{}
	err := eachLine(r, func(line int, rec []string) error {
		day, err := parseECBDate(rec[0])
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		clear(perEUR)
		perEUR["EUR"] = 1
		for i := 1; i < len(rec); i++ {
			v := strings.TrimSpace(rec[i])
			if v == "" || strings.EqualFold(v, "N/A") {
				continue
			}
			if i >= len(codes) {
				return fmt.Errorf("line %d: more values than currencies in the header", line)
			}
			x, err := positive(v)
			if err != nil {
				return fmt.Errorf("line %d, %s: %w", line, codes[i], err)
			}
			perEUR[codes[i]] = x
		}
		b, ok := perEUR[base]
		if !ok {
			return nil // no rate for the site's currency that day: nothing can be crossed
		}
		for _, c := range sortedKeys(perEUR) {
			if c != base {
				out = append(out, Rate{Date: day, Base: base, Currency: c, Rate: perEUR[c] / b})
			}
		}
		return tooMany(len(out))
	})
	return out, err
}

func parsePlainRates(r *csv.Reader, names []string, base string) ([]Rate, error) {
	col := map[string]int{}
	for i, n := range names {
		col[n] = i
	}
	for _, need := range []string{"date", "currency", "rate"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("the CSV header needs the columns date, currency and rate (or be an ECB reference file); it lacks %q", need)
		}
	}
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var out []Rate
	err := eachLine(r, func(line int, rec []string) error {
		day := field(rec, "date")
		if _, err := time.Parse("2006-01-02", day); err != nil {
			return fmt.Errorf("line %d: date %q is not YYYY-MM-DD", line, day)
		}
		cur := strings.ToUpper(field(rec, "currency"))
		if !site.CurrencyRe.MatchString(cur) {
			return fmt.Errorf("line %d: currency %q is not an ISO 4217 code", line, field(rec, "currency"))
		}
		if b := strings.ToUpper(field(rec, "base")); b != "" && b != base {
			return fmt.Errorf("line %d: a rate against %s, but the site reports in %s: give units of %s per 1 %s", line, b, base, cur, base)
		}
		x, err := positive(field(rec, "rate"))
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if cur == base {
			if x != 1 {
				return fmt.Errorf("line %d: %s is the site's currency; its rate can only be 1", line, cur)
			}
			return nil
		}
		out = append(out, Rate{Date: day, Base: base, Currency: cur, Rate: x})
		return tooMany(len(out))
	})
	return out, err
}

// eachLine calls f with each non-blank record after the header and its line number.
func eachLine(r *csv.Reader, f func(line int, rec []string) error) error {
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if !blank(rec) {
			if err := f(line, rec); err != nil {
				return err
			}
		}
	}
}

func tooMany(n int) error {
	if n > MaxRates {
		return fmt.Errorf("more than %d rates; split the file", MaxRates)
	}
	return nil
}

// parseECBDate reads the ECB's dates: 2026-12-04 in the history, "04 December 2026" in
// the day's file.
func parseECBDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", "02 January 2006", "2 January 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02"), nil
		}
	}
	return "", fmt.Errorf("date %q is neither YYYY-MM-DD nor like 04 December 2026", s)
}

// positive parses a rate: a finite number above zero.
func positive(s string) (float64, error) {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) || x <= 0 {
		return 0, fmt.Errorf("rate %q is not a positive number", s)
	}
	return x, nil
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unzipOne returns the only CSV file of a zip archive (the ECB's eurofxref.zip).
func unzipOne(body []byte) ([]byte, error) {
	z, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, fmt.Errorf("cannot read the zip file: %w", err)
	}
	var csvs []*zip.File
	for _, f := range z.File {
		if strings.HasSuffix(strings.ToLower(f.Name), ".csv") {
			csvs = append(csvs, f)
		}
	}
	if len(csvs) != 1 {
		return nil, fmt.Errorf("the zip file holds %d CSV files; want one", len(csvs))
	}
	rc, err := csvs[0].Open()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s from the zip file: %w", csvs[0].Name, err)
	}
	defer rc.Close()
	out, err := io.ReadAll(io.LimitReader(rc, 64<<20+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s from the zip file: %w", csvs[0].Name, err)
	}
	if len(out) > 64<<20 {
		return nil, fmt.Errorf("%s is over 64 MiB", csvs[0].Name)
	}
	return out, nil
}
