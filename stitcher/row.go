package stitcher

import (
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
)

// eventColumns are the touchpoint.events columns the stitcher writes, in append order.
const eventColumns = `site_id, event_id, event_type, visitor_id, person_id, session_id, ts, received_at,
	url, path, referrer, title, event_name, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
	click_id_type, click_id, props, country, region, city, browser, os, device, is_bot,
	screen, language, timezone, ip, origin, version`

// clickIDs are the click-id URL parameters in the order they are looked for.
var clickIDs = []string{"gclid", "gbraid", "wbraid", "dclid", "msclkid", "fbclid", "ttclid", "li_fat_id", "twclid"}

// eventRow is one row of touchpoint.events.
type eventRow struct {
	e                   *event.Enriched
	id                  uuid.UUID
	path                string
	utm                 [5]string // source, medium, campaign, term, content
	clickType, clickID  string
	personID, sessionID string
	version             uint64
}

func newEventRow(e *event.Enriched, version uint64) (eventRow, error) {
	id, err := uuid.Parse(e.ID)
	if err != nil {
		return eventRow{}, err
	}
	r := eventRow{e: e, id: id, version: version}
	if u, err := url.Parse(e.URL); err == nil {
		r.path = u.Path
		q := u.Query()
		for i, k := range []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"} {
			r.utm[i] = q.Get(k)
		}
		for _, k := range clickIDs {
			if v := q.Get(k); v != "" {
				r.clickType, r.clickID = k, v
				break
			}
		}
	}
	return r, nil
}

func (r *eventRow) values() []any {
	e := r.e
	props := string(e.Props)
	if props == "" {
		props = "{}"
	}
	var bot uint8
	if e.Bot {
		bot = 1
	}
	return []any{
		e.Site, r.id, e.Type, e.VID, r.personID, r.sessionID,
		time.UnixMilli(e.TS).UTC(), time.UnixMilli(e.ReceivedAt).UTC(),
		e.URL, r.path, e.Ref, e.Title, e.Name,
		r.utm[0], r.utm[1], r.utm[2], r.utm[3], r.utm[4],
		r.clickType, r.clickID, props,
		e.Country, e.Region, e.City, e.Browser, e.OS, e.Device, bot,
		e.Screen, e.Lang, e.TZ, strings.TrimSpace(e.IP), e.Origin, r.version,
	}
}
