package stitcher

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
)

// browserConversion is a tracker's tp('conversion', …) as the collector puts it on Kafka.
func browserConversion(vid, id, typ string, at time.Duration, value float64) event.Enriched {
	e := browser(event.Conversion, vid, at, "https://shop.example.com/thanks", "")
	e.Conversion = &event.ConversionInfo{ID: id, Type: typ, Value: value, Currency: "EUR"}
	return e
}

type conversionRow struct {
	typ, visitor, email, origin string
	value                       float64
}

func (h *harness) conversion(id string) conversionRow {
	h.t.Helper()
	var r conversionRow
	err := h.conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT type, visitor_id, email_sha256, origin, value
		FROM %s.conversions FINAL WHERE site_id = 'demo' AND conversion_id = ?`, h.db), id).Scan(&r.typ, &r.visitor, &r.email, &r.origin, &r.value)
	if err != nil {
		h.t.Fatalf("conversion %s: %v", id, err)
	}
	return r
}

// A sale recorded through /v1/conversions keeps its row whatever browsers send with the
// same conversion id, before or after it, in the same batch or later; a server row
// replaces a browser row of its id (the CRM confirming a sale the page reported).
func TestBrowserConversionNeverReplacesServerRow(t *testing.T) {
	h := newHarness(t)
	h.run(h.conn, h.db)
	victim, attacker := uuid.NewString(), uuid.NewString()
	email := fmt.Sprintf("%064x", time.Now().UnixNano())
	sale := serverConversion("crm-42", "sale", time.Hour, victim, email, 100)
	early := browserConversion(attacker, "crm-42", "lead", 30*time.Minute, 0)
	early.ReceivedAt = sale.ReceivedAt - 1000 // posted just before the CRM's call
	h.send(pageview(victim, 0, "https://shop.example.com/?utm_source=google&utm_medium=cpc", ""), early, sale)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.events FINAL WHERE site_id = 'demo' AND event_type = 'conversion'`, 2)
	late := browserConversion(attacker, "crm-42", "lead", 2*time.Hour, 0)
	late.ReceivedAt = sale.ReceivedAt + 3600_000
	h.send(late, browserConversion(attacker, "order-9", "sale", 2*time.Hour, 50))
	h.waitCount(20*time.Second, `SELECT count() FROM %s.events FINAL WHERE site_id = 'demo' AND event_type = 'conversion'`, 4)
	confirmed := serverConversion("order-9", "sale", 3*time.Hour, attacker, "", 70)
	h.send(confirmed)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.conversions FINAL WHERE site_id = 'demo' AND conversion_id = 'order-9' AND origin = 'server'`, 1)

	if got, want := h.conversion("crm-42"), (conversionRow{"sale", victim, email, "server", 100}); got != want {
		t.Fatalf("crm-42 after browsers reused its id:\n got %+v\nwant %+v", got, want)
	}
	if got := h.conversion("order-9"); got.value != 70 || got.origin != "server" {
		t.Fatalf("order-9 confirmed by the server = %+v, want the server's 70", got)
	}
	// Without FINAL too, as argMax over the version reads it.
	var value float64
	if err := h.conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT argMax(value, version) FROM %s.conversions
		WHERE site_id = 'demo' AND conversion_id = 'crm-42'`, h.db)).Scan(&value); err != nil || value != 100 {
		t.Fatalf("argMax(value) = %v (%v), want 100", value, err)
	}
}

// A browser cannot join a person that a server linked: neither by claiming the email or
// user id of the server's link, nor through a chain of its own links; its conversions keep
// no email it merely claimed. A browser's link made before the server's still counts.
func TestBrowserIdentifyCannotTakeOverServerPerson(t *testing.T) {
	h := newHarness(t)
	h.run(h.conn, h.db)
	victim, attacker, attacker2, honest := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	email := fmt.Sprintf("%064x", time.Now().UnixNano())
	otherEmail := fmt.Sprintf("%063xf", time.Now().UnixNano())
	page := "https://shop.example.com/"
	crm := serverConversion("lead-7", "lead", time.Hour, victim, email, 0)
	crm.Traits["user_id"] = "crm-user-7"
	h.send(pageview(victim, 0, page+"?utm_source=google&utm_medium=cpc", ""), crm)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.identities FINAL WHERE visitor_id = ?`, 1, victim)

	claimUser := identify(attacker2, 3*time.Hour, "")
	claimUser.Traits = map[string]string{"user_id": "crm-user-7"}
	form := browser(event.FormSubmit, attacker, 3*time.Hour, page+"contact", "")
	form.Traits = map[string]string{"email_sha256": email}
	noVisitor := browserConversion("", "", "lead", 3*time.Hour, 0)
	noVisitor.Traits = map[string]string{"email_sha256": email}
	// A chain: the attacker's own email first, then the victim's visitor id with it.
	chain := identify(victim, 4*time.Hour+time.Minute, otherEmail)
	h.send(pageview(attacker, 2*time.Hour, page+"?utm_source=spam&utm_medium=cpc", ""), identify(attacker, 2*time.Hour+time.Minute, email),
		pageview(attacker2, 2*time.Hour, page, ""), claimUser, form, noVisitor,
		identify(attacker2, 4*time.Hour, otherEmail), chain)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.events FINAL WHERE visitor_id IN (?, ?) OR event_id = ?`, 7, attacker, attacker2, chain.ID)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.conversions FINAL WHERE event_id = ?`, 1, noVisitor.ID)
	// And every other row of their batches: until an attacker's sessions are in, the count
	// below finds only the victim's person, as if the attacker had joined it.
	h.written()

	for _, v := range []string{attacker, attacker2} {
		if n := h.count(resolvedPersons, []string{victim, v}, []string{"lead-7"}); n != 2 {
			t.Fatalf("visitor %s joined the server-owned person (%d persons for both)", v, n)
		}
	}
	if n := h.count(`SELECT count() FROM %s.identities FINAL WHERE visitor_id = ? AND email_sha256 = ?`, attacker, email); n != 0 {
		t.Fatal("the refused link was stored")
	}
	if n := h.count(`SELECT count() FROM %s.conversions FINAL WHERE event_id IN (?, ?) AND (email_sha256 != '' OR person_id != '' AND visitor_id = '')`, form.ID, noVisitor.ID); n != 0 {
		t.Fatal("a browser conversion kept an email it only claimed, or a person by it")
	}

	// The honest order: a form with an email, then the CRM's call by that email.
	h.send(pageview(honest, 5*time.Hour, page, ""), identify(honest, 5*time.Hour+time.Minute, otherEmail[:60]+"0000"))
	h.waitCount(20*time.Second, `SELECT count() FROM %s.identities FINAL WHERE visitor_id = ?`, 1, honest)
	h.send(serverConversion("sale-8", "sale", 6*time.Hour, "", otherEmail[:60]+"0000", 10))
	h.waitCount(20*time.Second, resolvedPersons, 1, []string{honest}, []string{"sale-8"})
}
