package demo

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"touchpoint/collector/enrich"
	"touchpoint/internal/testenv"
	"touchpoint/reports"
)

func TestGenerate(t *testing.T) {
	o := Options{Site: "demo", Visitors: 5000, Weeks: 9, End: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC), Seed: 1}
	ds := Generate(o)
	if ds.Visitors < 5000 {
		t.Fatalf("%d visitors, want at least 5000", ds.Visitors)
	}
	if again := Generate(o); !reflect.DeepEqual(ds, again) {
		t.Fatal("the same options gave different data")
	}

	first, last := ds.Span()
	addrs := map[string]string{} // visitor id -> address
	langs := map[string]int{}
	leads := map[string]int{}
	kinds := map[string]int{}
	ids := map[string]bool{}
	for _, e := range ds.Events {
		if at := time.UnixMilli(e.TS); at.Before(first) || at.After(last) {
			t.Fatalf("event at %s outside the span %s..%s", at, first, last)
		}
		if ids[e.ID] {
			t.Fatalf("event id %s used twice", e.ID)
		}
		ids[e.ID] = true
		a, err := netip.ParseAddr(e.IP)
		if err != nil || !a.IsGlobalUnicast() || a.IsPrivate() {
			t.Fatalf("event %s of %s: address %q is not a public one", e.ID, e.VID, e.IP)
		}
		if prev, ok := addrs[e.VID]; ok && prev != e.IP {
			t.Fatalf("visitor %s: addresses %s and %s, want one per device", e.VID, prev, e.IP)
		}
		addrs[e.VID] = e.IP
		if e.Lang != "" {
			langs[e.Lang]++
		}
		switch {
		case strings.Contains(e.URL, "gclid="):
			kinds["google ads"]++
		case strings.Contains(e.URL, "utm_source=facebook"):
			kinds["facebook paid"]++
		case strings.Contains(e.URL, "utm_source=linkedin"):
			kinds["linkedin paid"]++
		case strings.Contains(e.URL, "utm_medium=email"):
			kinds["newsletter"]++
		case strings.Contains(e.Ref, "facebook.com"):
			kinds["facebook organic"]++
		case strings.Contains(e.Ref, "linkedin.com") || strings.Contains(e.Ref, "lnkd.in"):
			kinds["linkedin organic"]++
		case strings.Contains(e.Ref, "chatgpt.com") || strings.Contains(e.Ref, "perplexity.ai") || strings.Contains(e.Ref, "claude.ai"):
			kinds["ai"]++
		case strings.Contains(e.Ref, "g2.com") || strings.Contains(e.Ref, "capterra.com"):
			kinds["referral"]++
		case strings.Contains(e.Ref, "google.") || strings.Contains(e.Ref, "bing.com"):
			kinds["organic search"]++
		}
		switch {
		case e.Type == "form_submit" && e.Form.ID == "site-search":
			kinds["site search"]++
		case e.Type == "form_submit" && e.Form.ID == "newsletter":
			kinds["newsletter sign-up"]++
		case e.Type == "form_submit":
			leads["form"]++
		case strings.HasPrefix(e.Ref, "https://www.paypal.com/") && e.Type == "conversion":
			kinds["paypal return"]++
		}
	}
	if span := last.Sub(first); span < 8*7*24*time.Hour {
		t.Fatalf("data spans %s, want at least 8 weeks", span)
	}
	if !last.Before(o.End.Truncate(24 * time.Hour)) {
		t.Fatalf("an event at %s is not before the end day", last)
	}
	for _, k := range []string{"google ads", "facebook paid", "linkedin paid", "newsletter", "facebook organic", "linkedin organic", "ai", "referral",
		"organic search", "site search", "newsletter sign-up", "paypal return"} {
		if kinds[k] == 0 {
			t.Fatalf("no %s visits: %v", k, kinds)
		}
	}
	for _, c := range ds.Conversions {
		if c.Type == "lead" {
			leads[c.LeadType]++
		} else {
			leads[c.Type]++
		}
		if c.Email == "" || c.ConversionID == "" {
			t.Fatalf("conversion without email or id: %+v", c)
		}
	}
	for _, k := range []string{"form", "call", "mql", "sal", "sql", "opportunity", "customer", "sale"} {
		if leads[k] == 0 {
			t.Fatalf("no %s: %v", k, leads)
		}
	}
	if len(langs) < 6 || langs["en-GB"] < langs["en-IE"] {
		t.Fatalf("visitors by language %v, want six countries, more from the UK than from Ireland", langs)
	}
	if ds.Persons >= ds.Visitors {
		t.Fatalf("%d persons for %d visitors: no multi-device journeys", ds.Persons, ds.Visitors)
	}
	if want := leads["form"] + kinds["paypal return"]; len(ds.EventConversions) != want {
		t.Fatalf("%d conversions from events, want %d (form leads and web sales)", len(ds.EventConversions), want)
	}
	t.Logf("%d visitors, %d persons, %d events, %d conversions %v, %v", ds.Visitors, ds.Persons, len(ds.Events), len(ds.Conversions), leads, kinds)
}

// The demo's spend and rates are what the cost and rate imports accept: a row per day
// and paid campaign, Google's down to keywords with clicks and impressions, and a rate
// for every working day, so the US-dollar sales are converted and the Swiss franc sale
// is not.
func TestGenerateSpend(t *testing.T) {
	o := Options{Site: "demo", Visitors: 5000, Weeks: 9, End: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC), Seed: 1}
	ds := Generate(o)
	days := 9 * 7
	var costs []reports.Cost
	for _, e := range ds.CostExports {
		rows, err := reports.ParseCosts("text/csv", e.CSV, reports.CostDefaults{Currency: "EUR"})
		if err != nil {
			t.Fatalf("%s: %v", e.Platform, err)
		}
		costs = append(costs, rows...)
	}
	b, _ := json.Marshal(map[string]any{"costs": ds.Costs})
	rows, err := reports.ParseCosts("application/json", b, reports.CostDefaults{Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	costs = append(costs, rows...)
	campaigns, keywords := map[string]int{}, map[string]int{}
	for _, c := range costs {
		if c.Term == "" {
			campaigns[c.Source+"/"+c.Campaign]++
			continue
		}
		keywords[c.Term]++
		if c.AdGroup == "" || c.Clicks == 0 || c.Impressions < c.Clicks {
			t.Fatalf("keyword row without ad group, clicks or impressions: %+v", c)
		}
	}
	if len(campaigns) != 4 || len(keywords) != 4 {
		t.Fatalf("campaigns %v, keywords %v", campaigns, keywords)
	}
	for k, n := range campaigns {
		if n != days {
			t.Fatalf("%s has %d days of cost, want %d", k, n, days)
		}
	}
	rates, err := reports.ParseRates(ds.Rates, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	usd := map[string]bool{}
	for _, r := range rates {
		if r.Currency == "USD" {
			usd[r.Date] = true
		}
	}
	currencies := map[string]int{}
	for _, c := range ds.Conversions {
		if c.Type != "sale" {
			continue
		}
		currencies[c.Currency]++
		at, _ := time.Parse(time.RFC3339, c.OccurredAt)
		for at.Weekday() == time.Saturday || at.Weekday() == time.Sunday {
			at = at.AddDate(0, 0, -1)
		}
		if c.Currency == "USD" && !usd[at.Format("2006-01-02")] {
			t.Fatalf("no USD rate for the sale %+v", c)
		}
	}
	if currencies["USD"] == 0 || currencies["CHF"] != 1 || currencies["EUR"] < currencies["USD"] {
		t.Fatalf("sales by currency %v, want most in EUR, some in USD, one in CHF", currencies)
	}
}

// Every demo visitor is located by the collector's GeoIP database in the country of its
// language, and so is its address anonymised to /24 or /48 as stored.
func TestVisitorsAreLocatedInTheirCountry(t *testing.T) {
	g, err := enrich.OpenGeo(testenv.GeoIPFiles(t)...)
	if err != nil {
		t.Fatal(err)
	}
	ds := Generate(Options{Site: "demo", Visitors: 3000, Weeks: 4, End: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), Seed: 7})
	country := map[string]string{} // visitor id -> country of its language
	for _, e := range ds.Events {
		if _, c, ok := strings.Cut(e.Lang, "-"); ok {
			country[e.VID] = c
		}
	}
	located := map[string]int{}
	for _, e := range ds.Events {
		a := netip.MustParseAddr(e.IP)
		want := country[e.VID]
		if got := g.Lookup(a); got.Country != want || got.City == "" {
			t.Fatalf("visitor %s at %s: located in %+v, want a city in %s", e.VID, a, got, want)
		}
		if got := g.Lookup(netip.MustParseAddr(enrich.AnonymiseIP(a))).Country; got != want {
			t.Fatalf("visitor %s at %s anonymised: %s, want %s", e.VID, a, got, want)
		}
		located[want]++
	}
	t.Logf("events by country: %v", located)
}
