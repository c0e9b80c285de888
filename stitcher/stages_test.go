package stitcher

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"touchpoint/internal/event"
	"touchpoint/internal/kafkabus"
	"touchpoint/stitcher/identity"
)

// The stitcher's stages on an in-memory store: each call to write is one batch, decoded,
// sessionized, linked and turned into rows as Run does, without Kafka or ClickHouse.
type stages struct {
	t      *testing.T
	st     *Stitcher
	store  *memStore
	offset int64
}

func newStages(t *testing.T) *stages {
	store := newMemStore()
	return &stages{t: t, store: store,
		st: New(&Config{BatchSize: 1000, FlushEvery: time.Second, MaxVisitors: 1000}, newMemSource(0), &memDeadLetters{}, store)}
}

// write stitches one batch of events.
func (s *stages) write(evs ...event.Enriched) {
	s.t.Helper()
	d := s.decode(evs)
	s.st.observe(d)
	if err := s.st.write(context.Background(), d.ins); err != nil {
		s.t.Fatal(err)
	}
}

// pipeline stitches batches as Run does: each batch is prepared while the one before is
// being inserted. The rows in flight reach the store inFlight later, long after a small
// batch is prepared, or once preparing waits for them.
func (s *stages) pipeline(batches ...[]event.Enriched) {
	s.t.Helper()
	const inFlight = 20 * time.Millisecond
	s.store.gate = make(chan struct{})
	defer func() { s.store.gate = nil }()
	ctx := context.Background()
	var cur *insertion
	for _, evs := range batches {
		if cur != nil {
			time.AfterFunc(inFlight, func() { s.store.gate <- struct{}{} })
		}
		if cur = s.st.take(ctx, cur, s.decode(evs)); cur == nil {
			s.t.Fatal("a batch was not written in the pipeline")
		}
	}
	s.store.gate <- struct{}{}
	<-cur.done
	if !s.st.settle(ctx, cur) {
		s.t.Fatal(cur.err)
	}
}

// stitch writes batches one after the other, or in the pipeline.
func (s *stages) stitch(pipelined bool, batches [][]event.Enriched) {
	s.t.Helper()
	if pipelined {
		s.pipeline(batches...)
		return
	}
	for _, b := range batches {
		s.write(b...)
	}
}

// decode turns events into a batch as the stitcher reads it from Kafka.
func (s *stages) decode(evs []event.Enriched) decodedBatch {
	s.t.Helper()
	msgs := make([]kafkabus.Message, len(evs))
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil {
			s.t.Fatal(err)
		}
		msgs[i] = kafkabus.Message{Topic: "tp.events", Partition: 0, Offset: s.offset, Key: evs[i].Key(), Value: b}
		s.offset++
	}
	ins, bad := decode(msgs, nil, s.st.rules)
	if len(bad) > 0 {
		s.t.Fatalf("%d events refused: %s", len(bad), bad[0].reason)
	}
	return decodedBatch{msgs: msgs, ins: ins}
}

// sessions returns the visitor's live sessions in time order.
func (s *stages) sessions(vid string) []row {
	var out []row
	for _, r := range s.store.rows("sessions", site) {
		if r.str("visitor_id") == vid && r["deleted"].(uint8) == 0 {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b row) int { return int(a.unix("started_at") - b.unix("started_at")) })
	return out
}

func (s *stages) event(id string) row {
	for _, r := range s.store.rows("events", site) {
		if r.str("event_id") == id {
			return r
		}
	}
	s.t.Fatalf("no event %s", id)
	return nil
}

// A visit goes on until 30 minutes without an event or a new campaign; an event that
// arrives late joins the sessions around it, and a session that vanishes that way is
// written again as deleted, its events moved.
func TestSessionsAcrossBatches(t *testing.T) {
	s := newStages(t)
	search := pageview("v1", 0, "https://shop.example.com/", "https://www.google.com/")
	s.write(search, pageview("v1", 10*time.Minute, "https://shop.example.com/a", ""))
	back := pageview("v1", 50*time.Minute, "https://shop.example.com/b", "")
	email := pageview("v1", 55*time.Minute, "https://shop.example.com/?utm_source=newsletter&utm_medium=email", "")
	s.write(back, email)
	channels := func() (out []string) {
		for _, r := range s.sessions("v1") {
			out = append(out, r.str("channel"))
		}
		return out
	}
	if got := channels(); !slices.Equal(got, []string{"Organic Search", "Direct", "Email"}) {
		t.Fatalf("sessions %v, want Organic Search, Direct, Email", got)
	}
	direct := s.event(back.ID).str("session_id")

	late := pageview("v1", 30*time.Minute, "https://shop.example.com/c", "")
	s.write(late)
	if got := channels(); !slices.Equal(got, []string{"Organic Search", "Email"}) {
		t.Fatalf("after the late event: sessions %v, want Organic Search, Email", got)
	}
	first := s.sessions("v1")[0]
	if first.unix("ended_at") != t0.Add(50*time.Minute).Unix() || first["pageviews"] != uint32(4) {
		t.Fatalf("first session %v, want it to end at 50 min with 4 pageviews", first)
	}
	for _, id := range []string{search.ID, late.ID, back.ID} {
		if got := s.event(id).str("session_id"); got != first.str("session_id") {
			t.Errorf("event %s in session %s, want %s", id, got, first.str("session_id"))
		}
	}
	vanished := false
	for _, r := range s.store.rows("sessions", site) {
		vanished = vanished || (r.str("session_id") == direct && r["deleted"].(uint8) == 1)
	}
	if !vanished {
		t.Errorf("the Direct session %s was not written again as deleted", direct)
	}

	// Writing a batch again changes nothing: rows are keyed.
	before := len(s.store.rows("events", site)) + len(s.store.rows("sessions", site))
	s.write(late)
	if after := len(s.store.rows("events", site)) + len(s.store.rows("sessions", site)); after != before || len(s.sessions("v1")) != 2 {
		t.Fatalf("a replayed batch left %d rows (was %d) and %d sessions", after, before, len(s.sessions("v1")))
	}
}

// Two visitors who name the same email are one person; two persons that a later link
// joins become one, the old one aliased to the new, and later events of either visitor
// carry the merged person.
func TestLinksJoinVisitorsIntoPersons(t *testing.T) {
	s := newStages(t)
	s.write(identify("laptop", 0, "hash-ann"), identify("phone", time.Minute, "hash-ann"), identify("tablet", time.Minute, "hash-bob"))
	person := func(vid string) string {
		for _, r := range s.store.rows("identities", site) {
			if r.str("visitor_id") == vid {
				return r.str("person_id")
			}
		}
		t.Fatalf("visitor %s has no identity", vid)
		return ""
	}
	if person("laptop") != person("phone") || person("laptop") == person("tablet") {
		t.Fatalf("persons laptop %s phone %s tablet %s: want the first two alike", person("laptop"), person("phone"), person("tablet"))
	}

	// The tablet's visitor names Ann's email too: Bob's person and Ann's are one now.
	s.write(identify("tablet", 2*time.Minute, "hash-ann"))
	if len(s.store.rows("person_aliases", site)) == 0 || len(s.store.rows("person_merges", site)) == 0 {
		t.Fatalf("a merge wrote %d aliases and %d merges", len(s.store.rows("person_aliases", site)), len(s.store.rows("person_merges", site)))
	}
	// A stitcher that knows nothing yet (a restart) finds the merged person in the store.
	s.st = New(s.st.cfg, newMemSource(0), &memDeadLetters{}, s.store)
	pv := pageview("tablet", 3*time.Minute, "https://shop.example.com/", "")
	pv2 := pageview("laptop", 3*time.Minute, "https://shop.example.com/", "")
	s.write(pv, pv2)
	if a, b := s.event(pv.ID).str("person_id"), s.event(pv2.ID).str("person_id"); a != b || a == "" {
		t.Fatalf("after the merge the tablet's event has person %q and the laptop's %q", a, b)
	}
}

// persons returns the current persons of the visitor's stored events and live sessions,
// and of the conversions with the given ids: each stored person id read through its alias.
func (s *stages) persons(vid string, conversions ...string) map[string]bool {
	current := map[string]string{}
	for _, r := range s.store.rows("person_aliases", site) {
		current[r.str("person_id")] = r.str("current_person_id")
	}
	out := map[string]bool{}
	add := func(p string) {
		if c, ok := current[p]; ok {
			p = c
		}
		out[p] = true
	}
	for _, r := range s.store.rows("events", site) {
		if r.str("visitor_id") == vid {
			add(r.str("person_id"))
		}
	}
	for _, r := range s.sessions(vid) {
		add(r.str("person_id"))
	}
	for _, r := range s.store.rows("conversions", site) {
		if slices.Contains(conversions, r.str("conversion_id")) {
			add(r.str("person_id"))
		}
	}
	return out
}

// linked returns the identifiers that the stored links join to the visitor: what a later
// batch's person of any of them is built from.
func (s *stages) linked(vid string) []identity.Key {
	g := identity.NewGraph(site)
	for _, r := range s.store.rows("identities", site) {
		g.Add(identity.Link{Visitor: r.str("visitor_id"), Email: r.str("email_sha256"), User: r.str("user_id")})
	}
	return g.Members(identity.Key{Kind: identity.Visitor, Value: vid})
}

// A browser cannot join a person a server linked, however the server's link and the
// browser's claims fall into batches: in one batch, in consecutive ones, and with the batch
// before still being inserted while the next is prepared. A claim received before the
// server's link still joins.
func TestBrowserClaimsCannotJoinServerPersonInAnyBatches(t *testing.T) {
	page := "https://shop.example.com/"
	crm := serverConversion("lead-7", "lead", time.Hour, "victim", "hash-victim", 0)
	crm.Traits["user_id"] = "crm-user-7"
	claimUser := identify("attacker2", 3*time.Hour, "")
	claimUser.Traits = map[string]string{"user_id": "crm-user-7"}
	form := browser(event.FormSubmit, "attacker", 3*time.Hour, page+"contact", "")
	form.Traits = map[string]string{"email_sha256": "hash-victim"}
	claims := []event.Enriched{pageview("attacker", 2*time.Hour, page, ""), identify("attacker", 2*time.Hour+time.Minute, "hash-victim"),
		pageview("attacker2", 2*time.Hour, page, ""), claimUser, form}
	// A chain through an email of the attacker's, linked to the victim's visitor id too,
	// in either order.
	chain := []event.Enriched{identify("attacker2", 4*time.Hour, "hash-other"), identify("victim", 4*time.Hour+time.Minute, "hash-other")}
	reversed := []event.Enriched{chain[1], chain[0]}
	reversed[0].ReceivedAt, reversed[1].ReceivedAt = chain[0].ReceivedAt, chain[1].ReceivedAt
	start := []event.Enriched{pageview("victim", 0, page, ""), crm}
	one := func(evs []event.Enriched) (out [][]event.Enriched) {
		for _, e := range evs {
			out = append(out, []event.Enriched{e})
		}
		return out
	}
	orders := map[string][][]event.Enriched{
		"one batch":                  {slices.Concat(start, claims, chain)},
		"one batch, chain reversed":  {slices.Concat(start, claims, reversed)},
		"server, then claims":        {start, slices.Concat(claims, chain)},
		"an event a batch":           one(slices.Concat(start, claims, chain)),
		"an event a batch, reversed": one(slices.Concat(start, claims, reversed)),
		"server, claims, chain":      {start, claims, chain},
		"server, claims, reversed":   {start, claims, reversed},
	}
	for name, batches := range orders {
		for _, pipelined := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, pipelined %v", name, pipelined), func(t *testing.T) {
				s := newStages(t)
				s.stitch(pipelined, batches)
				victim := s.persons("victim", "lead-7")
				if len(victim) != 1 {
					t.Fatalf("the victim's rows have persons %v, want one", victim)
				}
				for _, v := range []string{"attacker", "attacker2"} {
					for p := range s.persons(v) {
						if victim[p] {
							t.Errorf("%s joined the server-owned person %s", v, p)
						}
					}
				}
				for _, v := range s.linked("victim") {
					if v.Value == "attacker" || v.Value == "attacker2" {
						t.Errorf("the stored links join %s to the server-owned person", v.Value)
					}
				}
			})
		}
	}

	// A claim received before the server's link is a form filled before the CRM knew the
	// email: it joins, in the same batch or an earlier one.
	early := identify("attacker", 30*time.Minute, "hash-victim")
	for name, batches := range map[string][][]event.Enriched{"one batch": {slices.Concat(start, []event.Enriched{early})}, "before": {{early}, start}} {
		for _, pipelined := range []bool{false, true} {
			t.Run(fmt.Sprintf("early claim, %s, pipelined %v", name, pipelined), func(t *testing.T) {
				s := newStages(t)
				s.stitch(pipelined, batches)
				if a, v := s.persons("attacker"), s.persons("victim", "lead-7"); len(a) != 1 || !maps.Equal(a, v) {
					t.Fatalf("persons of the early claimer %v, of the server's link %v: want the same one", a, v)
				}
				if !slices.Contains(s.linked("victim"), identity.Key{Kind: identity.Visitor, Value: "attacker"}) {
					t.Fatal("the stored links do not join the early claimer to the server's person")
				}
			})
		}
	}
}

// A form submit with an email field is a form lead named by its event; a conversion event
// is a sale with its value; a server's row outranks a browser's with the same id, in
// either order of arrival.
func TestConversionRows(t *testing.T) {
	s := newStages(t)
	form := browser(event.FormSubmit, "v1", time.Minute, "https://shop.example.com/contact", "")
	form.Form = &event.Form{ID: "contact", Fields: []string{"email", "name"}}
	sale := browser(event.Conversion, "v1", 2*time.Minute, "https://shop.example.com/thanks", "")
	sale.Conversion = &event.ConversionInfo{ID: "order-1", Type: "sale", Value: 120, Currency: "EUR"}
	s.write(pageview("v1", 0, "https://shop.example.com/", ""), form, sale, serverConversion("crm-9", "sale", 3*time.Minute, "v1", "", 300))
	forged := browser(event.Conversion, "v2", 4*time.Minute, "https://shop.example.com/", "")
	forged.Conversion = &event.ConversionInfo{ID: "crm-9", Type: "lead"}
	s.write(forged)

	got := map[string]row{}
	for _, r := range s.store.rows("conversions", site) {
		got[r.str("conversion_id")] = r
	}
	session := s.event(form.ID).str("session_id")
	if r := got[form.ID]; r == nil || r.str("type") != "lead" || r.str("lead_type") != "form" || r.str("session_id") != session || r.str("visitor_id") != "v1" {
		t.Errorf("form lead %v, want a form lead of v1 in session %s", r, session)
	}
	if r := got["order-1"]; r == nil || r.str("type") != "sale" || r["value"] != 120.0 || r.str("currency") != "EUR" {
		t.Errorf("sale %v, want 120 EUR", r)
	}
	if r := got["crm-9"]; r == nil || r.str("type") != "sale" || r["value"] != 300.0 || r.str("visitor_id") != "v1" {
		t.Errorf("server sale %v was replaced by a browser's row", r)
	}
}
