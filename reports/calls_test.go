package reports

import (
	"context"
	"testing"
	"time"

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/engine"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

// The calls report counts each call once under its touch's key, its first-time callers,
// answered calls and their median duration, from each call's latest version: a call
// posted again as a form lead drops out, and a lead posted again as a call comes in.
func TestCallsReport(t *testing.T) {
	ctx := context.Background()
	conn, db := testenv.FreshDatabase(t)
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	at := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	touch := func(person, channel, source string) {
		d.Session(attrtest.Session{Site: "demo", Person: person, At: at, Channel: channel, Source: source})
	}
	call := func(id, typ, leadType, person, props string) {
		d.Conversion(attrtest.Conversion{Site: "demo", ID: id, Type: typ, LeadType: leadType, Person: person, At: at.Add(time.Hour), Props: props})
	}
	touch("ann", "Paid Search", "google")
	call("c1", "lead", "call", "ann", `{"answered":true,"duration":120}`)
	call("c2", "call", "call", "ann", `{"answered":true,"duration":60}`) // her second call
	touch("bob", "Paid Search", "google")
	call("c3", "lead", "call", "bob", `{"answered":false,"duration":0}`)
	touch("cid", "Email", "newsletter")
	call("c4", "lead", "call", "cid", `{"answered":true,"duration":300}`)
	touch("dan", "Email", "newsletter")
	call("c5", "lead", "form", "dan", "{}")
	touch("eve", "Direct", "(direct)")
	call("c6", "lead", "form", "eve", "{}")
	sites, _ := site.New(site.Config{Sites: []site.Site{{ID: "demo", LookbackDays: 30}}})
	credit := func() {
		t.Helper()
		if _, _, err := engine.New(conn, db, sites).Rebuild(ctx, "demo", at.AddDate(0, 0, -1), at.AddDate(0, 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	credit()
	// Posted again and credited again: the older computations stay beside the new ones.
	call("c4", "lead", "form", "cid", "{}") // a form lead after all
	call("c5", "lead", "call", "dan", `{"answered":true,"duration":30}`)
	credit()
	g, _ := LookupGroupBy("channel")
	r, err := (&Store{Conn: conn, DB: db}).Calls(ctx, Params{Site: "demo", From: at, To: at, Model: "last_click", By: g})
	if err != nil {
		t.Fatal(err)
	}
	median := func(f CallFigures) float64 {
		if f.MedianDuration == nil {
			return -1
		}
		return *f.MedianDuration
	}
	got := map[string]CallFigures{}
	for _, row := range r.Rows {
		got[row.Key] = row.CallFigures
	}
	if len(r.Rows) != 2 {
		t.Fatalf("rows %+v, want Paid Search and Email", r.Rows)
	}
	ps, email := got["Paid Search"], got["Email"]
	if ps.Calls != 3 || ps.FirstTime != 2 || ps.Answered != 2 || median(ps) != 90 {
		t.Fatalf("Paid Search: %+v (median %v), want 3 calls, 2 first-time callers, 2 answered, median 90 s", ps, median(ps))
	}
	if email.Calls != 1 || email.FirstTime != 1 || email.Answered != 1 || median(email) != 30 {
		t.Fatalf("Email: %+v (median %v), want the lead posted again as a call only", email, median(email))
	}
	if r.Totals.Calls != 4 || r.Totals.Answered != 3 {
		t.Fatalf("totals %+v, want 4 calls, 3 answered", r.Totals)
	}
}
