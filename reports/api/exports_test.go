package api

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"touchpoint/attribution/attrtest"
)

// export GETs an offline conversion export with the admin token.
func (w *world) export(path string) (int, http.Header, string) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, w.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer demo-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// The offline conversion exports hold one row per conversion whose credited touch carries
// a click id of the platform, in the platform's template, with the chosen type, name,
// model and time zone.
func TestOfflineConversionExports(t *testing.T) {
	w := newWorld(t)
	d := w.db
	s := func(person string, day, hour int, channel, clickType, clickID string) {
		d.Session(attrtest.Session{Site: "s1", Person: person, At: oct(day, hour), Channel: channel, Source: "x", Medium: "y",
			Landing: "/", ClickType: clickType, ClickID: clickID})
	}
	c := func(id, typ, person string, day, hour int, value float64, currency string) {
		d.Conversion(attrtest.Conversion{Site: "s1", ID: id, Type: typ, Person: person, At: oct(day, hour), Value: value, Currency: currency})
	}
	s("p1", 1, 9, "Paid Search", "gclid", "Cj0KCQ-p1")
	s("p1", 3, 9, "Email", "", "")
	c("lead-1", "lead", "p1", 3, 12, 0, "")
	s("p2", 2, 9, "Paid Search", "gbraid", "GB-p2")
	c("lead-2", "lead", "p2", 2, 13, 0, "")
	s("p3", 4, 9, "Paid Search", "msclkid", "ms0123abc")
	c("lead-3", "lead", "p3", 4, 12, 0, "")
	s("p4", 5, 9, "Paid Search", "gclid", "Cj0-p4")
	c("lead-4", "lead", "p4", 5, 11, 0, "")
	c("sale-4", "sale", "p4", 6, 10, 1200.499, "USD")
	s("p5", 6, 9, "Paid Search", "gclid", `=HYPERLINK("http://evil.example")`)
	c("lead-5", "lead", "p5", 6, 12, 0, "")
	s("p6", 7, 9, "Paid Search", "gclid", "Cj0-p6")
	c("lead-6", "lead", "p6", 7, 12, 0, "")
	s("p7", 7, 9, "Organic Search", "", "")
	c("lead-7", "lead", "p7", 7, 12, 0, "")
	s("p8", 8, 9, "Paid Search", "gclid", "Cj0-p8")
	c("sale-8", "sale", "p8", 8, 12, 50, "") // in the site's currency
	s("p9", 9, 9, "Paid Search", "gclid", "Cj0-p9")
	c("sale-9", "sale", "p9", 9, 12, 15000.4, "JPY") // the yen has no decimals
	s("p10", 10, 9, "Paid Search", "msclkid", "ms-p10")
	c("sale-10", "sale", "p10", 10, 12, 12.3456, "KWD") // the Kuwaiti dinar has three
	w.rebuild("s1")

	f := func(path string, want ...string) {
		t.Helper()
		code, h, body := w.export(path)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		if got := strings.Split(strings.TrimSuffix(body, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s:\n%s\nwant:\n%s", path, body, strings.Join(want, "\n"))
		}
		if h.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="`) ||
			h.Get("X-Touchpoint-Rows") == "" {
			t.Fatalf("%s: headers %v", path, h)
		}
	}
	const range_ = "site=s1&from=2026-10-01&to=2026-10-07"
	// Last click by default: lead-1's last touch is the newsletter; the gbraid click of an
	// iOS app brings the GBRAID and WBRAID columns; a click id no ad platform makes (it
	// would be a spreadsheet formula) and Microsoft's clicks are left out.
	f("/api/v1/exports/google-ads?"+range_,
		"Parameters:TimeZone=+0000",
		"Google Click ID,GBRAID,WBRAID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
		",GB-p2,,lead,2026-10-02 13:00:00,,",
		"Cj0-p4,,,lead,2026-10-05 11:00:00,,",
		"Cj0-p6,,,lead,2026-10-07 12:00:00,,")
	// gclids only: the five-column template; the name of the conversion action; London
	// time (summer time until October 25).
	f("/api/v1/exports/google-ads?"+range_+"&click_ids=gclid&name=Demo+request&timezone=Europe/London",
		"Parameters:TimeZone=Europe/London",
		"Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
		"Cj0-p4,Demo request,2026-10-05 12:00:00,,",
		"Cj0-p6,Demo request,2026-10-07 13:00:00,,")
	// First click credits lead-1's Google Ads click; linear gives it half, the most of any
	// touch with a click id.
	for _, model := range []string{"first_click", "linear"} {
		f("/api/v1/exports/google-ads?"+range_+"&click_ids=gclid&model="+model,
			"Parameters:TimeZone=+0000",
			"Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
			"Cj0KCQ-p1,lead,2026-10-03 12:00:00,,",
			"Cj0-p4,lead,2026-10-05 11:00:00,,",
			"Cj0-p6,lead,2026-10-07 12:00:00,,")
	}
	// Sales keep their own currency, to its smallest unit; one without a currency is in the
	// site's.
	f("/api/v1/exports/google-ads?site=s1&from=2026-10-01&to=2026-10-31&type=sale&name=Purchase",
		"Parameters:TimeZone=+0000",
		"Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
		"Cj0-p4,Purchase,2026-10-06 10:00:00,1200.50,USD",
		"Cj0-p8,Purchase,2026-10-08 12:00:00,50.00,EUR",
		"Cj0-p9,Purchase,2026-10-09 12:00:00,15000,JPY")
	f("/api/v1/exports/microsoft-ads?site=s1&from=2026-10-01&to=2026-10-31&type=sale&name=Purchase",
		"Parameters:TimeZone=+0000",
		"Microsoft Click Id,Conversion Name,Conversion Time,Conversion Value,Conversion Currency Code",
		"ms-p10,Purchase,2026-10-10 12:00:00,12.346,KWD")
	f("/api/v1/exports/microsoft-ads?"+range_,
		"Parameters:TimeZone=+0000",
		"Microsoft Click Id,Conversion Name,Conversion Time,Conversion Value,Conversion Currency Code",
		"ms0123abc,lead,2026-10-04 12:00:00,,")
	f("/api/v1/exports/microsoft-ads?"+range_+"&timezone=-05:00&name=Lead%2C+qualified",
		"Parameters:TimeZone=-0500",
		"Microsoft Click Id,Conversion Name,Conversion Time,Conversion Value,Conversion Currency Code",
		`ms0123abc,"Lead, qualified",2026-10-04 07:00:00,,`)
	f("/api/v1/exports/microsoft-ads?site=s1&from=2026-10-20&to=2026-10-21",
		"Parameters:TimeZone=+0000",
		"Microsoft Click Id,Conversion Name,Conversion Time,Conversion Value,Conversion Currency Code")

	for path, want := range map[string]string{
		"/api/v1/exports/microsoft-ads?site=s1&timezone=Europe/London":     "offset",
		"/api/v1/exports/google-ads?site=s1&timezone=Mars/Base":            "zone name",
		"/api/v1/exports/google-ads?site=s1&timezone=%2B1500":              "offset from",
		"/api/v1/exports/google-ads?site=s1&name=%3DSUM(A1)":               "not starting with",
		"/api/v1/exports/google-ads?site=s1&model=best_guess":              "unknown model",
		"/api/v1/exports/microsoft-ads?site=s1&click_ids=gclid":            "click_ids",
		"/api/v1/exports/google-ads?site=s1&from=2026-10-09&to=2026-10-01": "after",
	} {
		code, _, body := w.export(path)
		if code != 400 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s, want 400 saying %q", path, code, body, want)
		}
	}
}
