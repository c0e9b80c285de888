package stitcher

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
	siteconf "touchpoint/internal/site"
)

// The site's rules decide sessions and leads: referrers that are no arrival continue the
// visit, only forms that are leads become conversions, and a bot's browser conversions are
// kept flagged.
func TestSiteRulesDecideSessionsAndLeads(t *testing.T) {
	h := newHarness(t)
	sites, err := siteconf.New(siteconf.Config{Sites: []siteconf.Site{{ID: site, Origins: []string{"https://shop.example.com"},
		Domains: []string{"checkout.example.net"}, ExcludedReferrers: []string{"pay.partner.example"},
		LeadForms: []siteconf.LeadRule{{FormID: "callback", Lead: true, LeadType: "call"}, {Path: "/careers/*", Lead: false}}}}})
	if err != nil {
		t.Fatal(err)
	}
	h.sites = sites
	h.run(h.conn, h.db)

	page := "https://shop.example.com/"
	paid, hop := uuid.NewString(), uuid.NewString()
	sale := browserConversion(paid, "order-1", "sale", 20*time.Minute, 120)
	sale.URL = page + "thanks"
	form := func(vid string, at time.Duration, path string, f *event.Form, email bool) event.Enriched {
		e := browser(event.FormSubmit, vid, at, page+path, "")
		e.Form = f
		if email {
			e.Traits = map[string]string{"email_sha256": fmt.Sprintf("%064x", at)}
		}
		return e
	}
	search := form(paid, 2*time.Minute, "", &event.Form{ID: "search", Fields: []string{"q"}, Search: true}, false)
	newsletter := form(paid, 3*time.Minute, "", &event.Form{ID: "newsletter", Fields: []string{"email"}}, true)
	callback := form(paid, 4*time.Minute, "contact", &event.Form{ID: "callback", Fields: []string{"phone"}}, false)
	careers := form(paid, 6*time.Minute, "careers/engineer", &event.Form{ID: "apply", Fields: []string{"email", "cv"}}, true)
	contact := form(paid, 7*time.Minute, "contact", &event.Form{ID: "contact", Fields: []string{"email", "message"}}, true)
	botLead := form(hop, 2*time.Minute, "contact", &event.Form{ID: "contact", Fields: []string{"email", "message"}}, true)
	botLead.Bot = true
	botCRM := serverConversion("crm-1", "sale", 3*time.Minute, hop, "", 50)
	botCRM.Bot = true // never set on server calls; and if it were, they count all the same
	h.send(
		pageview(paid, 0, page+"?gclid=Cj0abc", "https://www.google.com/"),
		pageview(paid, 5*time.Minute, page+"cart", page),
		pageview(paid, 20*time.Minute, page+"thanks", "https://www.paypal.com/checkoutnow?token=EC-1"), sale,
		pageview(paid, 25*time.Minute, page+"account", "https://checkout.example.net/pay"),
		pageview(paid, 27*time.Minute, page+"account", "https://pay.partner.example/return"),
		pageview(paid, 29*time.Minute, page+"account", "https://accounts.google.com/o/oauth2"),
		search, newsletter, callback, careers, contact,
		pageview(hop, 0, "https://checkout.example.net/?_tp_vid="+hop, "https://shop.example.com/cart"), botLead, botCRM,
	)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.events FINAL WHERE visitor_id IN (?, ?)`, 15, paid, hop)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.conversions FINAL WHERE visitor_id IN (?, ?)`, 5, paid, hop)

	got := h.sessions(paid)
	if len(got) != 1 || got[0].source != "google" || got[0].medium != "cpc" || got[0].pageviews != 6 {
		t.Fatalf("sessions of the paid visit: %+v, want one google / cpc session of 6 pageviews", got)
	}
	if got := h.sessions(hop); len(got) != 1 || got[0].source != "(direct)" || got[0].refDm != "" {
		t.Fatalf("sessions after a cross-domain hop: %+v, want one (direct) session", got)
	}
	type conv struct {
		id, typ, leadType, session string
		bot                        uint8
	}
	rows, err := h.conn.Query(context.Background(), fmt.Sprintf(`SELECT conversion_id, type, lead_type, session_id, is_bot
		FROM %s.conversions FINAL WHERE visitor_id IN (?, ?) ORDER BY occurred_at, conversion_id`, h.db), paid, hop)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var convs []conv
	for rows.Next() {
		var c conv
		if err := rows.Scan(&c.id, &c.typ, &c.leadType, &c.session, &c.bot); err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c)
	}
	want := []conv{
		{id: botLead.ID, typ: "lead", leadType: "form", bot: 1},
		{id: "crm-1", typ: "sale"},
		{id: callback.ID, typ: "lead", leadType: "call", session: got[0].id},
		{id: contact.ID, typ: "lead", leadType: "form", session: got[0].id},
		{id: "order-1", typ: "sale", session: got[0].id},
	}
	for i := range convs {
		if i < len(want) && want[i].session == "" {
			want[i].session = convs[i].session
		}
	}
	if fmt.Sprint(convs) != fmt.Sprint(want) {
		t.Fatalf("conversions:\n got %+v\nwant %+v", convs, want)
	}
	// Every submit is kept as an event with its form description.
	var desc string
	if err := h.conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT form FROM %s.events FINAL WHERE event_id = ?`, h.db), search.ID).Scan(&desc); err != nil {
		t.Fatal(err)
	}
	if desc != `{"id":"search","fields":["q"],"search":true}` {
		t.Fatalf("stored form = %s", desc)
	}
}
