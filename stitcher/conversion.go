package stitcher

import (
	"bytes"
	"time"

	"touchpoint/internal/event"
	siteconf "touchpoint/internal/site"
	"touchpoint/stitcher/lead"
)

const conversionColumns = `site_id, conversion_id, type, lead_type, occurred_at, received_at, visitor_id, person_id,
	email_sha256, user_id, session_id, value, currency, props, event_id, origin, is_bot, version, email`

// conversionValues returns the conversions row of a conversion event (browser or
// /v1/conversions), of a call the collector recorded (a lead of lead_type call for a
// caller's first call, type call for the others) or of a browser form submit that is a lead (lead.Rules), whose id is
// the event id. Other events give nil. The version is the receive time, so a replay writes
// the same row and a conversion posted again with corrections replaces the earlier one;
// rows of server calls and imports rank above browser rows (event.ServerRank), and an
// ended call's row above its ringing one (event.CallEndedRank). The email
// and user id of a browser whose identity link was refused are not kept: they are only its
// claim. A browser's conversion from a client the collector flagged as a bot is kept
// flagged (is_bot), so attribution and reports leave it out.
func conversionValues(in *incoming, personID, sessionID string) []any {
	e := &in.e
	var id, typ, leadType, currency string
	var value float64
	switch {
	case e.Type == event.FormSubmit && e.Origin != event.OriginServer:
		rules := in.rules
		if rules == nil {
			rules = defaultRules
		}
		isLead, lt := rules.leads.Decide(lead.Submit{Form: e.Form, Path: in.sev.Page.Path, HasEmail: emailHash(e.Traits) != ""})
		if !isLead {
			return nil
		}
		id, typ, leadType = e.ID, "lead", lt
	case e.Type == event.Conversion || e.Type == event.Call && e.Origin == event.OriginServer:
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
		if typ == "lead" && !siteconf.LeadTypes[leadType] {
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
	if e.Type == event.Call && bytes.Contains(e.Props, []byte(`"ended":true`)) {
		version += event.CallEndedRank
	}
	// The address itself is in the traits only for sites that keep addresses (keep_pii,
	// webhook_include_email).
	email, user, address := emailHash(e.Traits), e.Traits[event.TraitUserID], e.Traits[event.TraitEmail]
	if in.unlinked {
		email, user, address = "", "", ""
	}
	var bot uint8
	if e.Bot && (e.Origin == event.OriginWeb || e.Origin == event.OriginPixel) {
		bot = 1
	}
	return []any{
		e.Site, id, typ, leadType, time.Unix(in.ts, 0).UTC(), time.UnixMilli(e.ReceivedAt).UTC(), e.VID, personID,
		email, user, sessionID, value, currency, props, in.id, e.Origin, bot, version, address,
	}
}
