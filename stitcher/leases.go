package stitcher

import (
	"encoding/json"
	"time"

	"touchpoint/internal/event"
)

const leaseColumns = `site_id, number, pool, lease_id, visitor_id, session_id, leased_from, leased_to, version`

// leaseValues returns the number_leases row of a lease event (the collector's record of a
// tracking number handed to a visitor), or nil. A lease written again with a later end
// replaces its row: the version is the receive time.
func leaseValues(in *incoming, sessionID string) []any {
	e := &in.e
	if e.Type != event.NumberLease {
		return nil
	}
	var p struct {
		Number   string `json:"number"`
		Pool     string `json:"pool"`
		LeasedTo int64  `json:"leased_to"`
	}
	if json.Unmarshal(e.Props, &p) != nil || p.Number == "" {
		return nil
	}
	to := max(p.LeasedTo, e.TS)
	return []any{e.Site, p.Number, p.Pool, in.id, e.VID, sessionID, time.UnixMilli(e.TS).UTC(), time.UnixMilli(to).UTC(),
		uint64(max(e.ReceivedAt, 0))}
}
