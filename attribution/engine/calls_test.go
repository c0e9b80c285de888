package engine

import (
	"context"
	"testing"
	"time"

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/model"
	"touchpoint/internal/site"
	"touchpoint/reports"
)

// A call matched to a visitor is credited to the person's sessions like any lead; an
// unmatched pool call to "(unmatched call)" and a static number's call to the number's
// source, under every model.
func TestCallsAreCreditedToSessionsUnmatchedOrStaticSource(t *testing.T) {
	f := newFixture(t)
	f.session("ad", "p1", t0.Add(-24*60*60e9), "Paid Search", "google", "cpc")
	call := func(id, person, props string) {
		f.db.Conversion(attrtest.Conversion{Site: "s1", ID: id, Type: "lead", LeadType: "call", Person: person, At: t0, Props: props})
	}
	call("call:twilio:CA1", "p1", `{"touch":"session","duration":30,"answered":true}`)
	call("call:twilio:CA2", "", `{"touch":"unmatched","duration":0,"answered":false}`)
	f.db.Conversion(attrtest.Conversion{Site: "s1", ID: "call:twilio:CA4", Type: "call", LeadType: "call", Person: "p1", At: t0.Add(3600e9),
		Props: `{"touch":"session","duration":90,"answered":true}`})
	// Two clicks on a tel: link in the ad's session, and one by a bot: intent, not leads.
	for i, bot := range []bool{false, false, true} {
		f.db.Event(attrtest.Event{Site: "s1", Person: "p1", Session: f.sess["ad"], Type: "call_click", At: t0.Add(-24*60*60e9 + time.Duration(i+1)*time.Minute), Bot: bot})
	}
	call("call:twilio:CA3", "", `{"touch":"static","source":"yellowpages","medium":"directory","campaign":"2026","channel":"Referral"}`)
	if _, _, err := f.eng.Rebuild(context.Background(), "s1", t0.AddDate(0, 0, -1), t0.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer f.checkCallsReport()
	defer f.checkCallClicks()
	defer f.checkCallJourneys()
	for _, c := range []struct{ id, channel, source string }{
		{"call:twilio:CA1", "Paid Search", "google"},
		{"call:twilio:CA2", UnmatchedCall, UnmatchedCall},
		{"call:twilio:CA3", "Referral", "yellowpages"},
	} {
		rows, err := f.conn.Query(context.Background(), "SELECT model, channel, source, credit FROM "+f.db.Name+
			".attributions_current WHERE conversion_id = ?", c.id)
		if err != nil {
			t.Fatal(err)
		}
		models := map[string]bool{}
		for rows.Next() {
			var m, ch, src string
			var credit float64
			if err := rows.Scan(&m, &ch, &src, &credit); err != nil {
				t.Fatal(err)
			}
			if ch != c.channel || src != c.source || credit != 1 {
				t.Errorf("%s under %s: %s / %s credit %g, want %s / %s credit 1", c.id, m, ch, src, credit, c.channel, c.source)
			}
			models[m] = true
		}
		rows.Close()
		if len(models) != len(model.Models) {
			t.Errorf("%s credited under %d models, want %d", c.id, len(models), len(model.Models))
		}
	}
}

// checkCallsReport checks the calls report over the fixture of the test above: by source
// under last click, the matched calls (a first and a repeat) are google's.
func (f *fixture) checkCallsReport() {
	t := f.t
	by, _ := reports.LookupGroupBy("source")
	p := reports.Params{Site: "s1", From: t0.AddDate(0, 0, -1), To: t0.AddDate(0, 0, 1), Model: model.LastClick, By: by}
	rep, err := (&reports.Store{Conn: f.conn, DB: f.db.Name}).Calls(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]reports.CallFigures{}
	for _, r := range rep.Rows {
		got[r.Key] = r.CallFigures
	}
	median := 60.0
	want := map[string]reports.CallFigures{
		"google":      {Calls: 2, Answered: 2, FirstTime: 1, MedianDuration: &median},
		UnmatchedCall: {Calls: 1, Answered: 0, FirstTime: 1},
		"yellowpages": {Calls: 1, Answered: 0, FirstTime: 1},
	}
	for k, w := range want {
		g := got[k]
		if g.Calls != w.Calls || g.Answered != w.Answered || g.FirstTime != w.FirstTime ||
			(g.MedianDuration == nil) != (w.MedianDuration == nil) || g.MedianDuration != nil && *g.MedianDuration != *w.MedianDuration {
			t.Errorf("calls of %s: %+v, want %+v", k, g, w)
		}
	}
	if rep.Totals.Calls != 4 || rep.Totals.FirstTime != 3 {
		t.Errorf("totals %+v, want 4 calls, 3 first-time callers", rep.Totals)
	}
}

// checkCallClicks checks the call clicks beside leads in the source report: the ad
// session's two clicks (the bot's left out) on google's row, in the totals, in the series,
// and none once a filter leaves the session out.
func (f *fixture) checkCallClicks() {
	t := f.t
	store := &reports.Store{Conn: f.conn, DB: f.db.Name}
	by, _ := reports.LookupGroupBy("source")
	channel, _ := reports.LookupGroupBy("channel")
	p := reports.Params{Site: "s1", From: t0.AddDate(0, 0, -1), To: t0.AddDate(0, 0, 1), Model: model.LastClick, By: by, Currency: "EUR"}
	rep, err := store.Sources(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	clicks := map[string]uint64{}
	for _, r := range rep.Rows {
		clicks[r.Key] = r.CallClicks
	}
	if clicks["google"] != 2 || rep.Totals.CallClicks != 2 {
		t.Errorf("call clicks %v, totals %d; want 2 on google", clicks, rep.Totals.CallClicks)
	}
	series, err := store.Series(context.Background(), p, "day")
	if err != nil {
		t.Fatal(err)
	}
	if series.Totals.CallClicks != 2 {
		t.Errorf("call clicks in the series: %d, want 2", series.Totals.CallClicks)
	}
	p.Filter = reports.Filter{Dims: []reports.DimFilter{{By: channel, Value: "Email"}}}
	if rep, err = store.Sources(context.Background(), p); err != nil || rep.Totals.CallClicks != 0 {
		t.Errorf("call clicks with the ad's channel filtered out: %+v, %v", rep, err)
	}
}

// checkCallJourneys checks calls in journeys: a matched call with what the provider said
// and the person's repeat call beside it; an unmatched call and a static number's call
// each with their own touch.
func (f *fixture) checkCallJourneys() {
	t := f.t
	store := &reports.Store{Conn: f.conn, DB: f.db.Name}
	st := &site.Site{ID: "s1", LookbackDays: 30}
	j, err := store.Journey(context.Background(), st, "call:twilio:CA1", "")
	if err != nil {
		t.Fatal(err)
	}
	if c := j.Conversion.Call; c == nil || c.Duration != 30 || !c.Answered || c.Match != "session" {
		t.Errorf("the matched call's journey shows the call as %+v", c)
	}
	if len(j.Touchpoints) != 1 || j.Touchpoints[0].Source != "google" {
		t.Errorf("the matched call's touchpoints: %+v", j.Touchpoints)
	}
	repeat := false
	for _, c := range j.Conversions {
		repeat = repeat || c.ConversionID == "call:twilio:CA4" && c.Type == "call" && c.Call != nil && c.Call.Duration == 90
	}
	if !repeat {
		t.Errorf("the person's repeat call is not among the journey's conversions: %+v", j.Conversions)
	}
	for id, source := range map[string]string{"call:twilio:CA2": UnmatchedCall, "call:twilio:CA3": "yellowpages"} {
		j, err := store.Journey(context.Background(), st, id, "")
		if err != nil {
			t.Fatalf("journey of %s: %v", id, err)
		}
		if len(j.Touchpoints) != 1 || j.Touchpoints[0].Source != source || j.Conversion.Call == nil {
			t.Errorf("journey of %s: touchpoints %+v, call %+v; want the touch %s", id, j.Touchpoints, j.Conversion.Call, source)
		}
	}
}
