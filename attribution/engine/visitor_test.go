package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"touchpoint/attribution/attrtest"
	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
	"touchpoint/reports"
)

// Credit stored before attribution rows had a visitor id gets the visitor of its session
// from the migration, and keeps it when the rows per model are folded into a row per
// touch, without changing a credit or a report figure and without being counted twice by
// the reports' latest-version reads; a rebuild afterwards writes the same rows, twice over.
func TestStoredCreditGetsItsVisitors(t *testing.T) {
	ctx := context.Background()
	conn, _ := testenv.ClickHouse(t)
	db := fmt.Sprintf("tp_test_%d", time.Now().UnixNano())
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	ms, err := chstore.Migrations(db)
	if err != nil {
		t.Fatal(err)
	}
	// The database as an earlier version left it: every migration before touch_credits
	// (0090) but 0051 (visitor ids on credit rows) and 0052 (the views that read them),
	// which later migrations do not need; the test helpers write the columns of the later
	// ones.
	for _, st := range []string{"CREATE DATABASE " + db,
		"CREATE TABLE " + db + ".schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version"} {
		if err := conn.Exec(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range ms {
		if m.Version == 51 || m.Version == 52 || m.Version >= 90 {
			continue
		}
		for _, st := range m.Statements {
			if err := conn.Exec(ctx, st); err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
		}
		if err := conn.Exec(ctx, "INSERT INTO "+db+".schema_migrations SELECT ?, ?, now()", uint32(m.Version), m.Name); err != nil {
			t.Fatal(err)
		}
	}

	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	sa := d.Session(attrtest.Session{Site: "s1", Visitor: "phone", Person: "p1", At: t0.Add(-48 * time.Hour), Channel: "Organic Search"})
	sb := d.Session(attrtest.Session{Site: "s1", Visitor: "laptop", Person: "p1", At: t0.Add(-2 * time.Hour), Channel: "Email"})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead", Type: "lead", LeadType: "form", Person: "p1", At: t0})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "sale", Type: "sale", Person: "p9", At: t0, Value: 90})
	// Rows as the previous version wrote them: first click moved from the laptop to the
	// phone in a second computation (the laptop's row removed); the sale had no touchpoint.
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+`.attributions (site_id, conversion_id, conversion_type, lead_type, occurred_at,
		person_id, model, session_id, touch_at, channel, credit, revenue, currency, removed, computed_at, version, country, device)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		conv, model, session, channel string
		credit                        float64
		removed                       uint8
		version                       uint64
	}{
		{"lead", "first_click", sb, "Email", 1, 0, 10},
		{"lead", "first_click", sa, "Organic Search", 1, 0, 20},
		{"lead", "first_click", sb, "", 0, 1, 20},
		{"lead", "last_click", sb, "Email", 1, 0, 20},
		{"lead", "linear", sa, "Organic Search", 0.5, 0, 20},
		{"lead", "linear", sb, "Email", 0.5, 0, 20},
		{"sale", "first_click", "", "(no touchpoint)", 1, 0, 20},
	} {
		typ, value := "lead", 0.0
		if r.conv == "sale" {
			typ, value = "sale", 90
		}
		if err := b.Append("s1", r.conv, typ, "form", t0, "p1", r.model, r.session, t0, r.channel, r.credit, value*r.credit, "EUR",
			r.removed, t0, r.version, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	sites, err := site.New(site.Config{Sites: []site.Site{{ID: "s1", LookbackDays: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	store := &reports.Store{Conn: conn, DB: db}
	models := []string{"first_click", "last_click", "linear"}
	// The credit the rows give per model and channel, as leads, sales and revenue.
	var before []string
	for _, m := range models {
		res, err := conn.Query(ctx, `SELECT channel, sumIf(credit, conversion_type = 'lead'), sumIf(credit, conversion_type = 'sale'), sum(revenue)
			FROM `+db+`.attributions FINAL WHERE model = ? AND removed = 0 GROUP BY channel ORDER BY channel`, m)
		if err != nil {
			t.Fatal(err)
		}
		for res.Next() {
			var ch string
			var leads, sales, revenue float64
			if err := res.Scan(&ch, &leads, &sales, &revenue); err != nil {
				t.Fatal(err)
			}
			before = append(before, fmt.Sprintf("%s %s %g %g %g", m, ch, leads, sales, revenue))
		}
		res.Close()
	}
	// The source report's rows with credit, in the same form.
	report := func() string {
		t.Helper()
		var out []string
		for _, m := range models {
			g, _ := reports.LookupGroupBy("channel")
			r, err := store.Sources(ctx, reports.Params{Site: "s1", From: t0.AddDate(0, 0, -1), To: t0, Model: m, By: g, Currency: "EUR"})
			if err != nil {
				t.Fatal(err)
			}
			rows := slices.DeleteFunc(r.Rows, func(r reports.SourceRow) bool { return r.Leads == 0 && r.Sales == 0 })
			slices.SortFunc(rows, func(a, b reports.SourceRow) int { return strings.Compare(a.Key, b.Key) })
			for _, r := range rows {
				out = append(out, fmt.Sprintf("%s %s %g %g %g", m, r.Key, r.Leads, r.Sales, r.Revenue))
			}
		}
		return fmt.Sprint(out)
	}

	if _, err := chstore.Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	// rows lists each model's credited touches of from, a relation of touch_credits rows.
	rows := func(from string) []string {
		t.Helper()
		res, err := conn.Query(ctx, `SELECT conversion_id, model, session_id, visitor_id, credit, removed FROM `+from+`
			ARRAY JOIN ['first_click', 'last_click', 'linear'] AS model, [credit_first_click, credit_last_click, credit_linear] AS credit
			WHERE credit > 0 ORDER BY conversion_id, model, visitor_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		var out []string
		for res.Next() {
			var c, m, s, v string
			var cr float64
			var rm uint8
			if err := res.Scan(&c, &m, &s, &v, &cr, &rm); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %s %s %s %g %d", c, m, s, v, cr, rm))
		}
		return out
	}
	want := fmt.Sprint([]string{
		"lead first_click " + sa + " phone 1 0", "lead last_click " + sb + " laptop 1 0",
		"lead linear " + sb + " laptop 0.5 0", "lead linear " + sa + " phone 0.5 0", "sale first_click   1 0"})
	if got := fmt.Sprint(rows(db + ".touch_credits FINAL")); got != want {
		t.Fatalf("after the migration:\n%s\nwant\n%s", got, want)
	}
	// The reports read the rows of each conversion's highest version: the rows written
	// by the migration, once.
	latest := fmt.Sprintf(`(SELECT * FROM %[1]s.touch_credits WHERE (conversion_id, version) IN
		(SELECT conversion_id, max(version) FROM %[1]s.touch_credits GROUP BY conversion_id) AND removed = 0)`, db)
	if got := rows(latest); len(got) != 5 {
		t.Fatalf("latest computation rows after the migration: %v, want the 5 credited", got)
	}
	if after := report(); after != fmt.Sprint(before) {
		t.Fatalf("the migration changed the report:\n%s\n%s", before, after)
	}

	eng := New(conn, db, sites)
	rebuilt := func() string {
		t.Helper()
		if _, _, err := eng.Rebuild(ctx, "s1", t0.AddDate(0, 0, -1), t0); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(rows(latest))
	}
	once, twice := rebuilt(), rebuilt()
	if once != twice {
		t.Fatalf("a second rebuild changed the rows:\n%s\n%s", once, twice)
	}
	for _, w := range []string{"lead first_click " + sa + " phone 1 0", "lead last_click " + sb + " laptop 1 0", "sale first_click   1 0"} {
		if !strings.Contains(once, w) {
			t.Fatalf("rebuilt rows %s lack %q", once, w)
		}
	}
}
