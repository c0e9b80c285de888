package reports_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/engine"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
	"touchpoint/reports"
)

var sqlBlock = regexp.MustCompile("(?s)```sql\n(.*?)```")

// Every query of docs/sql.md runs on ClickHouse against a small journey, and the ones
// that must find it return rows.
func TestSQLDocQueriesRun(t *testing.T) {
	doc, err := os.ReadFile("../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := sqlBlock.FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 6 {
		t.Fatalf("docs/sql.md has %d sql blocks, want at least 6", len(blocks))
	}
	conn, db := testenv.FreshDatabase(t)
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	at := time.Date(2026, 10, 10, 10, 0, 0, 0, time.UTC)
	d.Session(attrtest.Session{Site: "demo", Person: "p1", At: at, Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand"})
	d.Session(attrtest.Session{Site: "demo", Person: "p2", At: at.Add(time.Hour), Channel: "Email", Source: "newsletter", Medium: "email"})
	d.Alias("demo", "p2", "p1")
	d.Event(attrtest.Event{Site: "demo", Person: "p1", Type: "pageview", At: at, Path: "/pricing", Title: "Pricing"})
	d.Event(attrtest.Event{Site: "demo", Person: "p2", Type: "call_click", At: at.Add(time.Hour), Path: "/", Props: `{"href":"tel:+4930123"}`})
	d.Conversion(attrtest.Conversion{Site: "demo", ID: "l1", Type: "lead", LeadType: "form", Person: "p1", At: at.Add(2 * time.Hour)})
	d.Conversion(attrtest.Conversion{Site: "demo", ID: "s1", Type: "sale", Person: "p1", At: at.Add(48 * time.Hour), Value: 100})
	d.Conversion(attrtest.Conversion{Site: "demo", ID: "s2", Type: "sale", Person: "p2", At: at.Add(50 * time.Hour), Value: 120, Currency: "USD"})
	store := &reports.Store{Conn: conn, DB: db}
	costs, err := reports.ParseCosts("text/csv", []byte("date,source,medium,campaign,ad_group,term,cost,currency,clicks,impressions\n"+
		"2026-10-10,google,cpc,brand,,,60,EUR,16,160\n2026-10-10,google,cpc,brand,Brand,acme crm,50,EUR,15,150\n"+
		"2026-10-11,newsletter,email,oct,,,10,GBP,0,0\n"), reports.CostDefaults{Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.ImportCosts(context.Background(), "demo", costs); err != nil {
		t.Fatal(err)
	}
	if err := store.ImportRates(context.Background(), "demo", []reports.Rate{{Date: "2026-10-09", Base: "EUR", Currency: "USD", Rate: 1.2}}); err != nil {
		t.Fatal(err)
	}
	sites, _ := site.New(site.Config{Sites: []site.Site{{ID: "demo"}}})
	if _, _, err := engine.New(conn, db, sites).Rebuild(context.Background(), "demo", at.AddDate(0, 0, -1), at.AddDate(0, 0, 5)); err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		q := strings.ReplaceAll(b[1], "touchpoint.", db+".")
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("docs/sql.md query %d fails: %v\n%s", i+1, err, b[1])
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatalf("docs/sql.md query %d: %v", i+1, err)
		}
		// The email lookup has no matching rows in this journey.
		if n == 0 && !strings.Contains(q, "SHA256") {
			t.Fatalf("docs/sql.md query %d returned no rows:\n%s", i+1, b[1])
		}
	}
}
