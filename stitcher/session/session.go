// Package session splits one visitor's events into sessions (SPEC §5): a new session starts
// after 30 minutes without events, or when the visitor arrives again with other campaign
// parameters, another click id or from another external site, or after 24 hours. Sessions are a pure function
// of the set of events, so out-of-order, late and replayed events give the same sessions.
package session

import (
	"bytes"
	"sort"

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
	ID       uuid.UUID
	TS       int64
	Pageview bool
	Bot      bool
	URL, Ref string
	Page     Page
	Touch    Touch
	Session  uuid.UUID // the session the event is stored with; uuid.Nil when new
}

// NewEvent builds an Event, reading the page URL and the touch.
func NewEvent(id uuid.UUID, ts int64, pageview, bot bool, rawURL, ref string) Event {
	p := ParsePage(rawURL)
	return Event{ID: id, TS: ts, Pageview: pageview, Bot: bot, URL: rawURL, Ref: ref, Page: p, Touch: TouchOf(p, ref)}
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

// ID returns the id of the session of visitor vid on site that starts with event first.
func ID(site, vid string, first uuid.UUID) uuid.UUID {
	return uuid.NewSHA1(namespace, []byte(site+"\x00"+vid+"\x00"+first.String()))
}

// Sort orders events by time, then id, and drops repeated ids.
func Sort(evs []Event) []Event {
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].TS != evs[j].TS {
			return evs[i].TS < evs[j].TS
		}
		return bytes.Compare(evs[i].ID[:], evs[j].ID[:]) < 0
	})
	out := evs[:0]
	seen := make(map[uuid.UUID]struct{}, len(evs))
	for _, e := range evs {
		if _, dup := seen[e.ID]; dup {
			continue
		}
		seen[e.ID] = struct{}{}
		out = append(out, e)
	}
	return out
}

// Split sorts evs (see Sort) and cuts them into sessions. It returns the sorted events.
func Split(site, vid string, evs []Event) ([]Event, []Session) {
	evs = Sort(evs)
	var out []Session
	var cur *Session
	var touch Touch
	for i, e := range evs {
		if cur == nil || e.TS-cur.End > Timeout || e.TS-cur.Start >= MaxLength || arrivesAgain(touch, e.Touch) {
			out = append(out, Session{ID: ID(site, vid, e.ID), First: i, Start: e.TS})
			cur = &out[len(out)-1]
			touch = e.Touch
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
