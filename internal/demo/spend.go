package demo

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"time"
)

// The demo's ad spend arrives the way a marketer loads it: Google Ads' campaign report
// and keyword report as downloaded (the keyword report holds most but not all of the
// campaign's spend), a Meta Ads Manager export with its ad set, and LinkedIn's spend in
// US dollars as JSON. The US dollars, and the sales paid in them, are converted with the
// ECB's reference rates of the period, loaded as the ECB's history file; one customer
// pays in Swiss francs, for which no rate is loaded, so the report shows that sale as
// unconverted.

// CostExport is an ad platform's cost export as downloaded.
type CostExport struct {
	Platform string
	Query    string // extra parameters of POST /api/v1/costs
	CSV      []byte
}

// searchKeyword is a keyword of a Google Ads campaign and its share of the campaign's
// search spend.
type searchKeyword struct {
	adGroup, text, match string
	share                float64
}

// googleKeywords are the keywords of the Google Ads campaigns; the first of each is the
// utm_term of the campaign's landing URLs.
var googleKeywords = map[string][]searchKeyword{
	"brand": {{"Brand", "acme crm", "Exact match", 0.8}, {"Brand", "acme crm pricing", "Phrase match", 0.2}},
	"generic-crm": {{"CRM for agencies", "best crm for agencies", "Broad match", 0.65},
		{"CRM for agencies", "crm for agencies", "Phrase match", 0.35}},
}

// searchShare is the part of a Google Ads campaign's spend its keywords account for;
// the rest goes to other ad types and shows as unallocated cost by keyword.
const searchShare = 0.92

// usdPerEUR is the demo's reference rate of day: what the rates file says for a working
// day, the previous working day's rate on a weekend (as the reports read it).
func usdPerEUR(day time.Time) float64 {
	for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
		day = day.AddDate(0, 0, -1)
	}
	n := float64(day.Unix() / 86400)
	return math.Round((1.08+0.025*math.Sin(n/9)+0.004*math.Cos(n*1.7))*1e4) / 1e4
}

func gbpPerEUR(day time.Time) float64 {
	n := float64(day.Unix() / 86400)
	return math.Round((0.842+0.008*math.Sin(n/13))*1e5) / 1e5
}

// price is a sale's value and currency: most customers pay in euros, one in eight in
// US dollars (the same amount at the day's rate), and the second customer in Swiss
// francs.
func (g *gen) price(eur float64, at time.Time) (float64, string) {
	sales := 0
	for _, c := range g.ds.Conversions {
		if c.Type == "sale" {
			sales++
		}
	}
	switch {
	case sales == 1:
		return math.Round(eur * 0.94), "CHF"
	case sales%8 == 3:
		return math.Round(eur * usdPerEUR(at)), "USD"
	}
	return eur, "EUR"
}

// costs writes a day of spend per paid campaign, varying ±30%, and the rates file.
func (g *gen) costs() {
	var googleCampaigns, googleKeywordRows, meta [][]string
	fmtMoney := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	grouped := func(n int) string { // Google Ads writes thousands with commas
		s := strconv.Itoa(n)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	}
	for d := g.start; d.Before(g.end); d = d.AddDate(0, 0, 1) {
		date := d.Format("2006-01-02")
		for _, a := range arrivals {
			if !a.paid {
				continue
			}
			c := a.dailyCost * (0.7 + 0.6*g.r.Float64())
			switch a.source {
			case "google":
				clicks, impressions := 0, 0
				for _, k := range googleKeywords[a.campaign] {
					spend := math.Round(c*searchShare*k.share*100) / 100
					kc := int(math.Max(1, math.Round(spend/(1.1+1.3*g.r.Float64()))))
					ki := kc * (9 + g.r.IntN(10))
					clicks, impressions = clicks+kc, impressions+ki
					googleKeywordRows = append(googleKeywordRows, []string{"Enabled", k.text, k.match, a.campaign, k.adGroup, date, "EUR",
						grouped(kc), grouped(ki), fmtMoney(spend)})
				}
				googleCampaigns = append(googleCampaigns, []string{a.campaign, date, "EUR", grouped(clicks + 2),
					grouped(impressions + 40), fmtMoney(c)})
			case "facebook":
				impressions := int(c * float64(60+g.r.IntN(30)))
				meta = append(meta, []string{date, date, a.campaign, "Site visitors 30d", strconv.Itoa(impressions),
					strconv.Itoa(impressions * (10 + g.r.IntN(10)) / 1000), fmtMoney(c)})
			default: // LinkedIn bills the demo's account in US dollars
				usd := math.Round(c*usdPerEUR(d)*100) / 100
				clicks := int(usd / 6)
				g.ds.Costs = append(g.ds.Costs, Cost{Date: date, Source: a.source, Medium: a.medium, Campaign: a.campaign, Cost: usd,
					Currency: "USD", Clicks: uint64(clicks), Impressions: uint64(clicks * 180)})
			}
		}
	}
	googleCampaigns = append(googleCampaigns, []string{"Total: Account", "--", "EUR", "--", "--", "--"})
	googleKeywordRows = append(googleKeywordRows, []string{"Total: Account", "--", "--", "--", "--", "--", "EUR", "--", "--", "--"})
	span := fmt.Sprintf("\"%s - %s\"\n", g.start.Format("January 2, 2006"), g.end.AddDate(0, 0, -1).Format("January 2, 2006"))
	g.ds.CostExports = []CostExport{
		{"Google Ads campaign report", "", exportCSV("Campaign report\n"+span, ',',
			[]string{"Campaign", "Day", "Currency code", "Clicks", "Impr.", "Cost"}, googleCampaigns)},
		{"Google Ads keyword report", "", exportCSV("Keyword report\n"+span, ',',
			[]string{"Keyword status", "Keyword", "Match type", "Campaign", "Ad group", "Day", "Currency code", "Clicks", "Impr.", "Cost"},
			googleKeywordRows)},
		{"Meta Ads Manager export", "source=facebook&medium=paid_social", exportCSV("\ufeff", ',',
			[]string{"Reporting starts", "Reporting ends", "Campaign name", "Ad set name", "Impressions", "Link clicks", "Amount spent (EUR)"},
			meta)},
	}
	g.ds.Rates = g.rates()
}

// rates is the ECB's history file for the period: working days only, newest first,
// per 1 EUR, N/A where a currency has no rate, each line ending in a comma.
func (g *gen) rates() []byte {
	var b bytes.Buffer
	b.WriteString("Date,USD,JPY,BGN,CYP,GBP,\n")
	for d := g.end; !d.Before(g.start.AddDate(0, 0, -7)); d = d.AddDate(0, 0, -1) {
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			continue
		}
		fmt.Fprintf(&b, "%s,%.4f,%.2f,1.9558,N/A,%.5f,\n", d.Format("2006-01-02"), usdPerEUR(d), 158+4*math.Sin(float64(d.YearDay())/7), gbpPerEUR(d))
	}
	return b.Bytes()
}

// exportCSV writes an export: its preamble lines, then the header and rows.
func exportCSV(preamble string, sep rune, header []string, rows [][]string) []byte {
	var b bytes.Buffer
	b.WriteString(preamble)
	w := csv.NewWriter(&b)
	w.Comma = sep
	w.Write(header)
	w.WriteAll(rows)
	return b.Bytes()
}
