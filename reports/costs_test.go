package reports

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

var eurDefaults = CostDefaults{Currency: "EUR"}

func TestParseCosts(t *testing.T) {
	f := func(contentType, body string, want []Cost, wantErr string) {
		t.Helper()
		got, err := ParseCosts(contentType, []byte(body), eurDefaults)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("ParseCosts(%q): err = %v, want it to mention %q", body, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseCosts(%q): %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseCosts(%q) =\n%+v\nwant\n%+v", body, got, want)
		}
	}
	f("text/csv", "date,source,medium,campaign,cost,currency\n2026-10-01,Google,CPC,brand,12.5,eur\n",
		[]Cost{{Date: "2026-10-01", Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", Cost: 12.5, Currency: "EUR"}}, "")
	// Without a currency a row is in the site's currency.
	f("text/csv", "\ufeffcost,date,source,channel\n3,2026-10-02,newsletter,Email\n",
		[]Cost{{Date: "2026-10-02", Channel: "Email", Source: "newsletter", Cost: 3, Currency: "EUR"}}, "")
	f("application/json", `{"costs":[{"date":"2026-10-01","source":"facebook","medium":"paid_social","campaign":"retarget","cost":40,"currency":"usd"}]}`,
		[]Cost{{Date: "2026-10-01", Channel: "Paid Social", Source: "facebook", Medium: "paid_social", Campaign: "retarget", Cost: 40, Currency: "USD"}}, "")
	// Keyword rows with ad group, clicks and impressions; match-type marks are dropped,
	// and the rows of one keyword, ad group and day (match types, devices) add up.
	f("text/csv", "date,source,medium,campaign,ad_group,term,cost,clicks,impressions\n"+
		"2026-10-01,google,cpc,brand,Brand exact,[acme crm],10.5,7,120\n"+
		"2026-10-01,google,cpc,brand,Brand exact,\"\"\"acme crm\"\"\",1.5,1,30\n"+
		"2026-10-01,google,cpc,brand,Brand broad,+acme +software,2,1,9\n",
		[]Cost{
			{Date: "2026-10-01", Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", AdGroup: "Brand exact", Term: "acme crm", Cost: 12, Currency: "EUR", Clicks: 8, Impressions: 150},
			{Date: "2026-10-01", Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", AdGroup: "Brand broad", Term: "acme software", Cost: 2, Currency: "EUR", Clicks: 1, Impressions: 9},
		}, "")
	f("text/csv", "date,source\n2026-10-01,google\n", nil, "no CSV header with a date and a cost column")
	f("text/csv", "date,source,cost\n2026-13-01,google,1\n", nil, "not a date")
	f("text/csv", "date,source,cost\n2026-10-01,google,abc\n", nil, "not a number")
	f("text/csv", "date,source,cost\n2026-10-01,google,-1\n", nil, "negative")
	f("text/csv", "date,source,cost\n2026-10-01,,1\n", nil, "source is required")
	f("text/csv", "date,source,cost\n", nil, "no cost rows")
	f("text/csv", "date,source,cost,currency\n2026-10-01,google,1,euro\n", nil, "not an ISO 4217 code")
	f("text/csv", "date,source,cost,clicks\n2026-10-01,google,1,2.5\n", nil, "not a whole number")
	f("text/csv", "date,source,cost,currency\n2026-10-01,google,1,EUR\n2026-10-01,google,1,USD\n", nil, "in EUR and in USD")
	f("application/json", `{"costs":[{"date":"2026-10-01","source":"x","cost":"1"}]}`, nil, "malformed JSON")
	// A line that is neither data nor a total is never dropped silently.
	f("text/csv", "date,source,cost\n2026-10-01,google,1\nsomething else,google,2\n", nil, "CSV line 3")
}

// Real exports, as the platforms write them: preamble lines, quoted thousands, total and
// copyright lines, their date formats and their currencies; the rows get the platform's
// source and medium unless the import names others.
func TestParsePlatformExports(t *testing.T) {
	f := func(name string, body []byte, def CostDefaults, want []Cost) {
		t.Helper()
		got, err := ParseCosts("text/csv", body, def)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n%+v\nwant\n%+v", name, got, want)
		}
	}
	google := "Keyword report\n\"October 1, 2026 - October 2, 2026\"\n" +
		"Keyword status,Keyword,Match type,Campaign,Ad group,Day,Currency code,Clicks,Impr.,CTR,Avg. CPC,Cost\n" +
		"Enabled,[acme crm],Exact match,brand,Brand exact,2026-10-01,USD,\"1,204\",\"15,880\",7.58%,0.98,\"1,180.42\"\n" +
		"Enabled,best crm for agencies,Broad match,generic-crm,Generic,2026-10-02,USD,31,977,3.17%,2.10,65.10\n" +
		"Total: Keywords,--,--,--,--,--,USD,\"1,235\",\"16,857\",7.33%,1.01,\"1,245.52\"\n" +
		"Total: Account,--,--,--,--,--,USD,\"1,235\",\"16,857\",7.33%,1.01,\"1,245.52\"\n"
	f("Google Ads", []byte(google), eurDefaults, []Cost{
		{Date: "2026-10-01", Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", AdGroup: "Brand exact", Term: "acme crm", Cost: 1180.42, Currency: "USD", Clicks: 1204, Impressions: 15880},
		{Date: "2026-10-02", Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "generic-crm", AdGroup: "Generic", Term: "best crm for agencies", Cost: 65.10, Currency: "USD", Clicks: 31, Impressions: 977},
	})
	// The same export saved as "CSV for Excel": UTF-16 with a BOM, tab-separated.
	googleRows, err := ParseCosts("text/csv", []byte(google), eurDefaults)
	if err != nil {
		t.Fatal(err)
	}
	f("Google Ads, UTF-16", utf16LE(tabs(google)), eurDefaults, googleRows)

	microsoft := "\"Report Name: Keyword Performance Report\"\n\"Report Time: 10/1/2026 - 10/2/2026\"\n\"Time Zone: (GMT) Dublin, Edinburgh, Lisbon, London\"\n" +
		"\"Last Completed Available Day: 10/3/2026 11:20:00 AM (GMT)\"\n\"Report Aggregation: Daily\"\n\"Report Filter: \"\n\"Potential Incomplete Data: false\"\n\"Rows: 2\"\n\n" +
		"\"Gregorian date\",\"Campaign name\",\"Ad group\",\"Keyword\",\"Impressions\",\"Clicks\",\"Spend\",\"Currency code\"\n" +
		"\"10/1/2026\",\"brand\",\"Brand\",\"acme crm\",\"2,310\",\"88\",\"61.12\",\"GBP\"\n" +
		"\"10/2/2026\",\"brand\",\"Brand\",\"acme crm\",\"1,950\",\"71\",\"49.80\",\"GBP\"\n" +
		"\"Total\",\"\",\"\",\"\",\"4,260\",\"159\",\"110.92\",\"\"\n\n" +
		"\"©2026 Microsoft Corporation. All rights reserved. \"\n"
	f("Microsoft Advertising", []byte(microsoft), eurDefaults, []Cost{
		{Date: "2026-10-01", Channel: "Paid Search", Source: "bing", Medium: "cpc", Campaign: "brand", AdGroup: "Brand", Term: "acme crm", Cost: 61.12, Currency: "GBP", Clicks: 88, Impressions: 2310},
		{Date: "2026-10-02", Channel: "Paid Search", Source: "bing", Medium: "cpc", Campaign: "brand", AdGroup: "Brand", Term: "acme crm", Cost: 49.80, Currency: "GBP", Clicks: 71, Impressions: 1950},
	})
	api := "TimePeriod,CampaignName,AdGroupName,Keyword,Impressions,Clicks,Spend,CurrencyCode\n2026-10-01,brand,Brand,acme crm,2310,88,61.12,GBP\n"
	f("Microsoft Advertising API", []byte(api), eurDefaults, []Cost{
		{Date: "2026-10-01", Channel: "Paid Search", Source: "bing", Medium: "cpc", Campaign: "brand", AdGroup: "Brand", Term: "acme crm", Cost: 61.12, Currency: "GBP", Clicks: 88, Impressions: 2310},
	})

	meta := "\ufeffReporting starts,Reporting ends,Campaign name,Ad set name,Results,Result indicator,Impressions,Link clicks,Clicks (all),Amount spent (SEK)\n" +
		"2026-10-01,2026-10-01,retargeting-q4,Visitors 30d,3,actions:lead,\"12,400\",210,388,\"1 204,50\"\n" +
		"2026-10-02,2026-10-02,retargeting-q4,Visitors 30d,1,actions:lead,9800,170,301,\"990,00\"\n"
	f("Meta Ads Manager", []byte(meta), CostDefaults{Medium: "paid-social", Currency: "EUR"}, []Cost{
		{Date: "2026-10-01", Channel: "Paid Social", Source: "facebook", Medium: "paid-social", Campaign: "retargeting-q4", AdGroup: "Visitors 30d", Cost: 1204.50, Currency: "SEK", Clicks: 210, Impressions: 12400},
		{Date: "2026-10-02", Channel: "Paid Social", Source: "facebook", Medium: "paid-social", Campaign: "retargeting-q4", AdGroup: "Visitors 30d", Cost: 990, Currency: "SEK", Clicks: 170, Impressions: 9800},
	})
	// A Meta row that sums a month cannot be placed on a day.
	if _, err := ParseCosts("text/csv", []byte("Reporting starts,Reporting ends,Campaign name,Amount spent (EUR)\n2026-10-01,2026-10-31,x,100\n"), eurDefaults); err == nil ||
		!strings.Contains(err.Error(), "one row per day") {
		t.Fatalf("a month-long Meta row: %v", err)
	}
}

// Rows written in each platform's layout, with every quirk at random, parse back to the
// rows they were made from: the rows are the reference the parser is held to.
func TestParseExportsMatchTheirRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for n := 0; n < 300; n++ {
		rows := randomCosts(rng, 1+rng.IntN(6))
		layout := exportLayouts[rng.IntN(len(exportLayouts))]
		body := layout.render(rng, rows)
		got, err := ParseCosts("text/csv", body, eurDefaults)
		if err != nil {
			t.Fatalf("%s: %v\n%s", layout.name, err, body)
		}
		want := make([]Cost, len(rows))
		for i, r := range rows {
			want[i] = r
			want[i].Source, want[i].Medium = layout.source, layout.medium
			want[i].Channel = ""
			if err := want[i].normalise(eurDefaults); err != nil {
				t.Fatal(err)
			}
		}
		if want, err = addUp(want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n%s\ngave %+v\nwant %+v", layout.name, body, got, want)
		}
	}
}

func randomCosts(rng *rand.Rand, n int) []Cost {
	out := make([]Cost, n)
	for i := range out {
		camp := rng.IntN(4)
		out[i] = Cost{
			Date:        fmt.Sprintf("2026-%02d-%02d", 1+rng.IntN(12), 1+rng.IntN(28)),
			Campaign:    []string{"brand", "generic, crm", "Q4 \"sale\"", "retargeting"}[camp],
			AdGroup:     []string{"Brand", "Ad group; one", ""}[rng.IntN(3)],
			Term:        []string{"acme crm", "crm für agenturen", ""}[rng.IntN(3)],
			Cost:        float64(rng.IntN(500000)) / 100,
			Currency:    []string{"EUR", "USD", "GBP", "EUR"}[camp], // a campaign has one currency
			Clicks:      uint64(rng.IntN(20000)),
			Impressions: uint64(rng.IntN(2000000)),
		}
	}
	return out
}

// exportLayout writes rows the way one platform's export does.
type exportLayout struct {
	name, source, medium string
	render               func(rng *rand.Rand, rows []Cost) []byte
}

var exportLayouts = []exportLayout{
	{"Google Ads", "google", "cpc", func(rng *rand.Rand, rows []Cost) []byte {
		var b bytes.Buffer
		b.WriteString("Keyword report\n\"January 1, 2026 - December 31, 2026\"\n")
		w := csv.NewWriter(&b)
		w.Write([]string{"Day", "Campaign", "Ad group", "Keyword", "Currency code", "Clicks", "Impr.", "Cost"})
		for _, r := range rows {
			w.Write([]string{day2(rng, r.Date), r.Campaign, r.AdGroup, matchType(rng, r.Term), r.Currency, grouped(rng, float64(r.Clicks), 0),
				grouped(rng, float64(r.Impressions), 0), grouped(rng, r.Cost, 2)})
		}
		w.Write([]string{"Total: Account", "--", "--", "--", "--", "1", "1", "1.00"})
		w.Flush()
		switch rng.IntN(3) {
		case 1:
			return append([]byte("\ufeff"), b.Bytes()...)
		case 2:
			return utf16LE(tabs(b.String()))
		}
		return b.Bytes()
	}},
	{"Microsoft Advertising", "bing", "cpc", func(rng *rand.Rand, rows []Cost) []byte {
		var b bytes.Buffer
		b.WriteString("\"Report Name: Keyword Performance Report\"\n\"Rows: 9\"\n\n")
		w := csv.NewWriter(&b)
		w.Write([]string{"Gregorian date", "Campaign name", "Ad group", "Keyword", "Impressions", "Clicks", "Spend", "Currency code"})
		for _, r := range rows {
			d := r.Date
			if rng.IntN(2) == 0 {
				var y, m, dd int
				fmt.Sscanf(r.Date, "%d-%d-%d", &y, &m, &dd)
				d = fmt.Sprintf("%d/%d/%d", m, dd, y)
			}
			w.Write([]string{d, r.Campaign, r.AdGroup, r.Term, grouped(rng, float64(r.Impressions), 0), strconv.FormatUint(r.Clicks, 10),
				strconv.FormatFloat(r.Cost, 'f', 2, 64), r.Currency})
		}
		w.Write([]string{"Total", "", "", "", "1", "1", "1.00", ""})
		w.Write([]string{"©2026 Microsoft Corporation. All rights reserved. "})
		w.Flush()
		return b.Bytes()
	}},
	{"Meta Ads Manager", "facebook", "paid_social", func(rng *rand.Rand, rows []Cost) []byte {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Comma = []rune{',', ';', '\t'}[rng.IntN(3)]
		w.Write([]string{"Reporting starts", "Reporting ends", "Campaign name", "Ad set name", "Impressions", "Link clicks", "Amount spent", "Currency"})
		for _, r := range rows {
			cost := strconv.FormatFloat(r.Cost, 'f', 2, 64)
			if w.Comma == ';' {
				cost = strings.Replace(cost, ".", ",", 1) // a decimal comma where ; separates
			}
			w.Write([]string{r.Date, r.Date, r.Campaign, r.AdGroup, strconv.FormatUint(r.Impressions, 10), strconv.FormatUint(r.Clicks, 10), cost, r.Currency})
		}
		w.Flush()
		return b.Bytes()
	}},
}

// Meta exports have no keyword column.
func init() {
	meta := exportLayouts[2].render
	exportLayouts[2].render = func(rng *rand.Rand, rows []Cost) []byte {
		for i := range rows {
			rows[i].Term = ""
		}
		return meta(rng, rows)
	}
}

func day2(rng *rand.Rand, d string) string {
	if rng.IntN(2) == 0 {
		return d
	}
	var y, m, dd int
	fmt.Sscanf(d, "%d-%d-%d", &y, &m, &dd)
	return fmt.Sprintf("%s %d, %d", []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}[m-1], dd, y)
}

func matchType(rng *rand.Rand, term string) string {
	if term == "" {
		return ""
	}
	switch rng.IntN(3) {
	case 1:
		return "[" + term + "]"
	case 2:
		return "\"" + term + "\""
	}
	return term
}

// grouped writes x with thousands separators now and then, as spreadsheets do.
func grouped(rng *rand.Rand, x float64, decimals int) string {
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	if rng.IntN(2) == 0 {
		return s
	}
	whole, frac, _ := strings.Cut(s, ".")
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	if frac != "" {
		return whole + "." + frac
	}
	return whole
}

// tabs rewrites CSV lines as tab-separated ones, keeping lines that are not CSV.
func tabs(text string) string {
	var out strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			out.WriteString(line)
			continue
		}
		w := csv.NewWriter(&out)
		w.Comma = '\t'
		w.Write(rec)
		w.Flush()
	}
	return out.String()
}

func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := []byte{0xFF, 0xFE}
	for _, c := range u {
		out = append(out, byte(c), byte(c>>8))
	}
	return out
}

func TestParseAmount(t *testing.T) {
	f := func(s string, want float64, ok bool) {
		t.Helper()
		got, err := parseAmount(s)
		if ok != (err == nil) || got != want {
			t.Fatalf("parseAmount(%q) = %v, %v; want %v (ok %v)", s, got, err, want, ok)
		}
	}
	f("1234.5", 1234.5, true)
	f("1,234.50", 1234.5, true)
	f("1,234,567.8", 1234567.8, true)
	f("1.234,50", 1234.5, true)
	f("1.234.567", 1234567, true)
	f("12,5", 12.5, true)
	f("0,125", 0.125, true)
	f("1,234", 1234, true)
	f("$1,234.50", 1234.5, true)
	f("€ 12", 12, true)
	f("12.00 €", 12, true)
	f("1 234,50", 1234.5, true)
	f("1\u00a0234,50", 1234.5, true)
	f("--", 0, true)
	f("", 0, true)
	f("0", 0, true)
	f("-3", 0, false)
	f("1e3", 0, false)
	f("Inf", 0, false)
	f("NaN", 0, false)
	f("0x10", 0, false)
	f("1,2,3", 0, false)
	f("12..5", 0, false)
	f("abc", 0, false)
}

func TestParseDay(t *testing.T) {
	f := func(s, want string) {
		t.Helper()
		got, err := parseDay(s)
		if (err == nil) != (want != "") || got != want {
			t.Fatalf("parseDay(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
	f("2026-10-01", "2026-10-01")
	f(" 2026-10-01 ", "2026-10-01")
	f("2026/10/01", "2026-10-01")
	f("10/1/2026", "2026-10-01")
	f("10/01/2026", "2026-10-01")
	f("1.10.2026", "2026-10-01")
	f("Oct 1, 2026", "2026-10-01")
	f("October 1, 2026", "2026-10-01")
	f("Thu, Oct 1, 2026", "2026-10-01")
	f("1 Oct 2026", "2026-10-01")
	f("2026-10-01 00:00:00", "2026-10-01")
	f("2026-10-01T00:00:00", "2026-10-01")
	f("20261001", "2026-10-01")
	f("2026-13-01", "")
	f("Total", "")
	f("--", "")
	f("", "")
	f("10/1/26", "")
}

// The amount parser agrees with strconv on every number written plainly, with
// thousands separators, or with a decimal comma.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0", "1234.5", "0.07", "1000000", "99999.99", "1,234", "1.234,5"} {
		f.Add(s)
	}
	plain := regexp.MustCompile(`^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$`)
	f.Fuzz(func(t *testing.T, s string) {
		x, err := parseAmount(s) // never panics
		if err == nil && (x < 0 || math.IsNaN(x) || math.IsInf(x, 0)) {
			t.Fatalf("parseAmount(%q) = %v", s, x)
		}
		if !plain.MatchString(s) {
			return
		}
		ref, _ := strconv.ParseFloat(s, 64)
		_, frac, _ := strings.Cut(s, ".")
		forms := []string{s, grouped(rand.New(rand.NewPCG(1, 1)), ref, len(frac)), "$" + s, s + " €"}
		if frac != "" {
			forms = append(forms, strings.Replace(s, ".", ",", 1))
		}
		for _, in := range forms {
			if got, err := parseAmount(in); err != nil || got != ref {
				t.Fatalf("parseAmount(%q) = %v, %v; strconv reads %q as %v", in, got, err, s, ref)
			}
		}
	})
}

// Whatever the parser accepts is a valid cost row, and written in Touchpoint's own
// columns it reads back the same.
func FuzzParseCosts(f *testing.F) {
	f.Add([]byte("date,source,medium,campaign,ad_group,term,cost,clicks,impressions\n2026-10-01,google,cpc,brand,b,[acme crm],10.5,7,120\n"))
	f.Add([]byte("Keyword report\n\"October 1, 2026\"\nDay,Campaign,Keyword,Currency code,Clicks,Impr.,Cost\n2026-10-01,brand,x,USD,\"1,204\",\"15,880\",\"1,180.42\"\nTotal: Account,--,--,USD,1,1,1\n"))
	f.Add([]byte("Reporting starts,Reporting ends,Campaign name,Amount spent (SEK)\n2026-10-01,2026-10-01,x,\"1 204,50\"\n"))
	f.Add([]byte("\"Report Name: x\"\n\nGregorian date,Campaign name,Spend,CurrencyCode\n10/1/2026,b,1.5,GBP\n\"©2026 Microsoft Corporation. All rights reserved. \"\n"))
	f.Add(utf16LE("Day\tCampaign\tCost\n2026-10-01\tbrand\t5\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, err := ParseCosts("text/csv", body, CostDefaults{Source: "google", Currency: "EUR"})
		if err != nil {
			return
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Write([]string{"date", "channel", "source", "medium", "campaign", "ad_group", "term", "cost", "currency", "clicks", "impressions"})
		for _, r := range rows {
			if r.Cost < 0 || r.Source == "" || len(r.Currency) != 3 {
				t.Fatalf("invalid row %+v from %q", r, body)
			}
			w.Write([]string{r.Date, r.Channel, r.Source, r.Medium, r.Campaign, r.AdGroup, r.Term, strconv.FormatFloat(r.Cost, 'f', -1, 64),
				r.Currency, strconv.FormatUint(r.Clicks, 10), strconv.FormatUint(r.Impressions, 10)})
		}
		w.Flush()
		again, err := ParseCosts("text/csv", b.Bytes(), CostDefaults{Currency: "EUR"})
		if err != nil {
			t.Fatalf("rows %+v written as CSV do not parse: %v\n%s", rows, err, b.Bytes())
		}
		if !reflect.DeepEqual(rows, again) {
			t.Fatalf("rows %+v read back as %+v", rows, again)
		}
	})
}

// A report's ratios are those of the rounded figures it shows beside them, whatever the
// order its amounts were added up in: 133.61 / 2 sales is 66.81 a sale, even when the
// costs, added up in another order, came to 133.60999999999999.
func TestRatiosAreOfTheFiguresShown(t *testing.T) {
	for _, parts := range [][]float64{{0.1, 0.2, 133.31}, {133.31, 0.2, 0.1}} {
		var tl tally
		for _, v := range parts {
			tl.cost.sum += v
		}
		tl.leads, tl.sales, tl.revenue.sum = 3, 2, 200.004
		f := tl.figures()
		if f.CostPerSale == nil || f.CostPerLead == nil || f.ROAS == nil || f.ROI == nil {
			t.Fatalf("costs %v: a ratio is missing: %+v", parts, f)
		}
		if f.Cost != 133.61 || f.Revenue != 200 || *f.CostPerSale != 66.81 || *f.CostPerLead != 44.54 ||
			*f.ROAS != credit6(200/133.61) || *f.ROI != credit6((200-133.61)/133.61) {
			t.Errorf("costs %v: cost %v, revenue %v, per sale %v, per lead %v, ROAS %v, ROI %v; want 133.61, 200, 66.81, 44.54, %v, %v",
				parts, f.Cost, f.Revenue, *f.CostPerSale, *f.CostPerLead, *f.ROAS, *f.ROI,
				credit6(200/133.61), credit6((200-133.61)/133.61))
		}
	}
}
