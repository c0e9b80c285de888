package api

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"touchpoint/attribution/attrtest"
	"touchpoint/internal/site"
	"touchpoint/reports"
)

// byKey indexes report rows by key.
func byKey(rows []reports.SourceRow) map[string]reports.Figures {
	out := map[string]reports.Figures{}
	for _, r := range rows {
		out[r.Key] = r.Figures
	}
	return out
}

func num(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// ECB rates per 1 EUR on Thursday Oct 1, 2026 (none on Friday Oct 2: a holiday here).
const ratesOct1 = "Date, USD, JPY, GBP, \n01 October 2026, 1.2500, 160.00, 0.8000, \n"

// A USD sale is converted into the site's currency with the rate of its day, never added
// in as if it were euros; a GBP cost too, so ROI compares like with like; an amount
// without a rate is left out of the totals and listed under unconverted.
func TestCurrencyConversion(t *testing.T) {
	w := newWorld(t, site.Site{ID: "s1"}, site.Site{ID: "uk", Currency: "GBP"})
	for _, st := range []string{"s1", "uk"} {
		w.db.Session(attrtest.Session{Site: st, Person: "P", At: oct(1, 9), Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand"})
		w.db.Session(attrtest.Session{Site: st, Person: "E", At: oct(1, 9), Channel: "Email", Source: "newsletter", Medium: "email"})
		w.db.Session(attrtest.Session{Site: st, Person: "R", At: oct(1, 9), Channel: "Referral", Source: "g2.com", Medium: "referral"})
		w.db.Conversion(attrtest.Conversion{Site: st, ID: "sale-usd", Type: "sale", Person: "P", At: oct(2, 12), Value: 5000, Currency: "USD"})
		w.db.Conversion(attrtest.Conversion{Site: st, ID: "sale-eur", Type: "sale", Person: "E", At: oct(3, 12), Value: 100, Currency: "EUR"})
		w.db.Conversion(attrtest.Conversion{Site: st, ID: "sale-chf", Type: "sale", Person: "R", At: oct(3, 12), Value: 200, Currency: "CHF"})
		if code, out := w.post("/api/v1/fx-rates?site="+st, "text/csv", ratesOct1); code != 200 {
			t.Fatalf("%s: rate import %d %v", st, code, out)
		}
		if code, out := w.post("/api/v1/costs?site="+st, "text/csv", "date,source,medium,campaign,cost,currency\n"+
			"2026-10-01,google,cpc,brand,80,GBP\n2026-10-01,newsletter,email,,10,EUR\n"); code != 200 {
			t.Fatalf("%s: cost import %d %v", st, code, out)
		}
		w.rebuild(st)
	}

	rep := w.sources("site=s1&model=last_click&by=channel")
	if rep.Currency != "EUR" {
		t.Fatalf("report currency %q, want EUR", rep.Currency)
	}
	rows := byKey(rep.Rows)
	// 5000 USD at 1.25 per EUR (Thursday's rate for Friday) = 4000 EUR; 80 GBP at 0.8 = 100 EUR.
	paid := rows["Paid Search"]
	if paid.Revenue != 4000 || paid.Cost != 100 || num(paid.ROI) != 39.0 || num(paid.ROAS) != 40.0 || len(paid.Unconverted) != 0 {
		t.Fatalf("Paid Search: %+v (roi %v)", paid, num(paid.ROI))
	}
	ref := rows["Referral"]
	if ref.Revenue != 0 || ref.Sales != 1 || len(ref.Unconverted) != 1 || ref.Unconverted[0] != (reports.Unconverted{Currency: "CHF", Revenue: 200}) {
		t.Fatalf("Referral with a CHF sale and no CHF rate: %+v", ref)
	}
	tot := rep.Totals
	if tot.Revenue != 4100 || tot.Cost != 110 || tot.Sales != 3 || len(tot.Unconverted) != 1 || tot.Unconverted[0].Revenue != 200 {
		t.Fatalf("totals: %+v", tot)
	}
	if tot.ROI != nil || tot.ROAS != nil {
		t.Fatalf("totals ROI %v, ROAS %v: a ratio that needs an unconverted amount is null", num(tot.ROI), num(tot.ROAS))
	}

	// A GBP site gets the ECB's rates crossed through the euro: 5000 USD = 3200 GBP
	// (1.25 / 0.8 USD per GBP), 100 EUR = 80 GBP, and its GBP cost stays as it is.
	uk := w.sources("site=uk&model=last_click&by=channel")
	rows = byKey(uk.Rows)
	if uk.Currency != "GBP" || rows["Paid Search"].Revenue != 3200 || rows["Paid Search"].Cost != 80 || rows["Email"].Revenue != 80 ||
		rows["Email"].Cost != 8 {
		t.Fatalf("GBP site: %s %+v", uk.Currency, rows)
	}

	// Rates are listed back; bad files are refused with the reason.
	var listed struct {
		Base  string         `json:"base"`
		Rates []reports.Rate `json:"rates"`
	}
	if code := get(t, w.srv.URL+"/api/v1/fx-rates?site=uk&from=2026-10-01&to=2026-10-01", "demo-admin", &listed); code != 200 ||
		listed.Base != "GBP" || len(listed.Rates) != 3 {
		t.Fatalf("rates of the uk site: %d %+v", code, listed)
	}
	for _, body := range []string{"date,currency,rate\n2026-10-01,USD,-1\n", "Date, ARS, \n01 October 2026, 1000, \n", "not,a,rates,file\n"} {
		if code, out := w.post("/api/v1/fx-rates?site=uk", "text/csv", body); code != 400 || out["error"] == nil {
			t.Fatalf("rates %q: %d %v", body, code, out)
		}
	}
}

// The ECB's zip is accepted as it is downloaded.
func TestRatesZip(t *testing.T) {
	w := newWorld(t)
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	f, _ := zw.Create("eurofxref.csv")
	io.WriteString(f, ratesOct1)
	zw.Close()
	if code, out := w.post("/api/v1/fx-rates?site=s1", "application/zip", z.String()); code != 200 || out["imported"] != 3.0 || out["base"] != "EUR" {
		t.Fatalf("zip import: %d %v", code, out)
	}
}

// Keyword rows of a Google Ads export carry cost, clicks and impressions to the keyword
// rows of the report; the same campaigns' campaign rows are not added on top, and what
// the keywords do not account for is "(unallocated cost)", so the cost total is the same
// by campaign, by keyword and by landing page.
func TestKeywordCosts(t *testing.T) {
	w := newWorld(t)
	w.db.Session(attrtest.Session{Site: "s1", Person: "A", At: oct(1, 9), Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", Term: "acme crm", Landing: "/pricing"})
	w.db.Session(attrtest.Session{Site: "s1", Person: "B", At: oct(1, 10), Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", Term: "crm software", Landing: "/"})
	w.db.Session(attrtest.Session{Site: "s1", Person: "C", At: oct(1, 11), Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "generic", Term: "best crm", Landing: "/"})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-A", Type: "lead", LeadType: "form", Person: "A", At: oct(1, 12)})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "sale-A", Type: "sale", Person: "A", At: oct(2, 12), Value: 120})
	export := "Keyword report\n\"October 1, 2026 - October 1, 2026\"\n" +
		"Keyword,Match type,Campaign,Ad group,Day,Currency code,Clicks,Impr.,Cost\n" +
		"[acme crm],Exact match,brand,Brand,2026-10-01,EUR,10,100,30.00\n" +
		"crm software,Broad match,brand,Brand,2026-10-01,EUR,5,50,20.00\n" +
		"\"best crm\",Phrase match,generic,Generic,2026-10-01,EUR,3,30,15.00\n" +
		"Total: Account,--,--,--,--,EUR,18,180,65.00\n"
	// The campaign report of the same day, imported as well: brand spent 60 (more than
	// its keywords, other ad types), generic's row says 10 (less than its keywords).
	campaigns := "date,source,medium,campaign,cost,clicks,impressions\n2026-10-01,google,cpc,brand,60,16,160\n2026-10-01,google,cpc,generic,10,2,20\n"
	for i := 0; i < 2; i++ { // importing again replaces, never adds
		if code, out := w.post("/api/v1/costs?site=s1", "text/csv", export); code != 200 || out["imported"] != 3.0 {
			t.Fatalf("Google Ads export: %d %v", code, out)
		}
		if code, out := w.post("/api/v1/costs?site=s1", "text/csv", campaigns); code != 200 {
			t.Fatalf("campaign costs: %d %v", code, out)
		}
	}
	w.rebuild("s1")

	type c struct {
		cost                float64
		clicks, impressions uint64
	}
	check := func(by string, want map[string]c) {
		t.Helper()
		rep := w.sources("site=s1&model=first_click&by=" + by)
		rows := byKey(rep.Rows)
		for k, x := range want {
			r := rows[k]
			if r.Cost != x.cost || r.Clicks != x.clicks || r.Impressions != x.impressions {
				t.Fatalf("by %s, %q: cost %v clicks %d impressions %d; want %+v (rows %+v)", by, k, r.Cost, r.Clicks, r.Impressions, x, rows)
			}
		}
		if rep.Totals.Cost != 75 || rep.Totals.Clicks != 19 || rep.Totals.Impressions != 190 {
			t.Fatalf("by %s: totals %+v, want cost 75, 19 clicks, 190 impressions", by, rep.Totals)
		}
	}
	check("campaign", map[string]c{"brand": {60, 16, 160}, "generic": {15, 3, 30}})
	check("keyword", map[string]c{"acme crm": {30, 10, 100}, "crm software": {20, 5, 50}, "best crm": {15, 3, 30}, "(unallocated cost)": {10, 1, 10}})
	check("landing_page", map[string]c{"/pricing": {}, "(unallocated cost)": {75, 19, 190}})
	check("channel", map[string]c{"Paid Search": {75, 19, 190}})
	check("country", map[string]c{"(unallocated cost)": {75, 19, 190}})

	// Cost per lead, cost per sale and ROAS at the keyword level.
	acme := byKey(w.sources("site=s1&model=first_click&by=keyword").Rows)["acme crm"]
	if num(acme.CostPerLead) != 30.0 || num(acme.CostPerSale) != 30.0 || num(acme.ROAS) != 4.0 || num(acme.ROI) != 3.0 {
		t.Fatalf("acme crm: %+v cpl %v cps %v roas %v", acme, num(acme.CostPerLead), num(acme.CostPerSale), num(acme.ROAS))
	}
	soft := byKey(w.sources("site=s1&model=first_click&by=keyword").Rows)["crm software"]
	if soft.CostPerLead != nil || soft.CostPerSale != nil || num(soft.ROAS) != 0.0 {
		t.Fatalf("crm software, without leads: %+v", soft)
	}
}

// A lead from a headless browser (its only session is a bot's) is credited to an explicit
// "(no touchpoint)" row in every grouping, in its journey and in the lifecycle report,
// never to an invented Direct visit. A lead flagged as a bot's is in no report nor list.
func TestLeadWithoutTouchpoint(t *testing.T) {
	w := newWorld(t)
	w.db.Session(attrtest.Session{Site: "s1", Person: "headless", At: oct(2, 9), Channel: "Direct", Source: "(direct)", Medium: "(none)", Bot: true})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-headless", Type: "lead", LeadType: "form", Person: "headless", At: oct(2, 9)})
	w.db.Session(attrtest.Session{Site: "s1", Person: "P", At: oct(2, 9), Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand"})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-P", Type: "lead", LeadType: "form", Person: "P", At: oct(2, 10)})
	// A lead a crawler sent is flagged, credited nowhere and not listed.
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-crawler", Type: "lead", LeadType: "form", Person: "crawler", At: oct(2, 11), Bot: true})
	w.rebuild("s1")
	var leads reports.Leads
	get(t, w.srv.URL+"/api/v1/leads?site=s1&from=2026-10-01&to=2026-10-31", "demo-admin", &leads)
	if leads.Total != 2 || len(leads.Leads) != 2 || leads.Leads[0].ConversionID != "lead-P" || leads.Leads[1].ConversionID != "lead-headless" {
		t.Fatalf("lead list %+v", leads)
	}
	for _, by := range []string{"channel", "source", "campaign", "keyword", "landing_page", "country", "device"} {
		rows := byKey(w.sources("site=s1&model=linear&by=" + by).Rows)
		if rows["(no touchpoint)"].Leads != 1 || rows["(no touchpoint)"].Visitors != 0 {
			t.Fatalf("by %s: %+v", by, rows)
		}
		if _, ok := rows["Direct"]; ok {
			t.Fatalf("by %s: a Direct row %+v", by, rows)
		}
	}
	var j reports.Journey
	if code := get(t, w.srv.URL+"/api/v1/journeys?site=s1&conversion_id=lead-headless", "demo-admin", &j); code != 200 ||
		len(j.Touchpoints) != 1 || j.Touchpoints[0].Channel != "(no touchpoint)" || j.Touchpoints[0].SessionID != "" ||
		j.Touchpoints[0].Credits["first_click"] != 1 {
		t.Fatalf("journey: %+v", j)
	}
	var lc reports.Lifecycle
	get(t, w.srv.URL+"/api/v1/reports/lifecycle?site=s1&from=2026-10-01&to=2026-10-31&by=channel", "demo-admin", &lc)
	for _, r := range lc.Rows {
		if r.Key == "(no touchpoint)" && r.Counts["lead"] == 1 {
			return
		}
	}
	t.Fatalf("lifecycle rows %+v", lc.Rows)
}

// The sources report and the lifecycle report count the same leads, in total and per
// key: a person with two leads counts twice, a lead without touchpoint counts, and so
// does the lead in the range of a person whose first lead was before it.
func TestSourcesAndLifecycleAgreeOnLeads(t *testing.T) {
	w := newWorld(t)
	w.db.Session(attrtest.Session{Site: "s1", Person: "twice", At: oct(2, 9), Channel: "Paid Search", Source: "google", Medium: "cpc"})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "form-twice", Type: "lead", LeadType: "form", Person: "twice", At: oct(2, 10)})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "call-twice", Type: "lead", LeadType: "call", Person: "twice", At: oct(5, 10)})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "mql-twice", Type: "mql", Person: "twice", At: oct(6, 10)})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-none", Type: "lead", LeadType: "other", Person: "nobody", At: oct(3, 10)})
	w.db.Session(attrtest.Session{Site: "s1", Person: "back", At: oct(1, 9), Channel: "Email", Source: "newsletter", Medium: "email"})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-back-old", Type: "lead", LeadType: "form", Person: "back", At: oct(1, 10)})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-back", Type: "lead", LeadType: "form", Person: "back", At: oct(10, 10)})
	w.rebuild("s1")

	// Under every model and grouping, with and without filters.
	for _, q := range []string{"model=first_click&by=channel", "model=linear&by=channel", "model=time_decay&by=source",
		"model=last_click&by=device", "model=linear&by=landing_page&channel=Email", "model=first_click&by=channel&lead_type=form"} {
		var lc reports.Lifecycle
		get(t, w.srv.URL+"/api/v1/reports/lifecycle?site=s1&from=2026-10-02&to=2026-10-31&"+q, "demo-admin", &lc)
		var src reports.Sources
		get(t, w.srv.URL+"/api/v1/reports/sources?site=s1&from=2026-10-02&to=2026-10-31&"+q, "demo-admin", &src)
		if !near(lc.Totals.Counts["lead"], src.Totals.Leads) || len(lc.Rows) == 0 {
			t.Fatalf("%s: leads: sources %v, lifecycle %v", q, src.Totals.Leads, lc.Totals.Counts["lead"])
		}
		life := map[string]float64{}
		for _, r := range lc.Rows {
			life[r.Key] = r.Counts["lead"]
		}
		for _, r := range src.Rows {
			if !near(life[r.Key], r.Leads) {
				t.Fatalf("%s, %q: %v leads in sources, %v in lifecycle", q, r.Key, r.Leads, life[r.Key])
			}
		}
	}
	var lc reports.Lifecycle
	get(t, w.srv.URL+"/api/v1/reports/lifecycle?site=s1&from=2026-10-02&to=2026-10-31&by=channel", "demo-admin", &lc)
	if lc.Totals.Counts["lead"] != 4 || lc.Model != "first_click" || lc.StallAfterDays["mql"] != 30 {
		t.Fatalf("lifecycle %+v", lc)
	}
	// The person with two leads reached mql once.
	if lc.Totals.Counts["mql"] != 1 {
		t.Fatalf("mql %v, want 1", lc.Totals.Counts["mql"])
	}
	// Filtered, the people whose leads match count with every stage they reached.
	for q, want := range map[string][2]float64{"channel=Paid+Search": {2, 1}, "channel=Email": {1, 0}, "lead_type=call": {1, 1}} {
		var lc reports.Lifecycle
		get(t, w.srv.URL+"/api/v1/reports/lifecycle?site=s1&from=2026-10-02&to=2026-10-31&by=channel&"+q, "demo-admin", &lc)
		if c := lc.Totals.Counts; c["lead"] != want[0] || c["mql"] != want[1] {
			t.Fatalf("%s: %v leads and %v mql, want %v", q, c["lead"], c["mql"], want)
		}
	}
}

// Every row has a key, money is in cents and credit in six decimals, an empty range is
// an empty report, and the report groups by country and device.
func TestReportHygiene(t *testing.T) {
	w := newWorld(t)
	w.db.Session(attrtest.Session{Site: "s1", Person: "A", At: oct(1, 9), Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", Country: "DE", Device: "mobile"})
	w.db.Session(attrtest.Session{Site: "s1", Person: "A", At: oct(2, 9), Channel: "Email", Source: "newsletter", Medium: "email", Country: "DE", Device: "desktop"})
	w.db.Session(attrtest.Session{Site: "s1", Person: "A", At: oct(3, 9), Channel: "Organic Search", Source: "google", Medium: "organic", Country: "FR", Device: "desktop"})
	w.db.Session(attrtest.Session{Site: "s1", Person: "B", At: oct(3, 9), Channel: "Direct", Source: "(direct)", Medium: "(none)"})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-A", Type: "lead", LeadType: "form", Person: "A", At: oct(4, 10)})
	w.db.Conversion(attrtest.Conversion{Site: "s1", ID: "sale-A", Type: "sale", Person: "A", At: oct(4, 11), Value: 100})
	// Two days of cost whose float sum is 3256.6499999999996.
	if code, out := w.post("/api/v1/costs?site=s1", "text/csv", "date,source,medium,campaign,cost\n2026-10-01,google,cpc,brand,1085.55\n2026-10-02,google,cpc,brand,2171.1\n"); code != 200 {
		t.Fatalf("costs: %d %v", code, out)
	}
	w.rebuild("s1")

	raw := func(query string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/api/v1/reports/sources?site=s1&"+query, nil)
		req.Header.Set("Authorization", "Bearer demo-admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := raw("from=2026-10-01&to=2026-10-31&model=linear&by=campaign")
	if code != 200 || !strings.Contains(body, `"cost":3256.65,`) || !strings.Contains(body, `"leads":0.333333,`) || !strings.Contains(body, `"revenue":33.33,`) {
		t.Fatalf("money in cents and credit in six decimals: %d %s", code, body)
	}
	var generic struct {
		Currency string           `json:"currency"`
		Rows     []map[string]any `json:"rows"`
	}
	json.Unmarshal([]byte(body), &generic)
	keys := map[string]bool{}
	for _, r := range generic.Rows {
		k, ok := r["key"].(string)
		if !ok || k == "" {
			t.Fatalf("a row without a key: %v", r)
		}
		keys[k] = true
	}
	if !keys["(none)"] || !keys["brand"] || generic.Currency != "EUR" {
		t.Fatalf("rows %v, currency %q", keys, generic.Currency)
	}

	// A range without any session, conversion or cost.
	code, body = raw("from=2020-01-01&to=2020-01-31&by=channel")
	var empty reports.Sources
	if err := json.Unmarshal([]byte(body), &empty); code != 200 || err != nil || empty.Rows == nil || len(empty.Rows) != 0 ||
		empty.Totals.Visitors != 0 || !strings.Contains(body, `"rows":[]`) {
		t.Fatalf("empty range: %d %s", code, body)
	}

	country := byKey(w.sources("site=s1&model=first_click&by=country").Rows)
	device := byKey(w.sources("site=s1&model=last_click&by=device").Rows)
	if country["DE"].Sessions != 2 || country["DE"].Visitors != 1 || country["DE"].Leads != 1 || country["FR"].Sessions != 1 ||
		country["(none)"].Sessions != 1 || device["desktop"].Sessions != 2 || device["desktop"].Leads != 1 || device["mobile"].Leads != 0 {
		t.Fatalf("by country %+v, by device %+v", country, device)
	}
}
