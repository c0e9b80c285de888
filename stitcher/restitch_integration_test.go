package stitcher

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	siteconf "touchpoint/internal/site"
)

// Data stitched under one site configuration is stitched again under another: sessions
// that the new rules join are joined, leads are decided again, stored browser conversions
// get their bot flag, and credit of conversions that stop counting is removed. A second
// run changes nothing more.
func TestRestitchAppliesNewRulesToHistory(t *testing.T) {
	h := newHarness(t)
	before, err := siteconf.New(siteconf.Config{Sites: []siteconf.Site{{ID: site, Origins: []string{"https://shop.example.com"}}}})
	if err != nil {
		t.Fatal(err)
	}
	h.sites = before
	stop := h.run(h.conn, h.db)

	page := "https://shop.example.com/"
	vid, botVid := uuid.NewString(), uuid.NewString()
	form := func(vid string, at time.Duration, path string, f *event.Form) event.Enriched {
		e := browser(event.FormSubmit, vid, at, page+path, "")
		e.Form, e.Traits = f, map[string]string{"email_sha256": fmt.Sprintf("%064x", at)}
		return e
	}
	careers := form(vid, 3*time.Minute, "careers/engineer", &event.Form{ID: "apply", Fields: []string{"email", "cv"}})
	newsletter := form(vid, 4*time.Minute, "", &event.Form{ID: "newsletter", Fields: []string{"email"}})
	old := form(vid, 5*time.Minute, "contact", &event.Form{ID: "contact", Fields: []string{"email"}})
	botLead := form(botVid, time.Minute, "contact", &event.Form{ID: "contact", Fields: []string{"email"}})
	botLead.Bot = true
	h.send(pageview(vid, 0, page+"?gclid=Cj0abc", "https://www.google.com/"), careers, newsletter, old,
		pageview(vid, 10*time.Minute, page+"thanks", "https://pay.checkout-partner.example/return"),
		pageview(botVid, 0, page, ""), botLead)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.conversions FINAL WHERE visitor_id IN (?, ?)`, 3, vid, botVid)
	h.waitCount(20*time.Second, liveSessions, 2, vid)
	stop()

	ctx := context.Background()
	exec := func(q string, args ...any) {
		t.Helper()
		if err := h.conn.Exec(ctx, fmt.Sprintf(q, h.db), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// As stored before conversions had a bot flag and events their form description and traits.
	exec(`INSERT INTO %[1]s.conversions (` + conversionColumns + `) SELECT site_id, conversion_id, type, lead_type, occurred_at,
		received_at, visitor_id, person_id, email_sha256, user_id, session_id, value, currency, props, event_id, origin, 0, version + 1, email
		FROM %[1]s.conversions FINAL WHERE site_id = 'demo'`)
	exec(`INSERT INTO %[1]s.events (`+eventColumns+`) SELECT site_id, event_id, event_type, visitor_id, person_id, session_id, ts,
		received_at, url, path, referrer, title, event_name, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
		click_id_type, click_id, props, country, region, city, browser, os, device, is_bot, screen, language, timezone, ip, origin,
		'', '', fbc, fbp, user_agent, version + 1 FROM %[1]s.events FINAL WHERE site_id = 'demo' AND event_id = ?`, old.ID)
	// Credit the attribution service gave the careers form and the bot's lead.
	for _, c := range []string{careers.ID, botLead.ID} {
		exec(`INSERT INTO %s.touch_credits (site_id, conversion_id, conversion_type, occurred_at, session_id, credit_last_click, removed, version)
			SELECT 'demo', ?, 'lead', toDateTime(?), '', toFloat64(1), toUInt8(0), toUInt64(1)`, c, t0.Unix())
	}

	after, err := siteconf.New(siteconf.Config{Sites: []siteconf.Site{{ID: site, Origins: []string{"https://shop.example.com"},
		ExcludedReferrers: []string{"*.checkout-partner.example"},
		LeadForms:         []siteconf.LeadRule{{Path: "/careers/*", Lead: false}, {FormID: "newsletter", Lead: true, LeadType: "other"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	day := t0.Truncate(24 * time.Hour)
	r := NewRestitcher(&Config{Sites: after}, h.conn, chstore.Config{Database: h.db})
	stats, err := r.Restitch(ctx, site, day, day)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Visitors != 2 || stats.Vanished != 1 || stats.LeadsRemoved != 1 || stats.LeadsAdded != 1 {
		t.Fatalf("restitch: %s", stats)
	}
	got := h.sessions(vid)
	if len(got) != 1 || got[0].source != "google" || got[0].pageviews != 2 {
		t.Fatalf("sessions after restitch: %+v, want one google session", got)
	}
	h.waitCount(time.Second, `SELECT count() FROM %s.events FINAL WHERE visitor_id = ? AND session_id = ?`, 5, vid, got[0].id)
	convs := map[string]string{}
	rows, err := h.conn.Query(ctx, fmt.Sprintf(`SELECT conversion_id, concat(lead_type, '/', toString(is_bot), '/', toString(session_id = ?))
		FROM %s.conversions FINAL WHERE site_id = 'demo'`, h.db), got[0].id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		convs[id] = v
	}
	rows.Close()
	want := map[string]string{newsletter.ID: "other/0/1", old.ID: "form/0/1", botLead.ID: "form/1/0"}
	if fmt.Sprint(convs) != fmt.Sprint(want) {
		t.Fatalf("conversions after restitch: %v, want %v", convs, want)
	}
	h.waitCount(time.Second, `SELECT count() FROM %s.touch_credits FINAL WHERE removed = 0 OR credit_last_click > 0`, 0)

	again, err := r.Restitch(ctx, site, day, day)
	if err != nil {
		t.Fatal(err)
	}
	if again.Vanished != 0 || again.Moved != 0 || again.LeadsAdded != 0 || again.LeadsRemoved != 0 || again.Conversions != 0 {
		t.Fatalf("second restitch changed more: %s", again)
	}
}
