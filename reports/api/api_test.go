package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/engine"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
	"touchpoint/reports"
)

// world is a test database with sites, the engine and the API server over it.
type world struct {
	t     *testing.T
	conn  driver.Conn
	db    *attrtest.DB
	sites *site.Registry
	store *reports.Store
	srv   *httptest.Server
}

// newWorld serves sites (s1 and s2 when none are given) on a fresh database; the clock
// of the API is Oct 20, 2026.
func newWorld(t *testing.T, sites ...site.Site) *world {
	conn, db := testenv.FreshDatabase(t)
	if len(sites) == 0 {
		sites = []site.Site{{ID: "s1"}, {ID: "s2"}}
	}
	reg, err := site.New(site.Config{
		AdminTokenSHA256: "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c", // demo-admin
		Sites:            sites,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, conn: conn, db: &attrtest.DB{T: t, Conn: conn, Name: db}, sites: reg, store: &reports.Store{Conn: conn, DB: db}}
	w.srv = httptest.NewServer((&Server{Sites: reg, Reports: w.store, Now: func() time.Time { return oct(20, 0) }}).Handler())
	t.Cleanup(w.srv.Close)
	return w
}

func oct(day, hour int) time.Time { return time.Date(2026, 10, day, hour, 0, 0, 0, time.UTC) }

// rebuild credits every conversion of site in October.
func (w *world) rebuild(siteID string) {
	w.t.Helper()
	if _, _, err := engine.New(w.conn, w.db.Name, w.sites).Rebuild(context.Background(), siteID, oct(1, 0), oct(31, 0)); err != nil {
		w.t.Fatal(err)
	}
}

// post sends body to path with the admin token and returns the status and JSON answer.
func (w *world) post(path, contentType, body string) (int, map[string]any) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer demo-admin")
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// getOK decodes the answer to an admin's GET of path into out; it must be 200 OK.
func (w *world) getOK(path string, out any) {
	w.t.Helper()
	if code := get(w.t, w.srv.URL+path, "demo-admin", out); code != 200 {
		w.t.Fatalf("%s: status %d", path, code)
	}
}

// sources returns the source report for the query (site, model, by; October).
func (w *world) sources(query string) reports.Sources {
	w.t.Helper()
	var got reports.Sources
	w.getOK("/api/v1/reports/sources?from=2026-10-01&to=2026-10-31&"+query, &got)
	return got
}

// journey returns the journey to the conversion of site s1.
func (w *world) journey(conversionID string) reports.Journey {
	w.t.Helper()
	var j reports.Journey
	w.getOK("/api/v1/journeys?site=s1&conversion_id="+conversionID, &j)
	return j
}

// A small known data set: three people, one bot, two leads, one sale, two days of cost.
//
//	A: Oct 1 Paid Search (google/cpc brand, /pricing) → Oct 3 Email (newsletter/email nov, /blog)
//	   → lead (form) Oct 3 12:00 → sale 1000 EUR Oct 5
//	B: Oct 2 Organic Search (google/organic, /) → lead (call) Oct 2 13:00
//	C: Oct 4 Paid Search (google/cpc brand, /pricing), no conversion
//	bot: Oct 4 Direct — never counted; a deleted session of C — never counted
//	cost: google/cpc brand 100 on Oct 1, 50 on Oct 2
func newTestServer(t *testing.T) *httptest.Server { return newTestWorld(t).srv }

// newTestWorld is the world newTestServer serves, for tests that need more than its server.
func newTestWorld(t *testing.T) *world {
	w := newWorld(t)
	d := w.db
	day := oct
	d.Session(attrtest.Session{Site: "s1", Person: "A", At: day(1, 9), Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", Term: "crm", Landing: "/pricing"})
	d.Session(attrtest.Session{Site: "s1", Person: "A", At: day(3, 9), Channel: "Email", Source: "newsletter", Medium: "email", Campaign: "nov", Landing: "/blog"})
	d.Session(attrtest.Session{Site: "s1", Person: "B", At: day(2, 9), Channel: "Organic Search", Source: "google", Medium: "organic", Landing: "/"})
	d.Session(attrtest.Session{Site: "s1", Person: "C", At: day(4, 9), Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", Landing: "/pricing"})
	d.Session(attrtest.Session{Site: "s1", Person: "bot", At: day(4, 9), Channel: "Direct", Source: "(direct)", Medium: "(none)", Bot: true})
	// A session written twice, then folded into another one by a late event: never counted.
	ghost := attrtest.Session{Site: "s1", Person: "C", At: day(4, 10), Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", Landing: "/pricing"}
	ghost.ID = d.Session(ghost)
	d.Session(ghost)
	ghost.Deleted = true
	d.Session(ghost)
	d.Session(attrtest.Session{Site: "s2", Person: "X", At: day(4, 9), Channel: "Referral", Source: "other", Medium: "referral"})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-A", Type: "lead", LeadType: "form", Person: "A", At: day(3, 12),
		EmailSHA256: event.EmailSHA256("ann@example.com")})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "sale-A", Type: "sale", Person: "A", At: day(5, 12), Value: 1000})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-B", Type: "lead", LeadType: "call", Person: "B", At: day(2, 13)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "mql-B", Type: "mql", Person: "B", At: day(4, 13)})
	if code, out := w.post("/api/v1/costs?site=s1", "text/csv", "date,source,medium,campaign,cost\n2026-10-01,google,cpc,brand,100\n2026-10-02,google,cpc,brand,50\n"); code != 200 {
		t.Fatalf("cost import: %d %v", code, out)
	}
	w.rebuild("s1")
	return w
}

// post sends body with the admin token and decodes the answer into out.
func post(t *testing.T, url, contentType, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer demo-admin")
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

func get(t *testing.T, url, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

type row struct {
	visitors, sessions                uint64
	leads, form, call, sales, revenue float64
	cost                              float64
	roi                               any // nil or float64
}

func TestSourceReport(t *testing.T) {
	srv := newTestServer(t)
	f := func(model, by string, want map[string]row, totals row) {
		t.Helper()
		var got reports.Sources
		url := srv.URL + "/api/v1/reports/sources?site=s1&from=2026-10-01&to=2026-10-31&model=" + model + "&by=" + by
		if code := get(t, url, "demo-admin", &got); code != 200 {
			t.Fatalf("%s: status %d", url, code)
		}
		if got.Model != model || got.By != by || got.From != "2026-10-01" || got.To != "2026-10-31" || got.Site != "s1" {
			t.Fatalf("report header %+v", got)
		}
		check := func(key string, g reports.Figures, w row) {
			t.Helper()
			ok := g.Visitors == w.visitors && g.Sessions == w.sessions && near(g.Leads, w.leads) &&
				near(g.LeadsByType.Form, w.form) && near(g.LeadsByType.Call, w.call) && near(g.Sales, w.sales) &&
				near(g.Revenue, w.revenue) && near(g.Cost, w.cost)
			switch r := w.roi.(type) {
			case nil:
				ok = ok && g.ROI == nil
			case float64:
				ok = ok && g.ROI != nil && near(*g.ROI, math.Round(r*1e6)/1e6) // ratios have six decimals
			}
			if !ok {
				roi := "null"
				if g.ROI != nil {
					roi = fmt.Sprint(*g.ROI)
				}
				t.Fatalf("%s by %s, %q: got %+v (roi %s), want %+v", model, by, key, g, roi, w)
			}
		}
		if len(got.Rows) != len(want) {
			t.Fatalf("%s by %s: %d rows %+v, want %d", model, by, len(got.Rows), got.Rows, len(want))
		}
		for _, g := range got.Rows {
			w, ok := want[g.Key]
			if !ok {
				t.Fatalf("%s by %s: unexpected row %q", model, by, g.Key)
			}
			check(g.Key, g.Figures, w)
		}
		check("totals", got.Totals, totals)
	}
	totals := row{visitors: 3, sessions: 4, leads: 2, form: 1, call: 1, sales: 1, revenue: 1000, cost: 150, roi: 850.0 / 150}
	f("first_click", "channel", map[string]row{
		"Paid Search":    {visitors: 2, sessions: 2, leads: 1, form: 1, sales: 1, revenue: 1000, cost: 150, roi: 850.0 / 150},
		"Email":          {visitors: 1, sessions: 1},
		"Organic Search": {visitors: 1, sessions: 1, leads: 1, call: 1},
	}, totals)
	f("last_click", "channel", map[string]row{
		"Paid Search":    {visitors: 2, sessions: 2, cost: 150, roi: -1.0},
		"Email":          {visitors: 1, sessions: 1, leads: 1, form: 1, sales: 1, revenue: 1000},
		"Organic Search": {visitors: 1, sessions: 1, leads: 1, call: 1},
	}, totals)
	f("linear", "channel", map[string]row{
		"Paid Search":    {visitors: 2, sessions: 2, leads: 0.5, form: 0.5, sales: 0.5, revenue: 500, cost: 150, roi: 350.0 / 150},
		"Email":          {visitors: 1, sessions: 1, leads: 0.5, form: 0.5, sales: 0.5, revenue: 500},
		"Organic Search": {visitors: 1, sessions: 1, leads: 1, call: 1},
	}, totals)
	f("first_click", "campaign", map[string]row{
		"brand":  {visitors: 2, sessions: 2, leads: 1, form: 1, sales: 1, revenue: 1000, cost: 150, roi: 850.0 / 150},
		"nov":    {visitors: 1, sessions: 1},
		"(none)": {visitors: 1, sessions: 1, leads: 1, call: 1},
	}, totals)
	// Campaign cost cannot be placed by landing page or keyword: it is a row of its own,
	// so the cost total is the same whatever the grouping.
	f("last_click", "landing_page", map[string]row{
		"/pricing":           {visitors: 2, sessions: 2},
		"/blog":              {visitors: 1, sessions: 1, leads: 1, form: 1, sales: 1, revenue: 1000},
		"/":                  {visitors: 1, sessions: 1, leads: 1, call: 1},
		"(unallocated cost)": {cost: 150},
	}, totals)
	f("first_click", "keyword", map[string]row{
		"crm":                {visitors: 1, sessions: 1, leads: 1, form: 1, sales: 1, revenue: 1000},
		"(none)":             {visitors: 3, sessions: 3, leads: 1, call: 1},
		"(unallocated cost)": {cost: 150},
	}, totals)
}

func TestLifecycleAndJourney(t *testing.T) {
	srv := newTestServer(t)
	var lc reports.Lifecycle
	if code := get(t, srv.URL+"/api/v1/reports/lifecycle?site=s1&from=2026-10-01&to=2026-10-31&by=channel", "demo-admin", &lc); code != 200 {
		t.Fatalf("lifecycle status %d", code)
	}
	if lc.Totals.Counts["lead"] != 2 || lc.Totals.Counts["mql"] != 1 || lc.Totals.Rates["lead_mql"] == nil || *lc.Totals.Rates["lead_mql"] != 0.5 {
		t.Fatalf("lifecycle totals %+v", lc.Totals)
	}
	if md := lc.Totals.MedianDays["lead_mql"]; md == nil || !near(*md, 2) {
		t.Fatalf("median days lead→mql = %v, want 2", md)
	}
	// A's lead (Oct 3) is stalled at lead; B's mql (Oct 4) too: 16 days is under 30, so neither yet.
	if lc.Totals.Stalled["lead"] != 0 {
		t.Fatalf("stalled %v", lc.Totals.Stalled)
	}
	byKey := map[string]reports.LifecycleRow{}
	for _, r := range lc.Rows {
		byKey[r.Key] = r
	}
	if byKey["Organic Search"].Counts["mql"] != 1 || byKey["Paid Search"].Counts["lead"] != 1 || byKey["Paid Search"].Counts["mql"] != 0 {
		t.Fatalf("lifecycle rows %+v", lc.Rows)
	}

	var j reports.Journey
	if code := get(t, srv.URL+"/api/v1/journeys?site=s1&conversion_id=sale-A", "demo-admin", &j); code != 200 {
		t.Fatalf("journey status %d", code)
	}
	if j.Conversion.ConversionID != "sale-A" || len(j.Touchpoints) != 2 || len(j.Conversions) != 2 {
		t.Fatalf("journey %+v", j)
	}
	if j.Touchpoints[0].Channel != "Paid Search" || j.Touchpoints[0].Credits["first_click"] != 1 || j.Touchpoints[0].Credits["last_click"] != 0 ||
		j.Touchpoints[1].Credits["last_click"] != 1 || j.Touchpoints[1].Credits["linear"] != 0.5 {
		t.Fatalf("journey touchpoints %+v", j.Touchpoints)
	}
	if code := get(t, srv.URL+"/api/v1/journeys?site=s1&conversion_id=nope", "demo-admin", nil); code != 404 {
		t.Fatalf("unknown conversion: status %d, want 404", code)
	}
}

func TestRefusals(t *testing.T) {
	srv := newTestServer(t)
	f := func(path, token string, want int) {
		t.Helper()
		var body map[string]any
		if code := get(t, srv.URL+path, token, &body); code != want || body["error"] == "" {
			t.Fatalf("GET %s: status %d body %v, want %d with an error", path, code, body, want)
		}
	}
	f("/api/v1/reports/sources?site=s1", "", 401)
	f("/api/v1/reports/sources?site=s1", "demo-secret", 401)
	f("/api/v1/reports/sources?site=nope", "demo-admin", 404)
	f("/api/v1/reports/sources", "demo-admin", 400)
	f("/api/v1/reports/sources?site=s1&model=magic", "demo-admin", 400)
	f("/api/v1/reports/sources?site=s1&by=region", "demo-admin", 400)
	f("/api/v1/reports/sources?site=s1&from=2026-13-01", "demo-admin", 400)
	f("/api/v1/reports/sources?site=s1&from=2026-10-05&to=2026-10-01", "demo-admin", 400)
	f("/api/v1/reports/lifecycle?site=s1&by=region", "demo-admin", 400)
	f("/api/v1/reports/lifecycle?site=s1&model=magic", "demo-admin", 400)
	f("/api/v1/reports/sources?site=s1&lead_type=fax", "demo-admin", 400)
	f("/api/v1/reports/series?site=s1&interval=year", "demo-admin", 400)
	f("/api/v1/reports/series?site=s1&from=2021-01-01&to=2025-12-31&interval=day", "demo-admin", 400)
	f("/api/v1/leads?site=s1&order=random", "demo-admin", 400)
	f("/api/v1/leads?site=s1&limit=0", "demo-admin", 400)
	f("/api/v1/leads?site=s1&limit=501", "demo-admin", 400)
	f("/api/v1/leads?site=s1&offset=-1", "demo-admin", 400)
	f("/api/v1/journeys?site=s1", "demo-admin", 400)
	f("/api/v1/nothing", "demo-admin", 404)
	// A hostile site id or campaign is only ever a bound value.
	f("/api/v1/reports/sources?site=s1%27%20OR%201%3D1--", "demo-admin", 404)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// A journey is found by email without the address in a URL: in a POST body (JSON or a
// form) or as its hash.
func TestJourneyByEmailStaysOutOfURLs(t *testing.T) {
	srv := newTestServer(t)
	f := func(code int, j reports.Journey, want int, wantConv string) {
		t.Helper()
		if code != want || (want == 200 && (j.Conversion.ConversionID != wantConv || len(j.Touchpoints) != 2)) {
			t.Fatalf("status %d journey %+v, want %d with %s", code, j, want, wantConv)
		}
	}
	byPost := func(contentType, body string, want int, wantConv string) {
		t.Helper()
		var j reports.Journey
		code := post(t, srv.URL+"/api/v1/journeys?site=s1", contentType, body, &j)
		f(code, j, want, wantConv)
	}
	byPost("application/json", `{"email":" Ann@Example.com "}`, 200, "lead-A")
	byPost("application/json; charset=utf-8", `{"email":"ann@example.com"}`, 200, "lead-A")
	byPost("application/x-www-form-urlencoded", url.Values{"email": {"ann@example.com"}}.Encode(), 200, "lead-A")
	byPost("application/json", `{"conversion_id":"sale-A"}`, 200, "sale-A")
	byPost("application/json", `{"email_sha256":"`+strings.ToUpper(event.EmailSHA256("ann@example.com"))+`"}`, 200, "lead-A")
	byPost("application/json", `{"email":"nobody@example.com"}`, 404, "")
	byPost("application/json", `{"email":"ann@example.com","conversion_id":"sale-A"}`, 400, "")
	byPost("application/json", `{"mail":"ann@example.com"}`, 400, "")
	byPost("application/json", `{}`, 400, "")
	var j reports.Journey
	code := get(t, srv.URL+"/api/v1/journeys?site=s1&email_sha256="+event.EmailSHA256("ann@example.com"), "demo-admin", &j)
	f(code, j, 200, "lead-A")
	code = get(t, srv.URL+"/api/v1/journeys?site=s1&email_sha256=ann%40example.com", "demo-admin", nil)
	f(code, reports.Journey{}, 400, "")
	// An unauthenticated POST learns nothing.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/journeys?site=s1", strings.NewReader(`{"email":"ann@example.com"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("POST without the token: status %d, want 401", resp.StatusCode)
	}
}

// A journey by email is of the person the address identifies, under any id merged into
// them, or of a conversion that carries the address: not of an id merged into them once
// and into someone else since.
func TestJourneyByEmailFindsThePersonItIdentifies(t *testing.T) {
	w := newWorld(t)
	d := w.db
	dan, fay := event.EmailSHA256("dan@example.com"), event.EmailSHA256("fay@example.com")
	d.Session(attrtest.Session{Site: "s1", Person: "dan-phone", At: oct(1, 9), Channel: "Direct", Source: "(direct)", Medium: "(none)"})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-dan", Type: "lead", LeadType: "form", Person: "dan-phone", At: oct(3, 12)})
	d.Identity("s1", "dan-laptop", dan, oct(2, 9))
	d.Alias("s1", "dan-phone", "dan")
	d.Alias("s1", "dan-laptop", "dan")
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-gus", Type: "lead", LeadType: "form", Person: "dan-old", At: oct(4, 12)})
	d.Alias("s1", "dan-old", "dan")
	d.Alias("s1", "dan-old", "gus")
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-fay", Type: "lead", LeadType: "form", Person: "fay", At: oct(5, 12), EmailSHA256: fay})
	w.rebuild("s1")
	for _, c := range []struct{ hash, conv, person string }{{dan, "lead-dan", "dan"}, {fay, "lead-fay", "fay"}} {
		var j reports.Journey
		w.getOK("/api/v1/journeys?site=s1&email_sha256="+c.hash, &j)
		if j.Conversion.ConversionID != c.conv || j.PersonID != c.person || len(j.Conversions) != 1 {
			t.Fatalf("journey of %s: %s of %s, %d conversions; want %s of %s", c.person, j.Conversion.ConversionID, j.PersonID,
				len(j.Conversions), c.conv, c.person)
		}
	}
}

// Identifiers that look like SQL, or like the driver's placeholders, are only ever bound
// values: each finds exactly its own conversion, and a lookalike finds nothing.
func TestHostileIdentifiersAreBoundValues(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	sites, err := site.New(site.Config{AdminTokenSHA256: "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c", Sites: []site.Site{{ID: "s1"}}})
	if err != nil {
		t.Fatal(err)
	}
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	at := time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC)
	hostile := []string{`x' OR '1'='1`, `x\' OR 1=1 --`, `$1`, `?`, `x')) OR ((1=1`, "x\x00y", `{db}`, `a\nb`, "é'\"`"}
	for i, id := range hostile {
		d.Conversion(attrtest.Conversion{Site: "s1", ID: id, Type: "lead", Person: fmt.Sprint("p", i), At: at})
	}
	srv := httptest.NewServer((&Server{Sites: sites, Reports: &reports.Store{Conn: conn, DB: db}}).Handler())
	t.Cleanup(srv.Close)
	for i, id := range hostile {
		var j reports.Journey
		if code := get(t, srv.URL+"/api/v1/journeys?site=s1&conversion_id="+url.QueryEscape(id), "demo-admin", &j); code != 200 ||
			j.Conversion.ConversionID != id || j.PersonID != fmt.Sprint("p", i) || len(j.Conversions) != 1 {
			t.Fatalf("conversion_id %q: status %d %+v", id, code, j)
		}
	}
	for _, id := range []string{`x' OR 'a'='a`, `' OR ''='`, `%`, `x%`, `$2`, `x\`} {
		if code := get(t, srv.URL+"/api/v1/journeys?site=s1&conversion_id="+url.QueryEscape(id), "demo-admin", nil); code != 404 {
			t.Fatalf("conversion_id %q: status %d, want 404", id, code)
		}
	}
}

// The reports API answers no cross-origin request: a page on another origin cannot read
// it, even when the browser holds a token.
func TestNoCORSOnReports(t *testing.T) {
	srv := newTestServer(t)
	for _, method := range []string{http.MethodOptions, http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, srv.URL+"/api/v1/reports/sources?site=s1", nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		req.Header.Set("Authorization", "Bearer demo-admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for k := range resp.Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Fatalf("%s with an Origin: header %s: %v", method, k, resp.Header[k])
			}
		}
	}
}

func TestCostImport(t *testing.T) {
	srv := newTestServer(t)
	post := func(contentType, body string) (int, map[string]any) {
		t.Helper()
		var out map[string]any
		code := post(t, srv.URL+"/api/v1/costs?site=s1", contentType, body, &out)
		return code, out
	}
	if code, out := post("application/json", `{"costs":[{"date":"2026-10-03","source":"newsletter","medium":"email","campaign":"nov","cost":30}]}`); code != 200 || out["imported"] != 1.0 {
		t.Fatalf("JSON import: %d %v", code, out)
	}
	// The same day and campaign again replaces the cost instead of adding to it.
	if code, out := post("text/csv", "date,source,medium,campaign,cost\n2026-10-03,newsletter,email,nov,20\n"); code != 200 || out["imported"] != 1.0 {
		t.Fatalf("CSV import: %d %v", code, out)
	}
	if code, out := post("text/csv", "date,source,cost\n2026-10-03,newsletter,lots\n"); code != 400 || out["error"] == nil {
		t.Fatalf("bad CSV: %d %v", code, out)
	}
	var got reports.Sources
	get(t, srv.URL+"/api/v1/reports/sources?site=s1&from=2026-10-01&to=2026-10-31&model=last_click&by=channel", "demo-admin", &got)
	for _, r := range got.Rows {
		if r.Key == "Email" && (r.Cost != 20 || r.ROI == nil || !near(*r.ROI, (1000.0-20)/20)) {
			t.Fatalf("Email row after the cost import: %+v", r)
		}
	}
	if !near(got.Totals.Cost, 170) {
		t.Fatalf("total cost %v, want 170", got.Totals.Cost)
	}
}
