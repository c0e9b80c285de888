package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/attribution/attrtest"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
	"touchpoint/reports"
)

// The lead list: newest first a page at a time, each lead with the touches first and last
// click credit, how many touches it had and the furthest stage its person reached; with
// a report row's filters, the leads behind that row.
func TestLeadList(t *testing.T) {
	srv := newTestServer(t)
	list := func(query string) reports.Leads {
		t.Helper()
		if !strings.Contains(query, "from=") {
			query += "&from=2026-10-01&to=2026-10-31"
		}
		var got reports.Leads
		if code := get(t, srv.URL+"/api/v1/leads?site=s1&"+query, "demo-admin", &got); code != 200 {
			t.Fatalf("%s: status %d", query, code)
		}
		return got
	}
	ids := func(l reports.Leads) string {
		var out []string
		for _, x := range l.Leads {
			out = append(out, x.ConversionID)
		}
		return strings.Join(out, ",")
	}
	all := list("")
	if all.Total != 2 || ids(all) != "lead-A,lead-B" || all.Order != "newest" || all.Scored || all.Limit != 50 {
		t.Fatalf("lead list %+v", all)
	}
	a, b := all.Leads[0], all.Leads[1]
	if a.LeadType != "form" || a.Touches != 2 || a.FirstTouch == nil || a.FirstTouch.Channel != "Paid Search" || a.FirstTouch.Campaign != "brand" ||
		a.LastTouch == nil || a.LastTouch.Channel != "Email" || a.LastTouch.LandingPage != "/blog" || a.Stage != "lead" || a.Score != nil ||
		!a.OccurredAt.Equal(oct(3, 12)) || a.PersonID != "A" {
		t.Fatalf("lead-A %+v first %+v last %+v", a, a.FirstTouch, a.LastTouch)
	}
	if b.LeadType != "call" || b.Touches != 1 || b.Stage != "mql" || b.FirstTouch.Channel != "Organic Search" || b.LastTouch.Channel != "Organic Search" {
		t.Fatalf("lead-B %+v", b)
	}
	f := func(query string, want string, total uint64) {
		t.Helper()
		if got := list(query); ids(got) != want || got.Total != total {
			t.Fatalf("%s: %s of %d, want %s of %d", query, ids(got), got.Total, want, total)
		}
	}
	f("limit=1", "lead-A", 2)
	f("limit=1&offset=1", "lead-B", 2)
	f("offset=2", "", 2)
	f("order=score", "lead-A,lead-B", 2) // no scores yet: newest first
	f("lead_type=call", "lead-B", 1)
	f("channel=Email&model=last_click", "lead-A", 1)
	f("channel=Email&model=first_click", "", 0)
	f("channel=Email&model=linear", "lead-A", 1)
	f("campaign=%28none%29", "lead-B", 1)
	f("channel="+url.QueryEscape(`x' OR '1'='1`), "", 0)
	f("from=2026-10-03&to=2026-10-03", "lead-A", 1)

	// Each row's leads under a single-touch model are the leads listed with its filter.
	for _, m := range []string{"first_click", "last_click"} {
		var rep reports.Sources
		get(t, srv.URL+"/api/v1/reports/sources?site=s1&from=2026-10-01&to=2026-10-31&by=campaign&model="+m, "demo-admin", &rep)
		for _, r := range rep.Rows {
			if got := list("model=" + m + "&campaign=" + url.QueryEscape(r.Key)); float64(got.Total) != r.Leads {
				t.Fatalf("%s, campaign %q: %d leads listed, the report has %v", m, r.Key, got.Total, r.Leads)
			}
		}
	}
}

// Filtered, the lead list holds the leads whose current credit has a matching touch: an
// earlier computation stays stored beside the current one until ClickHouse merges them,
// and a touch it credited no longer counts once the lead is credited again without it.
func TestLeadListFiltersOnTheCurrentCredit(t *testing.T) {
	w := newWorld(t)
	d := w.db
	// Merges would fold the earlier computations away, and the test would prove nothing.
	for _, table := range []string{"touch_credits", "touch_credit_versions"} {
		if err := w.conn.Exec(context.Background(), "SYSTEM STOP MERGES "+d.Name+"."+table); err != nil {
			t.Fatal(err)
		}
	}
	d.Session(attrtest.Session{Site: "s1", Person: "A", At: oct(1, 9), Channel: "Paid Search", Source: "google", Medium: "cpc"})
	gone := attrtest.Session{Site: "s1", Person: "B", At: oct(1, 9), Channel: "Organic Search", Source: "google", Medium: "organic"}
	gone.ID = d.Session(gone)
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-A", Type: "lead", LeadType: "form", Person: "A", At: oct(3, 12)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-B", Type: "lead", LeadType: "form", Person: "B", At: oct(3, 13)})
	w.rebuild("s1")
	// A visit that becomes lead-A's last touch; lead-B's only visit is deleted.
	d.Session(attrtest.Session{Site: "s1", Person: "A", At: oct(2, 9), Channel: "Email", Source: "newsletter", Medium: "email"})
	gone.Deleted = true
	d.Session(gone)
	w.rebuild("s1")
	var computations uint64
	if err := w.conn.QueryRow(context.Background(), "SELECT uniqExact(conversion_id, version) FROM "+d.Name+".touch_credits").Scan(&computations); err != nil || computations != 4 {
		t.Fatalf("%d computations stored (%v), want both of each lead", computations, err)
	}
	for query, want := range map[string]string{
		"model=last_click&channel=Paid+Search":         "",
		"model=last_click&channel=Email":               "lead-A",
		"model=first_click&channel=Paid+Search":        "lead-A",
		"model=linear&channel=Organic+Search":          "",
		"model=linear&source=google":                   "lead-A",
		"model=linear&channel=%28no+touchpoint%29":     "lead-B",
		"model=last_click&channel=%28no+touchpoint%29": "lead-B",
	} {
		var got reports.Leads
		if code := get(t, w.srv.URL+"/api/v1/leads?site=s1&from=2026-10-01&to=2026-10-31&"+query, "demo-admin", &got); code != 200 {
			t.Fatalf("%s: status %d", query, code)
		}
		var ids []string
		for _, l := range got.Leads {
			ids = append(ids, l.ConversionID)
		}
		if strings.Join(ids, ",") != want || got.Total != uint64(len(ids)) {
			t.Errorf("%s: %v of %d, want %q", query, ids, got.Total, want)
		}
	}
}

// A server that does not tell how many rows the page's query sorted before its LIMIT
// still gives the lead list's total: it is counted.
func TestLeadListCountsWhereTheServerGivesNoTotal(t *testing.T) {
	w := newTestWorld(t)
	w.store.Conn = withoutProfileInfo{w.store.Conn}
	for query, want := range map[string]uint64{"": 2, "limit=1": 2, "offset=2": 2, "lead_type=call": 1,
		"channel=Email&model=last_click": 1, "channel=Email&model=first_click": 0} {
		var got reports.Leads
		if code := get(t, w.srv.URL+"/api/v1/leads?site=s1&from=2026-10-01&to=2026-10-31&"+query, "demo-admin", &got); code != 200 || got.Total != want {
			t.Fatalf("%s: status %d, total %d, want %d", query, code, got.Total, want)
		}
	}
}

// withoutProfileInfo is a connection whose queries never tell the caller their profile
// (rows_before_limit among it), as a server that does not send it.
type withoutProfileInfo struct{ driver.Conn }

func (c withoutProfileInfo) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	return c.Conn.Query(clickhouse.Context(ctx, clickhouse.WithProfileInfo(func(*clickhouse.ProfileInfo) {})), q, args...)
}

// A journey shows what the person did in its window, in order: pages, forms, call and
// email clicks and the conversions recorded for them, not other people's events nor
// what came after the conversion.
func TestJourneyTimeline(t *testing.T) {
	w := newWorld(t)
	d := w.db
	s1 := d.Session(attrtest.Session{Site: "s1", Person: "P", At: oct(1, 9), Channel: "Paid Search", Source: "google", Medium: "cpc", Landing: "/pricing"})
	s2 := d.Session(attrtest.Session{Site: "s1", Person: "P", Visitor: "v-P-phone", At: oct(2, 9), Channel: "Email", Source: "newsletter", Medium: "email", Landing: "/blog"})
	ev := func(session, visitor, typ string, at time.Time, path, title, name, props string) {
		d.Event(attrtest.Event{Site: "s1", Person: "P", Visitor: visitor, Session: session, Type: typ, At: at, Path: path, Title: title, Name: name, Props: props})
	}
	ev(s1, "", "pageview", oct(1, 9), "/pricing", "Pricing <b>", "", "")
	ev(s1, "", "call_click", oct(1, 9).Add(time.Minute), "/pricing", "Pricing <b>", "", `{"href":"tel:+4930123456"}`)
	ev(s2, "v-P-phone", "pageview", oct(2, 9), "/blog", "Blog", "", "")
	ev(s2, "v-P-phone", "track", oct(2, 9).Add(time.Minute), "/blog", "Blog", "video_play", "")
	ev(s2, "v-P-phone", "form_submit", oct(2, 10), "/demo", "Book a demo", "", "")
	ev(s2, "v-P-phone", "pageview", oct(5, 10), "/after", "After", "", "") // after the conversion
	d.Event(attrtest.Event{Site: "s1", Person: "Q", Type: "pageview", At: oct(1, 10), Path: "/other"})
	d.Event(attrtest.Event{Site: "s2", Person: "P", Type: "pageview", At: oct(1, 10), Path: "/other-site"})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "call-P", Type: "lead", LeadType: "call", Person: "P", At: oct(1, 11)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "form-P", Type: "lead", LeadType: "form", Person: "P", At: oct(2, 10)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "sale-P", Type: "sale", Person: "P", At: oct(6, 10), Value: 90})
	w.rebuild("s1")

	j := w.journey("form-P")
	var got []string
	for _, e := range j.Events {
		s := e.Type + " " + e.Path + e.Name + e.Link
		if e.Conversion != nil {
			s = e.Type + " " + e.Conversion.ConversionID
		}
		got = append(got, s)
	}
	want := "pageview /pricing|call_click /pricingtel:+4930123456|conversion call-P|pageview /blog|track /blogvideo_play|form_submit /demo|conversion form-P"
	if strings.Join(got, "|") != want || j.EventsTruncated || len(j.Touchpoints) != 2 || !j.WindowFrom.Equal(oct(2, 10).AddDate(0, 0, -w.sites.Get("s1").LookbackDays)) {
		t.Fatalf("timeline\n%s\nwant\n%s\n(truncated %v, %d touchpoints, window from %s)", strings.Join(got, "|"), strings.ReplaceAll(want, "|", "\n"),
			j.EventsTruncated, len(j.Touchpoints), j.WindowFrom)
	}
	if j.Events[0].Title != "Pricing <b>" || j.Events[0].SessionID != s1 || j.Events[5].SessionID != s2 {
		t.Fatalf("events %+v", j.Events)
	}
}

// A journey's credit is the conversion's latest: a touch its next computation no longer
// credits (its session deleted since) has none, and the touch left has all of it.
func TestJourneyShowsTheLatestCredit(t *testing.T) {
	w := newWorld(t)
	d := w.db
	first := d.Session(attrtest.Session{Site: "s1", Person: "P", At: oct(1, 9), Channel: "Paid Search", Source: "google", Medium: "cpc"})
	gone := d.Session(attrtest.Session{Site: "s1", Person: "P", At: oct(2, 9), Channel: "Email", Source: "newsletter", Medium: "email"})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-P", Type: "lead", LeadType: "form", Person: "P", At: oct(3, 10)})
	credit := func(want map[string]float64) {
		t.Helper()
		got := map[string]float64{}
		for _, tp := range w.journey("lead-P").Touchpoints {
			got[tp.SessionID] = tp.Credits["linear"]
		}
		if !maps.Equal(got, want) {
			t.Fatalf("linear credit by session %v, want %v", got, want)
		}
	}
	w.rebuild("s1")
	credit(map[string]float64{first: 0.5, gone: 0.5})
	d.Session(attrtest.Session{ID: gone, Site: "s1", Visitor: "v-P", At: oct(2, 9), Deleted: true})
	w.rebuild("s1")
	credit(map[string]float64{first: 1})
}

// A journey reads only its person's rows, yet gives what reading every row would: the
// sessions of ids merged into the person, not a session a later version deleted (a
// restitch writes that version without a person), not a conversion a later version moved
// to someone else, nothing of other people, even from the person's browser.
func TestJourneyReadsOnlyItsPersonsRows(t *testing.T) {
	w := newWorld(t)
	d := w.db
	d.Alias("s1", "P-old", "P")
	own := d.Session(attrtest.Session{Site: "s1", Person: "P", At: oct(1, 9), Channel: "Paid Search", Source: "google", Medium: "cpc"})
	merged := d.Session(attrtest.Session{Site: "s1", Person: "P-old", Visitor: "v-P-phone", At: oct(1, 12), Channel: "Email", Source: "newsletter", Medium: "email"})
	gone := d.Session(attrtest.Session{Site: "s1", Person: "P", At: oct(1, 15), Channel: "Display", Source: "ads", Medium: "display"})
	d.Session(attrtest.Session{ID: gone, Site: "s1", Visitor: "v-P", At: oct(1, 15), Deleted: true})
	d.Session(attrtest.Session{Site: "s1", Person: "Q", At: oct(1, 16), Channel: "Direct"})
	// The same browser that day, under someone the person was never merged with.
	d.Session(attrtest.Session{Site: "s1", Person: "R", Visitor: "v-P", At: oct(1, 20), Channel: "Direct"})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "moved", Type: "lead", LeadType: "form", Person: "P", At: oct(1, 17)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "moved", Type: "lead", LeadType: "form", Person: "Q", At: oct(1, 17)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "before", Type: "lead", LeadType: "call", Person: "P-old", At: oct(1, 18)})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "sale-P", Type: "sale", Person: "P", At: oct(2, 10), Value: 90})
	w.rebuild("s1")

	j := w.journey("sale-P")
	var touches, convs []string
	for _, tp := range j.Touchpoints {
		touches = append(touches, tp.SessionID)
	}
	for _, c := range j.Conversions {
		convs = append(convs, c.ConversionID)
	}
	if j.PersonID != "P" || strings.Join(touches, " ") != own+" "+merged || strings.Join(convs, " ") != "before sale-P" {
		t.Fatalf("person %s, touchpoints %v (want %s %s), conversions %v", j.PersonID, touches, own, merged, convs)
	}
	if j.Touchpoints[1].Credits["last_click"] != 1 {
		t.Fatalf("credits %+v", j.Touchpoints)
	}
}

// A report that cannot be computed says why, never "see the service log".
func TestErrorsSayWhatWentWrong(t *testing.T) {
	conn, _ := testenv.FreshDatabase(t)
	sites, _ := site.New(site.Config{AdminTokenSHA256: "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c", Sites: []site.Site{{ID: "s1"}}})
	srv := httptest.NewServer((&Server{Sites: sites, Reports: &reports.Store{Conn: conn, DB: "no_such_database"}}).Handler())
	t.Cleanup(srv.Close)
	for _, path := range []string{"/api/v1/reports/sources", "/api/v1/reports/series", "/api/v1/reports/lifecycle", "/api/v1/leads"} {
		var body map[string]string
		code := get(t, srv.URL+path+"?site=s1", "demo-admin", &body)
		if code != 500 || !strings.HasPrefix(body["error"], "the report could not be computed: cannot ") ||
			!strings.Contains(body["error"], "no_such_database") || strings.Contains(body["error"], "log") || strings.Contains(body["error"], "\n") {
			t.Fatalf("%s: %d %q", path, code, body["error"])
		}
	}
	refused := fmt.Errorf("cannot read traffic: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	if code, reason := failure(refused); code != 503 || reason != "ClickHouse cannot be reached: cannot read traffic: dial tcp: connection refused" {
		t.Fatalf("%d %q", code, reason)
	}
	if code, reason := failure(errors.New(strings.Repeat("é", 400) + "\nstack")); code != 500 || len(reason) > 400 || strings.Contains(reason, "stack") {
		t.Fatalf("%d %q", code, reason)
	}
}
