// Package session splits one visitor's events into sessions (docs/tables.md, sessions): a new session starts
// after 30 minutes without events, or when the visitor arrives again with other campaign
// parameters, another click id or from another external site, or after 24 hours. A referrer
// that is no arrival (the site's own domains, a cross-domain hop, a payment or sign-in page:
// see Referrals) is no external site. Sessions are a pure function of the set of events, so
// out-of-order, late and replayed events give the same sessions.
package session

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"sort"
	"strings"
	"unique"

	"github.com/google/uuid"
)

// Timeout is the inactivity after which the next event starts a new session, in seconds.
const Timeout = 30 * 60

// MaxLength is the longest a session lasts, in seconds: an event later than that after the
// session's start begins a new one (a tab left open on an auto-refreshing page). It bounds
// how much history a late event can change.
const MaxLength = 24 * 60 * 60

// namespace of session ids (UUID v5).
var namespace = uuid.MustParse("6f1c1b8e-2f43-5c61-9a7e-3d6f0b5c2a10")

// Event is what sessionization needs of one event. TS is in seconds: ClickHouse stores
// seconds, and state restored from it must sort exactly like live events.
type Event struct {
	ID        uuid.UUID
	TS        int64
	Pageview  bool
	Bot       bool
	NoArrival bool // Ref is one that never starts a visit (Referrals)
	URL, Ref  string
	Page      Page
	RefDomain string    // the external referrer's domain, "" when none, internal or no arrival
	Session   uuid.UUID // the session the event is stored with; uuid.Nil when new
	// Country and Device as the collector enriched the event; a session carries its
	// first event's.
	Country, Device string
}

// NewEvent builds an Event, reading the page URL and the referrer with the referral rules
// of the event's site (nil: the default rules).
func NewEvent(id uuid.UUID, ts int64, pageview, bot bool, rawURL, ref string, r *Referrals) Event {
	e := Event{ID: id, TS: ts, Pageview: pageview, Bot: bot, URL: rawURL, Ref: ref, Page: ParsePage(rawURL)}
	e.RefDomain, e.NoArrival = r.arrival(&e.Page, ref)
	return e
}

// Detach gives e copies of its strings. A decoded event's point into its Kafka message:
// an event kept between batches would keep the whole message alive.
func (e *Event) Detach() {
	e.URL, e.Ref, e.RefDomain = strings.Clone(e.URL), strings.Clone(e.Ref), strings.Clone(e.RefDomain)
	p := &e.Page
	p.Host, p.Path, p.ClickType, p.ClickID = strings.Clone(p.Host), strings.Clone(p.Path), strings.Clone(p.ClickType), strings.Clone(p.ClickID)
	for i := range p.UTM {
		p.UTM[i] = strings.Clone(p.UTM[i])
	}
	// A handful of values each: one copy of each is kept.
	e.Country, e.Device = unique.Make(e.Country).Value(), unique.Make(e.Device).Value()
}

// Touch is how the visitor arrived with e. It is made from the page and referrer when
// needed: a batch holds many events, and copying a Touch with each was a noticeable cost.
func (e *Event) Touch() Touch {
	return Touch{UTM: e.Page.UTM, ClickType: e.Page.ClickType, ClickID: e.Page.ClickID, RefDomain: e.RefDomain}
}

// Session is a run of events [First, Last] of the sorted slice Split returns.
type Session struct {
	ID          uuid.UUID
	First, Last int
	Start, End  int64
	Pageviews   uint32
	Events      uint32
	Bot         bool
}

// ID returns the id of the session of visitor vid on site that starts with event first: the
// UUID v5 (as uuid.NewSHA1 makes it) of site, vid and first joined by NUL bytes. Every
// session of every batch needs one, so it is made without allocating.
func ID(site, vid string, first uuid.UUID) uuid.UUID {
	var buf [256]byte
	b := append(buf[:0], namespace[:]...)
	b = append(b, site...)
	b = append(b, 0)
	b = append(b, vid...)
	b = append(b, 0)
	var text [36]byte
	hex.Encode(text[:8], first[:4])
	hex.Encode(text[9:13], first[4:6])
	hex.Encode(text[14:18], first[6:8])
	hex.Encode(text[19:23], first[8:10])
	hex.Encode(text[24:], first[10:])
	text[8], text[13], text[18], text[23] = '-', '-', '-', '-'
	sum := sha1.Sum(append(b, text[:]...))
	var id uuid.UUID
	copy(id[:], sum[:])
	id[6] = id[6]&0x0f | 0x50 // version 5
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

// Sort orders events by time, then id, and drops repeated ids.
func Sort(evs []Event) []Event {
	sort.Sort(byTime(evs))
	out := evs[:0]
	var seen map[uuid.UUID]struct{}
	if len(evs) > 16 { // a visitor has few events in a batch: comparing them is cheaper than a map
		seen = make(map[uuid.UUID]struct{}, len(evs))
	}
	for i := range evs {
		id := evs[i].ID
		if seen != nil {
			if _, dup := seen[id]; dup {
				continue
			}
			seen[id] = struct{}{}
		} else if holds(out, id) {
			continue
		}
		out = append(out, evs[i])
	}
	return out
}

// holds reports whether evs holds an event with id.
func holds(evs []Event, id uuid.UUID) bool {
	for i := range evs {
		if evs[i].ID == id {
			return true
		}
	}
	return false
}

// Before reports whether a sorts before b: by time, then id.
func Before(a, b *Event) bool {
	if a.TS != b.TS {
		return a.TS < b.TS
	}
	return bytes.Compare(a.ID[:], b.ID[:]) < 0
}

// byTime sorts events without copying them to compare.
type byTime []Event

func (s byTime) Len() int           { return len(s) }
func (s byTime) Less(i, j int) bool { return Before(&s[i], &s[j]) }
func (s byTime) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

// Split sorts evs (see Sort) and cuts them into sessions. It returns the sorted events.
func Split(site, vid string, evs []Event) ([]Event, []Session) {
	evs = Sort(evs)
	var out []Session
	var cur *Session
	var touch Touch
	for i := range evs {
		e := &evs[i]
		if cur == nil || e.TS-cur.End > Timeout || e.TS-cur.Start >= MaxLength || arrivesAgain(touch, e.Touch()) {
			out = append(out, Session{ID: ID(site, vid, e.ID), First: i, Start: e.TS})
			cur = &out[len(out)-1]
			touch = e.Touch()
		}
		cur.Last, cur.End = i, e.TS
		cur.Events++
		if e.Pageview {
			cur.Pageviews++
		}
		cur.Bot = cur.Bot || e.Bot
	}
	return evs, out
}

// arrivesAgain reports whether an event with touch t starts a new visit within a session
// that began with touch s: other campaign parameters or click id, or, without them, another
// external referrer. An event repeating the session's campaign URL without its referrer (a
// form posted on the landing page, a reload) is the same visit.
func arrivesAgain(s, t Touch) bool {
	if t.UTM != ([5]string{}) || t.ClickID != "" {
		return t.UTM != s.UTM || t.ClickType != s.ClickType || t.ClickID != s.ClickID
	}
	if t.RefDomain == "" {
		return false
	}
	return t.RefDomain != s.RefDomain || s.UTM != ([5]string{}) || s.ClickID != ""
}
