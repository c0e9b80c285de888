package stitcher

import (
	"time"

	"touchpoint/internal/event"
)

const conversionColumns = `site_id, conversion_id, type, lead_type, occurred_at, received_at, visitor_id, person_id,
	email_sha256, user_id, session_id, value, currency, props, event_id, origin, version`

// Lead types of SPEC §7.
var leadTypes = map[string]bool{"form": true, "call": true, "chat": true, "other": true}

// conversionValues returns the conversions row of a conversion event (browser or
// /v1/conversions) or of a browser form submit, which is a form lead whose id is the event
// id. Other events give nil. The version is the receive time, so a replay writes the same
// row and a conversion posted again with corrections replaces the earlier one; rows of
// server calls and imports rank above browser rows (event.ServerRank). The email and user
// id of a browser whose identity link was refused are not kept: they are only its claim.
func conversionValues(in *incoming, personID, sessionID string) []any {
	e := &in.e
	var id, typ, leadType, currency string
	var value float64
	switch {
	case e.Type == event.FormSubmit && e.Origin != event.OriginServer:
		id, typ, leadType = e.ID, "lead", "form"
	case e.Type == event.Conversion:
		c := e.Conversion
		if c == nil {
			c = &event.ConversionInfo{}
		}
		id, typ, leadType, value, currency = c.ID, c.Type, c.LeadType, c.Value, c.Currency
		if id == "" {
			id = e.ID
		}
		if typ == "" {
			typ = "sale"
			if value == 0 {
				typ = "lead"
			}
		}
		if typ == "lead" && !leadTypes[leadType] {
			leadType = "other"
		}
	default:
		return nil
	}
	props := string(e.Props)
	if props == "" {
		props = "{}"
	}
	version := uint64(max(e.ReceivedAt, 0))
	if e.Trusted() {
		version += event.ServerRank
	}
	email, user := emailHash(e.Traits), e.Traits[event.TraitUserID]
	if in.unlinked {
		email, user = "", ""
	}
	return []any{
		e.Site, id, typ, leadType, time.Unix(in.ts, 0).UTC(), time.UnixMilli(e.ReceivedAt).UTC(), e.VID, personID,
		email, user, sessionID, value, currency, props, in.id, e.Origin, version,
	}
}
