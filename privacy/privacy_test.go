package privacy_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/attribution/attrtest"
	"touchpoint/attribution/engine"
	"touchpoint/attribution/webhook"
	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
	"touchpoint/privacy"
	"touchpoint/reports"
	"touchpoint/stitcher/identity"
)

// world is a site with two people, stored as the stitcher stores them.
//
//	A: a laptop and a phone joined by an email, a user id from the CRM, events and sessions
//	   on both, a lead and a sale credited by every model, a webhook delivery of the lead,
//	   person ids merged (aliases and merges). Another site has a person with the same
//	   visitor id and email: it is not touched.
//	B: one visitor with a session and a lead.
type world struct {
	conn                       driver.Conn
	db                         string
	laptop, phone, email, user string
	persons                    []string // every person id A was stored under
	convs                      []string
	bVisitor, bPerson          string
	day                        func(n, h int) time.Time
	sites                      *site.Registry
	eng                        *engine.Engine
	d                          *attrtest.DB
}

const siteID = "eu-shop"

func newWorld(t *testing.T) *world {
	conn, db := testenv.FreshDatabase(t)
	w := &world{conn: conn, db: db, laptop: uuid.NewString(), phone: uuid.NewString(), email: event.EmailSHA256("ann@example.eu"),
		user: "crm-4711", bVisitor: uuid.NewString(), day: func(n, h int) time.Time { return time.Date(2026, 10, n, h, 0, 0, 0, time.UTC) }}
	var err error
	w.sites, err = site.New(site.Config{Sites: []site.Site{{ID: siteID}, {ID: "other"}}})
	if err != nil {
		t.Fatal(err)
	}
	w.d = &attrtest.DB{T: t, Conn: conn, Name: db}
	own := func(kind byte, v string) string { return identity.OwnID(siteID, identity.Key{Kind: kind, Value: v}) }
	pLaptop, pPhone, pEmail, pUser := own('v', w.laptop), own('v', w.phone), own('e', w.email), own('u', w.user)
	current := min(pLaptop, pPhone, pEmail, pUser)
	w.persons = []string{pLaptop, pPhone, pEmail, pUser}
	w.bPerson = own('v', w.bVisitor)
	for _, p := range w.persons {
		if p != current {
			w.d.Alias(siteID, p, current)
		}
	}
	ins := func(table, cols string, vals ...any) {
		t.Helper()
		b, err := chstore.PrepareBatch(context.Background(), conn, "INSERT INTO "+db+"."+table+" ("+cols+")")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Abort()
		if err := b.Append(vals...); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	link := func(site, vid, person, email, user string) {
		ins("identities", "site_id, visitor_id, person_id, email_sha256, user_id, linked_at, event_id, version",
			site, vid, person, email, user, w.day(3, 12), uuid.New(), uint64(1))
	}
	link(siteID, w.laptop, pLaptop, w.email, "")
	link(siteID, w.phone, current, w.email, "")
	link(siteID, "", current, w.email, w.user)
	link("other", w.laptop, "other-person", w.email, "")
	ins("server_links", "site_id, visitor_id, email_sha256, user_id, linked_at, event_id, version", siteID, "", w.email, w.user, w.day(3, 12), uuid.New(), uint64(1))
	ins("person_merges", "site_id, person_id, merged_into, merged_at, event_id, visitor_id, email_sha256, user_id",
		siteID, pPhone, current, w.day(4, 12), uuid.New(), w.phone, w.email, "")
	event := func(site, vid, person string, at time.Time) {
		ins("events", "site_id, event_id, event_type, visitor_id, person_id, session_id, ts, received_at, url, path, version",
			site, uuid.New(), "pageview", vid, person, "", at, at, "https://shop.example.eu/", "/", uint64(1))
	}
	event(siteID, w.laptop, pLaptop, w.day(1, 9))
	event(siteID, w.phone, pPhone, w.day(4, 9))
	event(siteID, w.bVisitor, w.bPerson, w.day(2, 9))
	event("other", w.laptop, "other-person", w.day(2, 9))
	w.d.Session(attrtest.Session{Site: siteID, Visitor: w.laptop, Person: pLaptop, At: w.day(1, 9), Channel: "Paid Search", Source: "google", Medium: "cpc"})
	w.d.Session(attrtest.Session{Site: siteID, Visitor: w.phone, Person: current, At: w.day(4, 9), Channel: "Email", Source: "newsletter", Medium: "email"})
	w.d.Session(attrtest.Session{Site: siteID, Visitor: w.bVisitor, Person: w.bPerson, At: w.day(2, 9), Channel: "Organic Search", Source: "google", Medium: "organic"})
	w.d.Session(attrtest.Session{Site: "other", Visitor: w.laptop, Person: "other-person", At: w.day(2, 9), Channel: "Direct", Source: "(direct)", Medium: "(none)"})
	w.d.Conversion(attrtest.Conversion{Site: siteID, ID: "lead-a", Type: "lead", LeadType: "form", Person: current, At: w.day(4, 10), EmailSHA256: w.email})
	w.d.Conversion(attrtest.Conversion{Site: siteID, ID: "sale-a", Type: "sale", Person: pEmail, At: w.day(5, 10), Value: 900, EmailSHA256: w.email})
	w.d.Conversion(attrtest.Conversion{Site: siteID, ID: "lead-b", Type: "lead", LeadType: "call", Person: w.bPerson, At: w.day(2, 10)})
	w.d.Conversion(attrtest.Conversion{Site: "other", ID: "lead-a", Type: "lead", LeadType: "form", Person: "other-person", At: w.day(2, 10), EmailSHA256: w.email})
	w.convs = []string{"lead-a", "sale-a"}
	queue := &webhook.Store{Conn: conn, DB: db}
	if err := queue.Record(context.Background(), webhook.Attempt{Site: siteID, DeliveryID: "dlv_a", ConversionID: "lead-a", URL: "https://crm.example.eu/hook",
		Attempt: 1, Status: 204, Delivered: true, At: w.day(4, 11)}); err != nil {
		t.Fatal(err)
	}
	if err := queue.Save(context.Background(), webhook.Delivery{Site: siteID, ID: "dlv_a", Target: webhook.TargetWebhook, Event: webhook.LeadCreated,
		ConversionID: "lead-a", Payload: []byte(`{"person":{"email_sha256":"` + w.email + `"}}`), State: webhook.Delivered, CreatedAt: w.day(4, 10)}); err != nil {
		t.Fatal(err)
	}
	w.eng = engine.New(conn, db, w.sites)
	for _, s := range []string{siteID, "other"} {
		if _, _, err := w.eng.Rebuild(context.Background(), s, w.day(1, 0), w.day(30, 0)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func found(t *testing.T, conn driver.Conn, db string, needles []string) map[string]uint64 {
	t.Helper()
	return testenv.RowsContaining(t, conn, db, needles)
}

// credits returns each model's credit of each touch of the conversion, by model, session
// and channel: the touches a model credits, as reports show them.
func credits(t *testing.T, w *world, site, conv string) map[string]float64 {
	t.Helper()
	rows, err := w.conn.Query(context.Background(), "SELECT concat(model, '/', session_id, '/', channel), credit FROM "+w.db+
		".attributions_current WHERE site_id = ? AND conversion_id = ?", site, conv)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var k string
		var c float64
		if err := rows.Scan(&k, &c); err != nil {
			t.Fatal(err)
		}
		out[k] = c
	}
	return out
}

// After an erasure by email no row of any table holds one of the person's visitor ids,
// person ids, email hash, user id or conversion ids, in clear or as the audit's hash; the
// other person's rows and credit and the other site's rows are as before; the source
// report counts only the other person.
func TestEraseRemovesThePersonFromEveryTable(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	svc := &privacy.Service{Conn: w.conn, DB: w.db, Grace: time.Millisecond}
	needles := append([]string{w.laptop, w.phone, w.email, w.user, "lead-a", "sale-a"}, w.persons...)
	before := found(t, w.conn, w.db, needles)
	for _, table := range []string{"events", "sessions", "identities", "server_links", "person_aliases", "person_merges", "conversions", "touch_credits",
		"webhook_deliveries", "delivery_queue"} {
		if before[table] == 0 {
			t.Fatalf("the test world has no row of A in %s: %v", table, before)
		}
	}
	bCredit := credits(t, w, siteID, "lead-b")
	otherCredit := credits(t, w, "other", "lead-a")
	store := &reports.Store{Conn: w.conn, DB: w.db}
	time.Sleep(1100 * time.Millisecond) // rollups are built from days unchanged for a second
	if _, err := store.BuildRollups(ctx, siteID, 0); err != nil {
		t.Fatal(err)
	}

	counts, err := svc.Erase(ctx, siteID, privacy.Identifier{Email: " Ann@Example.EU "})
	if err != nil {
		t.Fatal(err)
	}
	if counts["events"] != 2 || counts["sessions"] != 2 || counts["conversions"] != 2 || counts["webhook_deliveries"] != 1 || counts["delivery_queue"] != 1 {
		t.Fatalf("rows removed: %v", counts)
	}
	left := found(t, w.conn, w.db, needles)
	// The other site's person shares the visitor id, email hash and a conversion id.
	for table, n := range left {
		var other uint64
		if err := w.conn.QueryRow(ctx, "SELECT count() FROM "+w.db+"."+table+" WHERE site_id = 'other'").Scan(&other); err != nil {
			t.Fatalf("%s still holds %d rows of the person: %v", table, n, err)
		}
		if n > other {
			t.Fatalf("%s still holds %d rows of the person (the other site has %d)", table, n, other)
		}
	}
	if got := credits(t, w, siteID, "lead-b"); !mapsEqual(got, bCredit) || len(got) == 0 {
		t.Fatalf("B's credit changed: %v, was %v", got, bCredit)
	}
	if got := credits(t, w, "other", "lead-a"); !mapsEqual(got, otherCredit) || len(got) == 0 {
		t.Fatalf("the other site's credit changed: %v, was %v", got, otherCredit)
	}
	// Erased identifiers are kept as hashes of site, kind and identifier only.
	var tombs uint64
	if err := w.conn.QueryRow(ctx, "SELECT count() FROM "+w.db+".erased_identifiers WHERE site_id = ? AND has(?, id_sha256)", siteID,
		[]string{privacy.IDSHA256(siteID, 'v', w.laptop), privacy.IDSHA256(siteID, 'v', w.phone), privacy.IDSHA256(siteID, 'e', w.email),
			privacy.IDSHA256(siteID, 'u', w.user)}).Scan(&tombs); err != nil || tombs != 4 {
		t.Fatalf("%d erased identifiers recorded (%v), want 4", tombs, err)
	}
	// The report, from the rollups of unchanged days or the tables, has B alone.
	for _, margin := range []time.Duration{-1, 0} {
		if margin == 0 {
			time.Sleep(1100 * time.Millisecond)
			if _, err := store.BuildRollups(ctx, siteID, 0); err != nil {
				t.Fatal(err)
			}
		}
		p, err := reports.ParseParams(map[string][]string{"site": {siteID}, "from": {"2026-10-01"}, "to": {"2026-10-31"}, "model": {"last_click"}}, w.day(31, 0))
		if err != nil {
			t.Fatal(err)
		}
		out, err := store.Sources(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if out.Totals.Sessions != 1 || out.Totals.Visitors != 1 || out.Totals.Leads != 1 || out.Totals.Sales != 0 {
			t.Fatalf("source report after the erasure: %+v", out.Totals)
		}
	}
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// An erasure by any identifier of the person (a phone's visitor id, the CRM's user id)
// removes the whole person, merged visitors included.
func TestEraseByAnyIdentifier(t *testing.T) {
	for _, by := range []func(w *world) privacy.Identifier{
		func(w *world) privacy.Identifier { return privacy.Identifier{VisitorID: w.phone} },
		func(w *world) privacy.Identifier { return privacy.Identifier{UserID: w.user} },
		func(w *world) privacy.Identifier { return privacy.Identifier{EmailSHA256: strings.ToUpper(w.email)} },
	} {
		w := newWorld(t)
		svc := &privacy.Service{Conn: w.conn, DB: w.db, Grace: time.Millisecond}
		id := by(w)
		if _, err := svc.Erase(context.Background(), siteID, id); err != nil {
			t.Fatal(err)
		}
		var n uint64
		if err := w.conn.QueryRow(context.Background(), "SELECT count() FROM "+w.db+".sessions WHERE site_id = ? AND has(?, visitor_id)",
			siteID, []string{w.laptop, w.phone}).Scan(&n); err != nil || n != 0 {
			t.Fatalf("erasing by %+v left %d sessions of the person (%v)", id, n, err)
		}
		if err := w.conn.QueryRow(context.Background(), "SELECT count() FROM "+w.db+".sessions WHERE site_id = ? AND visitor_id = ?",
			siteID, w.bVisitor).Scan(&n); err != nil || n != 1 {
			t.Fatalf("erasing by %+v removed B's session (%d left, %v)", id, n, err)
		}
	}
}

// Export returns every stored row of the person, from every table, by any identifier.
func TestExportHasEveryRowOfThePerson(t *testing.T) {
	w := newWorld(t)
	svc := &privacy.Service{Conn: w.conn, DB: w.db}
	out, err := svc.Export(context.Background(), siteID, privacy.Identifier{UserID: w.user})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"events": 2, "sessions": 2, "identities": 3, "server_links": 1, "conversions": 2, "webhook_deliveries": 1, "delivery_queue": 1,
		"person_merges": 1, "person_aliases": 3}
	for table, n := range want {
		if len(out.Tables[table]) != n {
			t.Fatalf("export has %d rows of %s, want %d: %v", len(out.Tables[table]), table, n, out.Tables[table])
		}
	}
	if len(out.Tables["touch_credits"]) == 0 {
		t.Fatal("export has no credited touches")
	}
	for _, r := range out.Tables["events"] {
		if r["site_id"] != siteID || (r["visitor_id"] != w.laptop && r["visitor_id"] != w.phone) {
			t.Fatalf("exported event of someone else: %v", r)
		}
	}
	if !slices.Contains(out.Visitors, w.laptop) || !slices.Contains(out.Visitors, w.phone) || !slices.Equal(out.Emails, []string{w.email}) {
		t.Fatalf("export identifiers: %+v", out)
	}
	if _, err := svc.Export(context.Background(), siteID, privacy.Identifier{}); err == nil {
		t.Fatal("an export without identifier was answered")
	}
	if _, err := svc.Export(context.Background(), siteID, privacy.Identifier{UserID: "x", VisitorID: "y"}); err == nil {
		t.Fatal("an export with two identifiers was answered")
	}
}

// Every table with a column that can hold a person's identifier is one the erasure
// deletes from, and finds the person's rows by each such column.
func TestEveryPersonalTableIsErased(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	rows, err := conn.Query(context.Background(), `SELECT table, name FROM system.columns WHERE database = ?
		AND name IN ('visitor_id', 'person_id', 'email_sha256', 'user_id', 'conversion_id', 'current_person_id', 'merged_into', 'email', 'caller', 'phone')
		AND table IN (SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View')`, db, db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	erased, columns := privacy.Tables(), privacy.Columns()
	// The identifiers an erasure looks rows up by; the others (an address, a caller's
	// number) sit in rows it finds by these.
	keys := []string{"visitor_id", "person_id", "email_sha256", "user_id", "conversion_id", "current_person_id", "merged_into"}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatal(err)
		}
		switch {
		case !slices.Contains(erased, table):
			t.Errorf("table %s holds person identifiers but the erasure does not delete from it (privacy/plan.go)", table)
		case slices.Contains(keys, column) && !slices.Contains(columns[table], column):
			t.Errorf("%s.%s holds person identifiers but the erasure does not match rows by it (privacy/plan.go)", table, column)
		}
	}
}

// ClickHouse's sipHash64, which deletions match rows by, is the one computed here.
func TestSipHashIsClickHouses(t *testing.T) {
	conn, _ := testenv.ClickHouse(t)
	for _, s := range []string{"", "a", "1234567", "12345678", "123456789", uuid.NewString(), event.EmailSHA256("x@y.z"), "ünïcødé", strings.Repeat("x", 300)} {
		var want uint64
		if err := conn.QueryRow(context.Background(), "SELECT sipHash64(?)", s).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got := privacy.SipHash64(s); got != want {
			t.Fatalf("sipHash64(%q) = %d, ClickHouse says %d", s, got, want)
		}
	}
}

// A person who comes back while the erasure runs leaves new data: rows of events received
// after the erasure began are kept, and the erasure still ends.
func TestEraseKeepsWhatCameAfterIt(t *testing.T) {
	w := newWorld(t)
	later := time.Now().Add(time.Minute).UTC()
	b, err := chstore.PrepareBatch(context.Background(), w.conn, "INSERT INTO "+w.db+".events (site_id, event_id, event_type, visitor_id, person_id, session_id, ts, received_at, url, path, version)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(siteID, uuid.New(), "pageview", w.laptop, identity.OwnID(siteID, identity.Key{Kind: 'v', Value: w.laptop}), "", later, later, "https://shop.example.eu/back", "/back", uint64(2)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	svc := &privacy.Service{Conn: w.conn, DB: w.db, Grace: time.Millisecond}
	counts, err := svc.Erase(context.Background(), siteID, privacy.Identifier{VisitorID: w.laptop})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	rows, err := w.conn.Query(context.Background(), "SELECT path FROM "+w.db+".events WHERE site_id = ? AND has(?, visitor_id)", siteID, []string{w.laptop, w.phone})
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		rows.Scan(&p)
		paths = append(paths, p)
	}
	rows.Close()
	if counts["events"] != 2 || !slices.Equal(paths, []string{"/back"}) {
		t.Fatalf("removed %v, left %v: want the 2 earlier events removed and the later one kept", counts, paths)
	}
}
