package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"touchpoint/internal/demo"
	"touchpoint/internal/testenv"
	"touchpoint/reports"
)

// sqlDoc is the queries of docs/sql.md, each under the heading it follows.
type sqlDoc []struct{ heading, sql string }

func readSQLDoc(t *testing.T, name string) sqlDoc {
	t.Helper()
	b, err := os.ReadFile(testenv.RepoRoot(t) + "/docs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var out sqlDoc
	heading := ""
	parts := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatchIndex(string(b), -1)
	headings := regexp.MustCompile(`(?m)^#+ (.*)$`).FindAllStringSubmatchIndex(string(b), -1)
	for _, p := range parts {
		for _, h := range headings {
			if h[0] < p[0] {
				heading = string(b[h[2]:h[3]])
			}
		}
		out = append(out, struct{ heading, sql string }{heading, string(b[p[2]:p[3]])})
	}
	if len(out) == 0 {
		t.Fatalf("docs/%s has no queries", name)
	}
	return out
}

// sql is the first query under heading.
func (d sqlDoc) sql(t *testing.T, heading string) string {
	t.Helper()
	for _, q := range d {
		if q.heading == heading {
			return q.sql
		}
	}
	t.Fatalf("docs/sql.md has no query under %q", heading)
	return ""
}

// sqlRow is a result row by column name.
type sqlRow map[string]any

// query runs a documented query (with its arguments, if any) on the test's database.
func (p *demoRun) query(t *testing.T, q string, args ...any) []sqlRow {
	t.Helper()
	rows, err := p.conn.Query(context.Background(), strings.ReplaceAll(q, "touchpoint.", p.db+"."), args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var out []sqlRow
	cols := rows.Columns()
	types := rows.ColumnTypes()
	for rows.Next() {
		dest := make([]any, len(cols))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		r := sqlRow{}
		for i, c := range cols {
			r[c] = reflect.ValueOf(dest[i]).Elem().Interface()
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	return out
}

// explainPerson logs what the tables hold about a person on whom the docs' SQL and the API
// disagree: every version of the conversions that resolve to them, the alias rows of the
// ids those were written under and of the person, and those conversions'
// person_conversions rows, so that a disagreement seen once can be traced to its rows.
func (p *demoRun) explainPerson(t *testing.T, person string) {
	t.Helper()
	convs := `SELECT conversion_id FROM touchpoint.conversions_current WHERE site_id = 'demo' AND person_id = ?`
	for _, q := range []string{
		`SELECT conversion_id, type, person_id, version, is_bot, origin FROM touchpoint.conversions
			WHERE conversion_id IN (` + convs + `) ORDER BY conversion_id, version`,
		`SELECT person_id, current_person_id, version FROM touchpoint.person_aliases
			WHERE person_id IN (SELECT person_id FROM touchpoint.conversions WHERE conversion_id IN (` + convs + `))
				OR person_id = ? OR current_person_id = ? ORDER BY person_id, version`,
		`SELECT person_id, conversion_id FROM touchpoint.person_conversions WHERE conversion_id IN (` + convs + `)
			ORDER BY conversion_id, person_id`,
	} {
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = person
		}
		for _, r := range p.query(t, q, args...) {
			t.Logf("person %s: %v", person, r)
		}
	}
}

func (r sqlRow) str(c string) string {
	s, _ := r[c].(string)
	return s
}

func (r sqlRow) time(c string) time.Time {
	t, _ := r[c].(time.Time)
	return t
}

// opt is a number, nil for NULL (and for a row that is not there).
func (r sqlRow) opt(c string) *float64 {
	v := reflect.ValueOf(r[c])
	if !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	v = reflect.Indirect(v)
	var x float64
	switch {
	case v.CanFloat():
		x = v.Float()
	case v.CanUint():
		x = float64(v.Uint())
	case v.CanInt():
		x = float64(v.Int())
	default:
		return nil
	}
	return &x
}

// num is a number, 0 for NULL or a row that is not there.
func (r sqlRow) num(c string) float64 {
	if x := r.opt(c); x != nil {
		return *x
	}
	return 0
}

func keyed(rows []sqlRow, col string) map[string]sqlRow {
	out := map[string]sqlRow{}
	for _, r := range rows {
		out[r.str(col)] = r
	}
	return out
}

func byKey(rows []reports.SourceRow) map[string]reports.Figures {
	out := map[string]reports.Figures{}
	for _, r := range rows {
		out[r.Key] = r.Figures
	}
	return out
}

func countIf(m map[string]reports.Figures, f func(reports.Figures) bool) int {
	n := 0
	for _, v := range m {
		if f(v) {
			n++
		}
	}
	return n
}

func (p *demoRun) get(t *testing.T, path string, out any) {
	t.Helper()
	getJSON(t, p.api+path, out)
}

func (p *demoRun) sources(t *testing.T, model, by, rng string) *reports.Sources {
	t.Helper()
	var r reports.Sources
	p.get(t, fmt.Sprintf("/api/v1/reports/sources?site=demo&model=%s&by=%s&%s", model, by, rng), &r)
	return &r
}

func (p *demoRun) lifecycle(t *testing.T, by, rng string) *reports.Lifecycle {
	t.Helper()
	var r reports.Lifecycle
	p.get(t, fmt.Sprintf("/api/v1/reports/lifecycle?site=demo&by=%s&%s", by, rng), &r)
	return &r
}

// journeys fetches the journey of each sale from the API, a few at a time.
func (p *demoRun) journeys(t *testing.T, sales []demoSale) map[string]*reports.Journey {
	t.Helper()
	out := make([]*reports.Journey, len(sales))
	errs := make([]error, len(sales))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = p.journey(sales[i].id)
			}
		}()
	}
	for i := range sales {
		next <- i
	}
	close(next)
	wg.Wait()
	m := map[string]*reports.Journey{}
	for i, s := range sales {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		m[s.id] = out[i]
	}
	return m
}

func (p *demoRun) journey(id string) (*reports.Journey, error) {
	req, _ := http.NewRequest(http.MethodGet, p.api+"/api/v1/journeys?site=demo&conversion_id="+url.QueryEscape(id), nil)
	req.Header.Set("Authorization", "Bearer demo-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("journey of %s: %s", id, resp.Status)
	}
	var j reports.Journey
	return &j, json.NewDecoder(resp.Body).Decode(&j)
}

// compare reports the figures of a documented query that differ from the API's.
type compare struct {
	t    *testing.T
	name string
	bad  int
}

func newCompare(t *testing.T, name string) *compare { return &compare{t: t, name: name} }

func (c *compare) fail(format string, args ...any) {
	c.t.Helper()
	if c.bad++; c.bad <= 10 {
		c.t.Errorf("%s: %s", c.name, fmt.Sprintf(format, args...))
	}
}

func (c *compare) num(label string, got, want float64) {
	c.t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		c.fail("%s: SQL %v, API %v", label, got, want)
	}
}

func (c *compare) opt(label string, got, want *float64) {
	c.t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		c.fail("%s: SQL %v, API %v", label, deref(got), deref(want))
	default:
		c.num(label, *got, *want)
	}
}

func deref(x *float64) any {
	if x == nil {
		return "null"
	}
	return *x
}

// compareJourney compares the rows of the journey query with the API's touchpoints. A
// session at the very start of the lookback window, which no model credits, is the
// API's only.
func compareJourney(t *testing.T, rows []sqlRow, j *reports.Journey) {
	t.Helper()
	var touches []reports.JourneyTouch
	for _, tp := range j.Touchpoints {
		for _, c := range tp.Credits {
			if c != 0 {
				touches = append(touches, tp)
				break
			}
		}
	}
	c := newCompare(t, "journey of "+j.Conversion.ConversionID)
	c.num("touches", float64(len(rows)), float64(len(touches)))
	for i := 0; i < len(rows) && i < len(touches); i++ {
		r, tp := rows[i], touches[i]
		if !r.time("touch_at").Equal(tp.StartedAt) || r.str("channel") != tp.Channel || r.str("source") != tp.Source ||
			r.str("medium") != tp.Medium || r.str("campaign") != tp.Campaign || r.str("term") != tp.Term ||
			r.str("landing_page") != tp.LandingPage {
			c.fail("touch %d: SQL %v, API %+v", i, r, tp)
		}
		for m, want := range tp.Credits {
			c.num(fmt.Sprintf("touch %d %s", i, m), r.num(m), want)
		}
	}
}

// demoSale is a sale of the demo data set: from the CRM, or recorded on a thank-you page.
type demoSale struct {
	id, email string
	at        time.Time
}

func demoSales(ds *demo.Dataset) []demoSale {
	var out []demoSale
	for _, c := range ds.Conversions {
		if c.Type == "sale" {
			at, _ := time.Parse(time.RFC3339, c.OccurredAt)
			out = append(out, demoSale{c.ConversionID, c.Email, at})
		}
	}
	for _, e := range ds.Events {
		if e.Conversion != nil && e.Conversion.Type == "sale" {
			out = append(out, demoSale{e.Conversion.ID, "", time.UnixMilli(e.TS).UTC()})
		}
	}
	return out
}
