package reports

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeText returns an uploaded file as UTF-8 without its byte order mark. Spreadsheet
// exports come as UTF-8 with or without a BOM, or as UTF-16 with one (Google Ads' "CSV
// for Excel").
func decodeText(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		little := b[0] == 0xFF
		b = b[2:]
		if len(b)%2 != 0 {
			return "", errors.New("the UTF-16 file has an odd number of bytes")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			if little {
				u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			} else {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			}
		}
		return string(utf16.Decode(u)), nil
	}
	if !utf8.Valid(b) {
		return "", errors.New("the file is not UTF-8 (save it as CSV UTF-8)")
	}
	return string(b), nil
}

// parseAmount reads a money amount or count as ad platforms write them: "1234.5",
// "1,234.50" (thousands separators, quoted in the CSV), "1.234,50" and "12,5" (a decimal
// comma), "$1,234.50", "€ 12", "1 234,50", and "--" or "" for nothing (0). A comma (or
// dot) followed by exactly three digits and nothing else is a thousands separator when
// it is the only separator: "1,234" is 1234. Negative amounts are refused.
func parseAmount(s string) (float64, error) {
	orig := s
	s = strings.TrimSpace(s)
	s = strings.TrimLeft(s, "$€£¥ \u00a0")
	s = strings.TrimSpace(strings.TrimRight(s, "$€£¥ \u00a0"))
	if s == "" || s == "--" || s == "-" {
		return 0, nil
	}
	s = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "", "'", "").Replace(s)
	comma, dot := strings.LastIndexByte(s, ','), strings.LastIndexByte(s, '.')
	switch {
	case comma >= 0 && dot >= 0: // the later one is the decimal separator
		if comma > dot {
			s = strings.ReplaceAll(s, ".", "")
			s = strings.Replace(s, ",", ".", 1)
		} else {
			s = strings.ReplaceAll(s, ",", "")
		}
	case comma >= 0:
		s = decimalOrGroups(s, ',')
	case dot >= 0 && strings.Count(s, ".") > 1:
		s = decimalOrGroups(s, '.')
	}
	if s == "" || strings.ContainsAny(s, "eEinfINFxX+") {
		return 0, fmt.Errorf("%q is not a number", orig)
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", orig)
	}
	if x < 0 {
		return 0, fmt.Errorf("%q is negative", orig)
	}
	return x, nil
}

// decimalOrGroups rewrites s, whose only separator is sep, to Go syntax: sep groups
// thousands when every group after the first has three digits, else it is the decimal
// separator (then it may appear once).
func decimalOrGroups(s string, sep byte) string {
	parts := strings.Split(s, string(sep))
	groups := len(parts[0]) > 0 && len(parts[0]) <= 3 && parts[0][0] != '0' // "0,125" is a fraction
	for _, p := range parts[1:] {
		groups = groups && len(p) == 3
	}
	if groups {
		return strings.Join(parts, "")
	}
	if len(parts) == 2 {
		return parts[0] + "." + parts[1]
	}
	return "" // "1,2,3": neither
}

// parseCount reads clicks or impressions: a whole number written as parseAmount reads.
func parseCount(s string) (uint64, error) {
	x, err := parseAmount(s)
	if err != nil {
		return 0, err
	}
	if x != float64(uint64(x)) || x > 1e15 {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return uint64(x), nil
}

// dayLayouts are the dates of cost exports: ISO (Google Ads, Meta, Microsoft Ads'
// TimePeriod), US month/day/year (Microsoft Ads' "Gregorian date" in English), day.month.year,
// and the written-out forms of English report settings.
var dayLayouts = []string{
	"2006-01-02", "2006/01/02", "1/2/2006", "2.1.2006", "20060102",
	"Jan 2, 2006", "January 2, 2006", "Mon, Jan 2, 2006", "Monday, January 2, 2006",
	"2 Jan 2006", "2 January 2006", "02-Jan-2006",
}

// parseDay reads a date of a cost export as YYYY-MM-DD.
func parseDay(s string) (string, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format("2006-01-02"), nil
	}
	if i := strings.IndexAny(s, "T "); i == 10 { // "2026-10-01 00:00:00", "2026-10-01T00:00:00"
		if _, err := time.Parse("15:04:05", strings.TrimSpace(s[i+1:])); err == nil {
			s = s[:i]
		}
	}
	for _, layout := range dayLayouts {
		if t, err := time.Parse(layout, s); err == nil && t.Year() >= 1990 && t.Year() < 2200 {
			return t.Format("2006-01-02"), nil
		}
	}
	return "", fmt.Errorf("date %q is not a date (like 2026-10-01, 10/1/2026 or Oct 1, 2026)", s)
}
