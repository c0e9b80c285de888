package stitcher

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
)

// A lease joins the session of the page that asked for it; a call the collector matched
// to the visitor is a lead of lead_type call at the call's start, a repeat call is a
// conversion of type call, and a call written again (a later webhook) replaces its row.
func TestCallsAndLeases(t *testing.T) {
	s := newStages(t)
	landing := pageview("v1", 0, "https://shop.example.com/?utm_source=google&utm_medium=cpc", "")
	leaseID := uuid.NewString()
	props, _ := json.Marshal(map[string]any{"number": "+442079460001", "pool": "main", "leased_to": t0.Add(40 * time.Minute).UnixMilli()})
	lease := event.Enriched{Event: event.Event{ID: leaseID, Type: event.NumberLease, TS: t0.Add(2 * time.Second).UnixMilli(), VID: "v1",
		URL: landing.URL, Props: props}, Site: site, ReceivedAt: t0.Add(2 * time.Second).UnixMilli(), Origin: event.OriginWeb}
	s.write(landing, lease)

	call := func(id, typ string, duration int, received time.Duration) event.Enriched {
		p, _ := json.Marshal(map[string]any{"provider": "twilio", "call_id": id, "duration": duration, "touch": "session", "ended": duration > 0})
		return event.Enriched{Event: event.Event{ID: uuid.NewSHA1(uuid.Nil, []byte(id)).String(), Type: event.Call, TS: t0.Add(5 * time.Minute).UnixMilli(),
			VID: "v1", Conversion: &event.ConversionInfo{ID: "call:twilio:" + id, Type: typ, LeadType: "call"}, Props: p},
			Site: site, ReceivedAt: t0.Add(received).UnixMilli(), Origin: event.OriginServer}
	}
	// The ringing and the ended webhook of CA1 received within one millisecond.
	s.write(call("CA1", "lead", 0, 5*time.Minute), call("CA2", "call", 30, 20*time.Minute), call("CA1", "lead", 42, 5*time.Minute))
	s.write(call("CA1", "lead", 0, 5*time.Minute)) // a replayed ringing webhook

	leases := s.store.rows("number_leases", site)
	if len(leases) != 1 {
		t.Fatalf("%d lease rows, want 1", len(leases))
	}
	sess := s.sessions("v1")
	if len(sess) != 1 || leases[0].str("session_id") != sess[0].str("session_id") || leases[0].str("visitor_id") != "v1" ||
		leases[0].unix("leased_to") != t0.Add(40*time.Minute).Unix() {
		t.Fatalf("lease row %v, sessions %v", leases[0], sess)
	}
	convs := map[string]row{}
	for _, r := range s.store.rows("conversions", site) {
		convs[r.str("conversion_id")] = r
	}
	first, repeat := convs["call:twilio:CA1"], convs["call:twilio:CA2"]
	if first == nil || first.str("type") != "lead" || first.str("lead_type") != "call" || first.unix("occurred_at") != t0.Add(5*time.Minute).Unix() {
		t.Fatalf("first call's row %v", first)
	}
	var p struct{ Duration int }
	json.Unmarshal([]byte(first.str("props")), &p)
	if p.Duration != 42 {
		t.Errorf("the status callback did not replace the call's row: props %s", first.str("props"))
	}
	if repeat == nil || repeat.str("type") != "call" {
		t.Fatalf("repeat call's row %v", repeat)
	}
	if len(convs) != 2 {
		t.Errorf("%d conversion rows, want 2", len(convs))
	}
}
