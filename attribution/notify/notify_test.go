package notify

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/engine"
	"touchpoint/attribution/meta"
	"touchpoint/attribution/webhook"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

// The deliveries made of computed conversions, as they wait in the queue: a webhook per
// conversion with its touches and click ids (the address for a site that sends it), and a
// Meta event per recent conversion of a type the site sends, with the browser's ids.
func TestNotifierQueuesWebhooksAndMetaEvents(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	d := &attrtest.DB{T: t, Conn: conn, Name: db}
	sites, err := site.New(site.Config{Sites: []site.Site{{ID: "s1", LookbackDays: 30, Currency: "GBP",
		WebhookURL: "https://user:pw@crm.example/hook?key=secret", WebhookSecret: "whsec", WebhookIncludeEmail: true,
		Meta: &site.Meta{PixelID: "42", AccessToken: "tok", Events: map[string]string{"lead": "Lead", "sale": "Purchase", "mql": "QualifiedLead"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	st := sites.Get("s1")
	now := time.Now().UTC().Truncate(time.Second)
	email := event.EmailSHA256("ann@example.com")

	// Ann: a Google Ads click, then a Facebook ad click, then the newsletter; a lead an hour
	// ago with her address, a sale ten days ago (too old for Meta) and an sql, a stage the
	// site does not send to Meta.
	d.Session(attrtest.Session{Site: "s1", Person: "ann", At: now.Add(-50 * time.Hour), Channel: "Paid Search", Source: "google", Medium: "cpc",
		Campaign: "brand", Term: "acme crm", Landing: "/", ClickType: "gclid", ClickID: "Cj0KCQ-ann"})
	d.Session(attrtest.Session{Site: "s1", Person: "ann", At: now.Add(-26 * time.Hour), Channel: "Paid Social", Source: "facebook", Medium: "paid_social",
		Landing: "/pricing", ClickType: "fbclid", ClickID: "IwAR_ann"})
	d.Session(attrtest.Session{Site: "s1", Person: "ann", At: now.Add(-2 * time.Hour), Channel: "Email", Source: "newsletter", Medium: "email", Landing: "/demo"})
	d.Event(attrtest.Event{Site: "s1", Person: "ann", At: now.Add(-26 * time.Hour), URL: "https://www.example.com/pricing?fbclid=IwAR_ann",
		ClickType: "fbclid", ClickID: "IwAR_ann", IP: "86.128.5.0", UA: "Mozilla/5.0 (old)", Fbp: "fb.1.1764000000000.111"})
	d.Event(attrtest.Event{Site: "s1", Person: "ann", At: now.Add(-2 * time.Hour), URL: "https://www.example.com/demo", IP: "86.128.7.0",
		UA: "Mozilla/5.0 (new)"})
	d.Event(attrtest.Event{Site: "s1", Person: "ann", At: now.Add(time.Hour), URL: "https://www.example.com/later", UA: "later"})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "lead-1", Type: "lead", LeadType: "form", Person: "ann", At: now.Add(-time.Hour),
		EmailSHA256: email, Email: "ann@example.com"})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "sale-old", Type: "sale", Person: "ann", At: now.Add(-10 * 24 * time.Hour), Value: 99, Currency: "USD"})
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "sql-1", Type: "sql", Person: "ann", At: now.Add(-30 * time.Minute)})
	// Bob: no touchpoint, a sale by his user id only, his address linked by an identify on
	// his phone, whose person id has since been merged into his.
	d.Conversion(attrtest.Conversion{Site: "s1", ID: "sale-bob", Type: "sale", Person: "bob", At: now.Add(-time.Hour), Value: 10, UserID: "u-7"})
	d.Identity("s1", "bob-phone", event.EmailSHA256("bob@example.com"), now.Add(-3*time.Hour))
	d.Alias("s1", "bob-phone", "bob")

	q := &webhook.Store{Conn: conn, DB: db}
	n := &Notifier{Conn: conn, DB: db, Queue: q, Meta: &meta.Target{Sites: sites, URL: "https://graph.example/v25.0"}, Now: func() time.Time { return now }}
	eng := engine.New(conn, db, sites)
	eng.OnComputed = n.Computed
	convs := []engine.Conversion{}
	for _, c := range []struct {
		id, typ, person string
		at              time.Time
		value           float64
		currency        string
	}{{"lead-1", "lead", "ann", now.Add(-time.Hour), 0, "EUR"}, {"sale-old", "sale", "ann", now.Add(-10 * 24 * time.Hour), 99, "USD"},
		{"sql-1", "sql", "ann", now.Add(-30 * time.Minute), 0, "EUR"}, {"sale-bob", "sale", "bob", now.Add(-time.Hour), 10, "EUR"}} {
		convs = append(convs, engine.Conversion{ID: c.id, Type: c.typ, LeadType: map[bool]string{true: "form"}[c.typ == "lead"], Person: c.person, At: c.at,
			Value: c.value, Currency: c.currency, EmailSHA256: map[bool]string{true: email}[c.id == "lead-1"], UserID: map[bool]string{true: "u-7"}[c.person == "bob"]})
	}
	if _, err := eng.ComputeConversions(context.Background(), st, convs, true); err != nil {
		t.Fatal(err)
	}

	list, err := q.List(context.Background(), "s1", webhook.Filter{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	hooks, metas := map[string]webhook.Payload{}, map[string]meta.Body{}
	for _, dl := range list {
		if dl.State != webhook.Pending || dl.Attempts != 0 {
			t.Fatalf("a new delivery: %+v", dl)
		}
		switch dl.Target {
		case webhook.TargetWebhook:
			var p webhook.Payload
			if err := json.Unmarshal(dl.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if dl.URL != "https://crm.example/hook" || p.ID != dl.ID || p.Event != dl.Event {
				t.Fatalf("webhook delivery %+v", dl)
			}
			hooks[dl.ConversionID] = p
		case webhook.TargetMeta:
			var b meta.Body
			if err := json.Unmarshal(dl.Payload, &b); err != nil {
				t.Fatal(err)
			}
			if dl.URL != "https://graph.example/v25.0/42/events" || len(b.Data) != 1 || dl.Event != b.Data[0].EventName {
				t.Fatalf("Meta delivery %+v", dl)
			}
			metas[dl.ConversionID] = b
		}
	}
	if len(hooks) != 4 || len(metas) != 2 {
		t.Fatalf("%d webhooks and %d Meta events, want 4 and 2 (the old sale and the sql are not for Meta)", len(hooks), len(metas))
	}

	l := hooks["lead-1"]
	if l.Event != webhook.LeadCreated || l.Person.Email != "ann@example.com" || l.Person.EmailSHA256 != email || l.TouchCount != 3 ||
		l.Conversion.Currency != "EUR" || l.Conversion.LeadType != "form" || l.FirstTouch == nil || l.LastTouch == nil || l.Previous != nil {
		t.Fatalf("lead webhook %+v", l)
	}
	if ft := l.FirstTouch; ft.Channel != "Paid Search" || ft.Campaign != "brand" || ft.Term != "acme crm" || ft.ClickIDType != "gclid" ||
		ft.ClickID != "Cj0KCQ-ann" || ft.LandingURL != "https://www.example.com/?gclid=Cj0KCQ-ann" || ft.LandingPage != "/" || !ft.Time.Equal(now.Add(-50*time.Hour)) {
		t.Fatalf("first touch %+v", ft)
	}
	if lt := l.LastTouch; lt.Channel != "Email" || lt.ClickIDType != "" || lt.LandingPage != "/demo" {
		t.Fatalf("last touch %+v", lt)
	}
	if *l.DaysToConvert != 2.04 { // 49 hours
		t.Fatalf("days to convert %v", *l.DaysToConvert)
	}
	if s := hooks["sql-1"]; s.Event != webhook.ConversionCreated || s.Conversion.LeadType != "" || s.Person.Email != "" {
		t.Fatalf("sql webhook %+v", s)
	}
	b := hooks["sale-bob"]
	if b.Event != webhook.ConversionCreated || b.FirstTouch != nil || b.LastTouch != nil || b.TouchCount != 0 || b.DaysToConvert != nil ||
		b.Person.EmailSHA256 != event.EmailSHA256("bob@example.com") || b.Person.UserID != "u-7" {
		t.Fatalf("bob's sale webhook %+v", b)
	}

	ev := metas["lead-1"].Data[0]
	if ev.EventName != "Lead" || ev.EventID != "lead-1" || ev.EventTime != now.Add(-time.Hour).Unix() || ev.ActionSource != "website" ||
		ev.EventSourceURL != "https://www.example.com/demo" || ev.UserData.ClientUA != "Mozilla/5.0 (new)" || ev.UserData.ClientIP != "86.128.7.0" ||
		ev.UserData.Fbp != "fb.1.1764000000000.111" || ev.UserData.Fbc != meta.FBC(now.Add(-26*time.Hour), "IwAR_ann") ||
		len(ev.UserData.Em) != 1 || ev.UserData.Em[0] != email || ev.CustomData != nil {
		t.Fatalf("Meta lead %+v", ev)
	}
	sb := metas["sale-bob"].Data[0]
	if sb.EventName != "Purchase" || sb.ActionSource != "system_generated" || sb.CustomData == nil || sb.CustomData.Value != 10 ||
		sb.CustomData.Currency != "EUR" || len(sb.UserData.Em) != 1 || sb.UserData.Em[0] != event.EmailSHA256("bob@example.com") ||
		len(sb.UserData.ExternalID) != 1 || sb.UserData.ExternalID[0] != meta.Hash("u-7") {
		t.Fatalf("Meta sale %+v", sb)
	}

	// The lead's webhook is delivered; the pass is then done again (the service restarted
	// before the credit was written): nothing is made twice, nothing delivered is pending again.
	var leadHook webhook.Delivery
	for _, dl := range list {
		if dl.ConversionID == "lead-1" && dl.Target == webhook.TargetWebhook {
			leadHook = dl
		}
	}
	leadHook.State, leadHook.Attempts, leadHook.Status = webhook.Delivered, 1, 204
	if err := q.Save(context.Background(), leadHook); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.ComputeConversions(context.Background(), st, convs, true); err != nil {
		t.Fatal(err)
	}
	var lead engine.Conversion // computing sorts convs
	for _, c := range convs {
		if c.ID == "lead-1" {
			lead = c
		}
	}
	if err := n.Computed(context.Background(), st, []engine.Computed{{Conversion: lead, New: true}}); err != nil {
		t.Fatal(err)
	}
	again, err := q.List(context.Background(), "s1", webhook.Filter{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(list) {
		t.Fatalf("%d deliveries after making them again, want %d", len(again), len(list))
	}
	for _, dl := range again {
		if dl.ID == leadHook.ID && (dl.State != webhook.Delivered || dl.Attempts != 1) {
			t.Fatalf("the delivered webhook made again: %s, %d attempts", dl.State, dl.Attempts)
		}
	}

	// The lead's first touch moves from A to B, back to A, then to B again: the CRM hears
	// of each change, the last one under an id of its own (a receiver that deduplicates by
	// id must not drop it as the first one); each made twice is made once.
	clock := now
	n.Now = func() time.Time { return clock }
	updates := func() []webhook.Delivery {
		ds, err := q.List(context.Background(), "s1", webhook.Filter{ConversionID: "lead-1", Event: webhook.AttributionUpdated}, 100)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	move := func(from, to string, want int) {
		t.Helper()
		for range 2 {
			if err := n.Computed(context.Background(), st, []engine.Computed{{Conversion: lead, First: engine.Session{ID: to}, Last: engine.Session{ID: "L"},
				PrevFirst: from, PrevLast: "L"}}); err != nil {
				t.Fatal(err)
			}
		}
		if got := updates(); len(got) != want {
			t.Fatalf("moving the first touch from %s to %s: %d attribution.updated, want %d: %+v", from, to, len(got), want, got)
		}
		clock = clock.Add(2 * time.Second)
	}
	move("A", "B", 1)
	move("B", "A", 2)
	move("A", "B", 3)
	ids := map[string]bool{}
	for _, u := range updates() {
		var p webhook.Payload
		if err := json.Unmarshal(u.Payload, &p); err != nil || p.ID != u.ID || ids[u.ID] {
			t.Fatalf("attribution.updated %+v (%v)", u, err)
		}
		ids[u.ID] = true
	}
}
