package stitcher

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
)

const liveSessions = `SELECT count() FROM (SELECT deleted FROM %s.sessions FINAL WHERE site_id = 'demo' AND visitor_id = ?) WHERE deleted = 0`

type sessionView struct {
	id                                                          string
	path, source, medium, campaign, term, channel, click, refDm string
	pageviews                                                   uint32
}

func (h *harness) sessions(vid string) []sessionView {
	h.t.Helper()
	rows, err := h.conn.Query(context.Background(), fmt.Sprintf(`SELECT toString(session_id), landing_path, source, medium, campaign, term,
		channel, click_id_type, referrer_domain, pageviews FROM (SELECT * FROM %s.sessions FINAL WHERE site_id = 'demo' AND visitor_id = ?)
		WHERE deleted = 0 ORDER BY started_at`, h.db), vid)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []sessionView
	for rows.Next() {
		var s sessionView
		if err := rows.Scan(&s.id, &s.path, &s.source, &s.medium, &s.campaign, &s.term, &s.channel, &s.click, &s.refDm, &s.pageviews); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestMultiVisitJourney(t *testing.T) {
	h := newHarness(t)
	h.run(h.conn, h.db)
	vid := uuid.NewString()
	home := "https://shop.example.com/"
	visit1 := []event.Enriched{
		pageview(vid, 0, home, "https://www.google.com/search?q=running+shoes"),
		pageview(vid, 2*time.Minute, home+"pricing", home),
	}
	visit2and3 := []event.Enriched{
		pageview(vid, 3*time.Hour, home+"?utm_source=newsletter&utm_medium=email&utm_campaign=nov", ""),
		pageview(vid, 3*time.Hour+5*time.Minute, home+"pricing", home),
		// A click on an ad five minutes later is a new touchpoint.
		pageview(vid, 3*time.Hour+10*time.Minute, home+"landing?gclid=Cj0abc", "https://www.google.com/"),
		contactForm(vid, 3*time.Hour+12*time.Minute, home+"landing?gclid=Cj0abc"),
	}
	// The later visits arrive first; the first visit's events arrive late.
	h.send(visit2and3...)
	h.waitCount(20*time.Second, liveSessions, 2, vid)
	h.send(visit1...)
	h.waitCount(20*time.Second, liveSessions, 3, vid)

	got := h.sessions(vid)
	want := []sessionView{
		{path: "/", source: "google", medium: "organic", term: "running shoes", channel: "Organic Search", refDm: "google.com", pageviews: 2},
		{path: "/", source: "newsletter", medium: "email", campaign: "nov", channel: "Email", pageviews: 2},
		{path: "/landing", source: "google", medium: "cpc", channel: "Paid Search", click: "gclid", refDm: "google.com", pageviews: 1},
	}
	for i := range want {
		want[i].id = got[i].id
		if got[i] != want[i] {
			t.Errorf("session %d:\n got %+v\nwant %+v", i+1, got[i], want[i])
		}
	}
	// Every event carries its session, and the form lead belongs to the ad click's session.
	h.waitCount(20*time.Second, `SELECT uniqExact(session_id) FROM %s.events FINAL WHERE visitor_id = ? AND session_id != ''`, 3, vid)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.conversions FINAL WHERE visitor_id = ? AND type = 'lead' AND lead_type = 'form' AND session_id = ?`, 1, vid, got[2].id)
}

func TestLateEventJoinsTwoSessions(t *testing.T) {
	h := newHarness(t)
	h.run(h.conn, h.db)
	vid := uuid.NewString()
	page := "https://shop.example.com/a"
	h.send(pageview(vid, 0, page, ""), pageview(vid, 40*time.Minute, page, ""))
	h.waitCount(20*time.Second, liveSessions, 2, vid)
	// An event from between them, delivered late, makes them one visit.
	h.send(pageview(vid, 20*time.Minute, page, ""))
	h.waitCount(20*time.Second, liveSessions, 1, vid)
	if s := h.sessions(vid); s[0].pageviews != 3 {
		t.Fatalf("session = %+v, want 3 pageviews", s[0])
	}
	h.waitCount(20*time.Second, `SELECT uniqExact(session_id) FROM %s.events FINAL WHERE visitor_id = ?`, 1, vid)
}

// personOf is the query an analyst uses (docs/identity.md): a stored person id resolved
// through person_current.
const resolvedPersons = `SELECT uniqExact(if(current_person_id != '', current_person_id, person_id)) FROM (
	SELECT site_id, person_id FROM %[1]s.sessions FINAL WHERE site_id = 'demo' AND has(?, visitor_id)
	UNION ALL SELECT site_id, person_id FROM %[1]s.conversions FINAL WHERE site_id = 'demo' AND has(?, conversion_id)
) AS stored ANY LEFT JOIN %[1]s.person_current USING (site_id, person_id)`

func TestIdentifyLaterKeepsEarlierSessions(t *testing.T) {
	h := newHarness(t)
	h.run(h.conn, h.db)
	vid, other := uuid.NewString(), uuid.NewString()
	page := "https://shop.example.com/"
	h.send(pageview(vid, 0, page, "https://www.bing.com/"), pageview(vid, 2*time.Hour, page+"?utm_source=x&utm_medium=cpc", ""),
		pageview(other, 0, page, ""))
	h.waitCount(20*time.Second, liveSessions, 2, vid)
	// The other visitor's events may sit on another partition, written in a later batch.
	h.waitCount(20*time.Second, liveSessions, 1, other)
	h.waitCount(20*time.Second, resolvedPersons, 2, []string{vid, other}, []string{""})
	email := fmt.Sprintf("%064x", time.Now().UnixNano())
	h.send(identify(vid, 4*time.Hour, email), serverConversion("deal-"+vid, "sale", 50*time.Hour, "", email, 900))
	h.waitCount(20*time.Second, `SELECT count() FROM %s.conversions FINAL WHERE conversion_id = ?`, 1, "deal-"+vid)
	h.waitCount(20*time.Second, liveSessions, 3, vid)
	// The earlier anonymous sessions and the sale made by email are one person.
	h.waitCount(20*time.Second, resolvedPersons, 1, []string{vid}, []string{"deal-" + vid})
	h.waitCount(20*time.Second, resolvedPersons, 2, []string{vid, other}, []string{""})
}

func TestTwoDevicesOneEmailAreOnePerson(t *testing.T) {
	h := newHarness(t)
	h.run(h.conn, h.db)
	phone, laptop := uuid.NewString(), uuid.NewString()
	email := fmt.Sprintf("%064x", time.Now().UnixNano())
	page := "https://shop.example.com/"
	h.send(pageview(phone, 0, page, "https://www.facebook.com/"), identify(phone, time.Minute, email))
	h.waitCount(20*time.Second, `SELECT count() FROM %s.identities FINAL WHERE visitor_id = ?`, 1, phone)
	h.send(pageview(laptop, 24*time.Hour, page+"?utm_source=google&utm_medium=cpc", ""), identify(laptop, 24*time.Hour+time.Minute, email),
		serverConversion("order-"+phone, "sale", 25*time.Hour, laptop, "", 120))
	h.waitCount(20*time.Second, `SELECT count() FROM %s.conversions FINAL WHERE conversion_id = ?`, 1, "order-"+phone)
	h.waitCount(20*time.Second, resolvedPersons, 1, []string{phone, laptop}, []string{"order-" + phone})
	h.waitCount(20*time.Second, `SELECT count() FROM %s.person_merges WHERE site_id = 'demo'`, 1)
}

func TestPoisonMessageGoesToDeadLetterTopic(t *testing.T) {
	h := newHarness(t)
	h.run(h.conn, h.db)
	vid := uuid.NewString()
	h.write(kafkaMessage("demo/"+vid, `{"id":"not-a-uuid","type":"pageview"`))
	h.send(pageview(vid, 0, "https://shop.example.com/", ""))
	h.waitCount(20*time.Second, `SELECT count() FROM %s.events FINAL WHERE visitor_id = ?`, 1, vid)
	m := readOne(t, h.kc.BrokerList(), h.kc.DLQ)
	if string(m.Value) != `{"id":"not-a-uuid","type":"pageview"` || header(m, "reason") == "" {
		t.Fatalf("dead letter = %q with reason %q", m.Value, header(m, "reason"))
	}
}

// A batch is prepared while the one before it is being inserted. What it needs from that
// batch (a visitor's earlier event arriving after later ones, a second device identifying
// with the same email) must be read once that batch is in: the result is the same as
// writing the batches one after the other.
func TestConsecutiveBatchesSeeEachOther(t *testing.T) {
	h := newHarness(t)
	h.batch, h.flush = 3, 50*time.Millisecond
	page := "https://shop.example.com/"
	const pairs = 15
	var evs []event.Enriched
	var phones, laptops []string
	for i := range pairs {
		phone, laptop := uuid.NewString(), uuid.NewString()
		phones, laptops = append(phones, phone), append(laptops, laptop)
		email := fmt.Sprintf("%032x%032x", time.Now().UnixNano(), i)
		// The phone's landing pageview comes after its later pages, a batch or two behind.
		evs = append(evs,
			pageview(phone, 2*time.Minute, page+"p2", page), identify(phone, 3*time.Minute, email), pageview(laptop, time.Hour, page, ""),
			pageview(phone, 0, page, "https://www.google.com/"), identify(laptop, time.Hour+time.Minute, email),
			pageview(phone, time.Minute, page+"p1", page))
	}
	h.send(evs...)
	h.run(h.conn, h.db)
	h.waitCount(60*time.Second, `SELECT count() FROM %s.events FINAL`, uint64(len(evs)))
	h.waitCount(20*time.Second, `SELECT count() FROM (SELECT deleted FROM %s.sessions FINAL) WHERE deleted = 0`, 2*pairs)
	h.waitCount(20*time.Second, `SELECT count() FROM (SELECT deleted, source, pageviews FROM %s.sessions FINAL)
		WHERE deleted = 0 AND source = 'google' AND pageviews = 3`, uint64(pairs))
	for i := range pairs {
		h.waitCount(20*time.Second, resolvedPersons, 1, []string{phones[i], laptops[i]}, []string{""})
	}
}

// A session carries the country and device of its first event, also when that event was
// stored in an earlier batch.
func TestSessionCarriesFirstEventsPlace(t *testing.T) {
	h := newHarness(t)
	h.run(h.conn, h.db)
	vid := uuid.NewString()
	first := pageview(vid, 0, "https://shop.example.com/", "")
	first.Country, first.Device = "DE", "mobile"
	later := pageview(vid, 2*time.Minute, "https://shop.example.com/pricing", "https://shop.example.com/")
	later.Country, later.Device = "FR", "desktop"
	h.send(first)
	h.waitCount(20*time.Second, liveSessions, 1, vid)
	h.send(later)
	h.waitCount(20*time.Second, `SELECT count() FROM (SELECT pageviews, deleted FROM %s.sessions FINAL WHERE visitor_id = ?) WHERE deleted = 0 AND pageviews = 2`, 1, vid)
	h.waitCount(20*time.Second, `SELECT count() FROM (SELECT country, device, deleted FROM %s.sessions FINAL WHERE visitor_id = ?)
		WHERE deleted = 0 AND country = 'DE' AND device = 'mobile'`, 1, vid)
}

// What the collector kept for the Meta Conversions API (the _fbc and _fbp cookies, the
// user agent) lands in events, and the address a conversion carried in its conversion.
func TestMetaIdsAndAddressesAreStored(t *testing.T) {
	h := newHarness(t)
	h.run(h.conn, h.db)
	vid := uuid.NewString()
	pv := pageview(vid, 0, "https://shop.example.com/?fbclid=IwAR1", "")
	pv.Fbc, pv.Fbp, pv.UA = "fb.1.1733300000000.IwAR1", "fb.1.1733300000000.42", "Mozilla/5.0 (X11; Linux x86_64)"
	sale := serverConversion("sale-"+vid, "sale", time.Hour, vid, event.EmailSHA256("ann@example.com"), 90)
	sale.Traits["email"] = "ann@example.com"
	h.send(pv, sale)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.events WHERE visitor_id = ? AND fbc = ? AND fbp = ? AND user_agent = ?`, 1,
		vid, pv.Fbc, pv.Fbp, pv.UA)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.conversions FINAL WHERE conversion_id = ? AND email = 'ann@example.com'`, 1, "sale-"+vid)
}
