package stitcher

import (
	"runtime"
	"strings"
	"sync"

	"github.com/google/uuid"

	"touchpoint/internal/event"
	"touchpoint/internal/kafkabus"
	"touchpoint/stitcher/session"
)

// incoming is one decoded message of a batch.
type incoming struct {
	e    event.Enriched
	id   uuid.UUID
	ts   int64 // seconds
	part int   // Kafka partition
	sev  session.Event

	rules    *siteRules // of the event's site
	session  uuid.UUID  // set by sessionize for browser events
	unlinked bool       // set by link when its identity link was refused
}

// poison is a message that can never be written; it goes to the dead-letter topic.
type poison struct {
	msg    kafkabus.Message
	reason string
}

// decode reads a batch's messages, in parallel: JSON and URL parsing are most of the
// stitcher's work. Messages that cannot become rows are returned as poison; a repeated
// event id (same site) is kept once: the first, or for calls and leases, which the
// collector writes again with their newer state, the last. buf, whose incoming must all be zero, holds the
// result when it is large enough.
func decode(msgs []kafkabus.Message, buf []incoming, rules rulebook) ([]incoming, []poison) {
	parts := min(runtime.GOMAXPROCS(0), max(1, len(msgs)/1000))
	decoded := buf[:0]
	if cap(decoded) < len(msgs) {
		decoded = make([]incoming, len(msgs))
	}
	decoded = decoded[:len(msgs)]
	reasons := make([]string, len(msgs))
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < len(msgs); i += parts {
				reasons[i] = decodeOne(&msgs[i], &decoded[i], rules)
			}
		}()
	}
	wg.Wait()
	out := decoded[:0]
	var bad []poison
	type eventKey struct {
		site string
		id   uuid.UUID // as stored: two spellings of one id are one event
	}
	seen := make(map[eventKey]int, len(msgs)) // position in out
	for i := range decoded {
		if reasons[i] != "" {
			bad = append(bad, poison{msgs[i], reasons[i]})
			continue
		}
		k := eventKey{decoded[i].e.Site, decoded[i].id}
		if at, dup := seen[k]; dup {
			if event.CollectorTypes[decoded[i].e.Type] {
				// A call or a lease written again carries its newer state (ended, held longer).
				out[at] = decoded[i]
			}
			continue
		}
		seen[k] = len(out)
		if len(out) == i {
			out = out[:i+1] // in place already: an incoming is large to copy onto itself
		} else {
			out = append(out, decoded[i])
		}
	}
	return out, bad
}

// decodeOne fills in from m, or returns why m can never be written.
func decodeOne(m *kafkabus.Message, in *incoming, rules rulebook) string {
	if err := event.DecodeEnriched(m.Value, &in.e); err != nil {
		return "undecodable message: " + err.Error()
	}
	id, err := uuid.Parse(in.e.ID)
	if err != nil {
		return "invalid event id: " + err.Error()
	}
	if in.e.Site == "" {
		return "missing site"
	}
	if !event.Types[in.e.Type] {
		return "unknown event type " + in.e.Type
	}
	in.id, in.ts, in.part, in.rules = id, in.e.TS/1000, m.Partition, rules.of(in.e.Site)
	in.sev = session.NewEvent(in.id, in.ts, in.e.Type == event.Pageview, in.e.Bot, in.e.URL, in.e.Ref, in.rules.referrals)
	in.sev.Country, in.sev.Device = in.e.Country, in.e.Device
	return ""
}

// sessionable reports whether an event belongs to a visit: browser events with a visitor id.
// Server calls (a CRM's conversion days later) are not visits, and neither is a tracking
// number's lease: it joins the session the visitor is in (visitorStates.sessionAt), never
// starts one.
func (in *incoming) sessionable() bool {
	return in.e.VID != "" && in.e.Origin != event.OriginServer && in.e.Type != event.NumberLease
}

// emailHash is the event's email hash: traits.email_sha256 as the collector writes it, or the
// hash of traits.email for sites that keep emails.
func emailHash(traits map[string]string) string {
	if h := event.NormaliseEmail(traits[event.TraitEmailSHA256]); h != "" {
		return h
	}
	if e := traits[event.TraitEmail]; strings.TrimSpace(e) != "" {
		return event.EmailSHA256(e)
	}
	return ""
}
