package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // named time zones of exports work on hosts without a zone database

	"touchpoint/attribution/model"
	"touchpoint/internal/site"
)

// AdPlatform is an ad platform that takes offline conversions as a CSV file in its own
// template, matched to its ad clicks by click id.
type AdPlatform struct {
	Name       string   // as in the export's URL
	ClickTypes []string // the click id parameters it matches
	// named reports whether the Parameters line may name a time zone (else only an offset).
	named bool
}

// The ad platforms with offline conversion exports.
var (
	GoogleAds    = AdPlatform{Name: "google-ads", ClickTypes: []string{"gclid", "gbraid", "wbraid"}, named: true}
	MicrosoftAds = AdPlatform{Name: "microsoft-ads", ClickTypes: []string{"msclkid"}}
)

// OfflineParams choose what an offline conversion export holds.
type OfflineParams struct {
	Params        // site, from, to (by the conversion's time) and the credit model
	Type   string // the conversion type exported
	Name   string // the conversion name the platform knows it by
	// Zone is the time zone of the conversion times, named in the file's Parameters line.
	Zone     *time.Location
	ZoneName string
	// GclidOnly leaves out gbraid and wbraid clicks (Google Ads), so the file keeps the
	// five-column template.
	GclidOnly bool
}

var offsetRe = regexp.MustCompile(`^([+-])(\d{2}):?(\d{2})$`)

// clickIDRe is what a real click id looks like (base64url or hex). Anyone can put
// anything in a landing URL: other values are left out, so a file opened in a spreadsheet
// never holds a formula.
var clickIDRe = regexp.MustCompile(`^[A-Za-z0-9_~.][A-Za-z0-9_~.-]{0,511}$`)

// CheckConversionName refuses a conversion name a platform cannot match or a spreadsheet
// would read as a formula.
func CheckConversionName(name string) error {
	if name == "" || len(name) > 100 || strings.ContainsAny(name, "\r\n\t") || strings.ContainsAny(name[:1], "=+-@") {
		return fmt.Errorf("name %q: 1-100 characters, on one line, not starting with = + - @", name)
	}
	return nil
}

// ParseZone reads a time zone for a platform's Parameters line: an offset such as +0100
// or -05:30, or (Google Ads) a zone name such as Europe/London. Empty is +0000.
func ParseZone(s string, p AdPlatform) (*time.Location, string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "UTC" || s == "Z" {
		s = "+0000"
	}
	if m := offsetRe.FindStringSubmatch(s); m != nil {
		h, _ := strconv.Atoi(m[2])
		min, _ := strconv.Atoi(m[3])
		if h > 14 || min > 59 {
			return nil, "", fmt.Errorf("timezone %q is not an offset from -1400 to +1400", s)
		}
		secs := (h*60 + min) * 60
		if m[1] == "-" {
			secs = -secs
		}
		name := m[1] + m[2] + m[3]
		return time.FixedZone(name, secs), name, nil
	}
	if !p.named {
		return nil, "", fmt.Errorf("timezone %q: this template takes an offset such as +0100 or -0500", s)
	}
	loc, err := time.LoadLocation(s)
	if err != nil || strings.Contains(s, "..") || s == "Local" {
		return nil, "", fmt.Errorf("timezone %q is neither an offset such as +0100 nor a zone name such as Europe/London", s)
	}
	return loc, s, nil
}

// OfflineConversion is one row of an export.
type OfflineConversion struct {
	ConversionID       string
	ClickType, ClickID string
	At                 time.Time
	Value              float64
	Currency           string
	Credit             float64 // of the touch with the click id, in the chosen model
}

// OfflineConversions returns one row per conversion of the type in the range whose touch
// credited by the model carries a click id of the platform. With a model that shares
// credit, the touch with the most credit among those with a click id stands for the
// conversion (the latest of equals). The value is the conversion's whole value in its own
// currency (the site's when it has none).
func (s *Store) OfflineConversions(ctx context.Context, st *site.Site, platform AdPlatform, p OfflineParams) ([]OfflineConversion, error) {
	types := platform.ClickTypes
	if p.GclidOnly {
		types = []string{"gclid"}
	}
	latest, latestArgs := p.credited(s.DB, "")
	credited := fmt.Sprintf(`SELECT conversion_id, occurred_at, session_id, touch_at, %[1]s, value * %[1]s, currency
		FROM %[2]s.touch_credits WHERE %[3]s AND conversion_type = ?`, model.CreditColumn(p.Model), s.DB, latest)
	args := append(latestArgs, p.Type)
	type credit struct {
		conv, session string
		at, touchAt   time.Time
		credit, rev   float64
		currency      string
	}
	var rows []credit
	err := s.each(ctx, credited, args, func(sc scanner) error {
		var c credit
		if err := sc.Scan(&c.conv, &c.at, &c.session, &c.touchAt, &c.credit, &c.rev, &c.currency); err != nil {
			return err
		}
		rows = append(rows, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read credited touches: %w", err)
	}
	clicks := map[string][2]string{}
	q := fmt.Sprintf(`SELECT toString(session_id), click_id_type, click_id FROM %s.sessions FINAL
		WHERE site_id = ? AND deleted = 0 AND started_at >= ? AND started_at < ? AND has(?, click_id_type) AND click_id != ''
			AND toString(session_id) IN (SELECT session_id FROM (%s))`, s.DB, credited)
	lookback := time.Duration(st.LookbackDays) * 24 * time.Hour
	err = s.each(ctx, q, append([]any{st.ID, p.From.Add(-lookback), p.end(), types}, args...), func(sc scanner) error {
		var id, typ, click string
		if err := sc.Scan(&id, &typ, &click); err != nil {
			return err
		}
		if clickIDRe.MatchString(click) {
			clicks[id] = [2]string{typ, click}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read click ids: %w", err)
	}
	byConv := map[string]*OfflineConversion{}
	var best = map[string]time.Time{}
	values := map[string]float64{}
	for _, r := range rows {
		values[r.conv] += r.rev
		c, ok := clicks[r.session]
		if !ok {
			continue
		}
		cur := byConv[r.conv]
		if cur == nil || r.credit > cur.Credit+1e-9 || math.Abs(r.credit-cur.Credit) <= 1e-9 && r.touchAt.After(best[r.conv]) {
			currency := r.currency
			if currency == "" {
				currency = st.Currency
			}
			byConv[r.conv] = &OfflineConversion{ConversionID: r.conv, ClickType: c[0], ClickID: c[1], At: r.at, Currency: currency, Credit: r.credit}
			best[r.conv] = r.touchAt
		}
	}
	out := make([]OfflineConversion, 0, len(byConv))
	for id, c := range byConv {
		c.Value = roundTo(values[id], math.Pow10(minorDigits(c.Currency)))
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].ConversionID < out[j].ConversionID
	})
	return out, nil
}

// OfflineCSV writes rows in the platform's template: a Parameters line naming the time
// zone of the conversion times, then the header and one line per conversion. Google Ads
// gets the five-column "Conversions from clicks" template, or the one with GBRAID and
// WBRAID columns (one id per row) when some click is an iOS click without a gclid.
// Microsoft Advertising gets its offline conversion columns. A conversion without a value
// leaves value and currency empty: the platform then uses the conversion goal's own.
func OfflineCSV(platform AdPlatform, p OfflineParams, rows []OfflineConversion) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Parameters:TimeZone=%s\n", p.ZoneName)
	w := csv.NewWriter(&b)
	braids := false
	for _, r := range rows {
		braids = braids || platform.Name == GoogleAds.Name && r.ClickType != "gclid"
	}
	var header []string
	switch {
	case platform.Name == MicrosoftAds.Name:
		header = []string{"Microsoft Click Id", "Conversion Name", "Conversion Time", "Conversion Value", "Conversion Currency Code"}
	case braids:
		header = []string{"Google Click ID", "GBRAID", "WBRAID", "Conversion Name", "Conversion Time", "Conversion Value", "Conversion Currency"}
	default:
		header = []string{"Google Click ID", "Conversion Name", "Conversion Time", "Conversion Value", "Conversion Currency"}
	}
	w.Write(header)
	for _, r := range rows {
		value, currency := "", ""
		if r.Value != 0 {
			value, currency = strconv.FormatFloat(r.Value, 'f', minorDigits(r.Currency), 64), r.Currency
		}
		line := []string{r.ClickID}
		if braids {
			line = []string{"", "", ""}
			line[map[string]int{"gclid": 0, "gbraid": 1, "wbraid": 2}[r.ClickType]] = r.ClickID
		}
		line = append(line, p.Name, r.At.In(p.Zone).Format("2006-01-02 15:04:05"), value, currency)
		w.Write(line)
	}
	w.Flush()
	return b.Bytes()
}

// minorDigits is how many decimals an amount in the currency has (ISO 4217): none for
// the yen or the won, three for the dinars of Bahrain, Kuwait or Jordan, else two. An
// export writes values so: 1200 JPY, 12.345 KWD, 1200.50 USD.
func minorDigits(currency string) int {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}
