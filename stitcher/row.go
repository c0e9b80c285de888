package stitcher

import (
	"strings"
	"time"
)

// eventColumns are the touchpoint.events columns the stitcher writes, in append order.
const eventColumns = `site_id, event_id, event_type, visitor_id, person_id, session_id, ts, received_at,
	url, path, referrer, title, event_name, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
	click_id_type, click_id, props, country, region, city, browser, os, device, is_bot,
	screen, language, timezone, ip, origin, version`

// eventValues is one row of touchpoint.events.
func eventValues(in *incoming, personID, sessionID string, version uint64) []any {
	e := &in.e
	p := &in.sev.Page
	props := string(e.Props)
	if props == "" {
		props = "{}"
	}
	var bot uint8
	if e.Bot {
		bot = 1
	}
	return []any{
		e.Site, in.id, e.Type, e.VID, personID, sessionID,
		time.Unix(in.ts, 0).UTC(), time.UnixMilli(e.ReceivedAt).UTC(),
		e.URL, p.Path, e.Ref, e.Title, e.Name,
		p.UTM[0], p.UTM[1], p.UTM[2], p.UTM[3], p.UTM[4],
		p.ClickType, p.ClickID, props,
		e.Country, e.Region, e.City, e.Browser, e.OS, e.Device, bot,
		e.Screen, e.Lang, e.TZ, strings.TrimSpace(e.IP), e.Origin, version,
	}
}
