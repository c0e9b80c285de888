package stitcher

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/internal/event"
)

// eventColumns are the touchpoint.events columns the stitcher writes, in append order.
const eventColumns = `site_id, event_id, event_type, visitor_id, person_id, session_id, ts, received_at,
	url, path, referrer, title, event_name, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
	click_id_type, click_id, props, country, region, city, browser, os, device, is_bot,
	screen, language, timezone, ip, origin, form, traits, fbc, fbp, user_agent, version`

// eventBlock holds rows of touchpoint.events column by column: appending whole columns
// to a ClickHouse batch avoids boxing every value of every row.
type eventBlock struct {
	str     [34][]string // the String columns, in eventColumns order
	id      []uuid.UUID
	ts, rcv []time.Time
	bot     []uint8
	version []uint64
}

// kinds of eventColumns by position: 's' String, 'u' UUID, 't' DateTime, 'b' UInt8, 'v' UInt64.
const eventKinds = "sussssttsssssssssssssssssssbssssssssssv"

// newEventBlock sizes a block for n rows, so appending never copies a column.
func newEventBlock(n int) *eventBlock {
	b := &eventBlock{id: make([]uuid.UUID, 0, n), ts: make([]time.Time, 0, n), rcv: make([]time.Time, 0, n),
		bot: make([]uint8, 0, n), version: make([]uint64, 0, n)}
	for i := range b.str {
		b.str[i] = make([]string, 0, n)
	}
	return b
}

func (b *eventBlock) len() int { return len(b.id) }

// reset empties the block, keeping its capacity; clearing drops the strings it held.
func (b *eventBlock) reset() {
	for i := range b.str {
		clear(b.str[i])
		b.str[i] = b.str[i][:0]
	}
	b.id, b.ts, b.rcv, b.bot, b.version = b.id[:0], b.ts[:0], b.rcv[:0], b.bot[:0], b.version[:0]
}

func (b *eventBlock) add(in *incoming, personID, sessionID string, version uint64) {
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
	for i, v := range [...]string{
		e.Site, e.Type, e.VID, personID, sessionID,
		e.URL, p.Path, e.Ref, e.Title, e.Name,
		p.UTM[0], p.UTM[1], p.UTM[2], p.UTM[3], p.UTM[4],
		p.ClickType, p.ClickID, props,
		e.Country, e.Region, e.City, e.Browser, e.OS, e.Device,
		e.Screen, e.Lang, e.TZ, strings.TrimSpace(e.IP), e.Origin, formJSON(e), traitsJSON(e.Traits),
		e.Fbc, e.Fbp, e.UA,
	} {
		b.str[i] = append(b.str[i], v)
	}
	b.id = append(b.id, in.id)
	b.ts = append(b.ts, time.Unix(in.ts, 0).UTC())
	b.rcv = append(b.rcv, time.UnixMilli(e.ReceivedAt).UTC())
	b.bot = append(b.bot, bot)
	b.version = append(b.version, version)
}

// appendTo appends rows lo to hi of the block's columns to an INSERT of eventColumns.
func (b *eventBlock) appendTo(batch driver.Batch, lo, hi int) error {
	s, t := 0, 0
	for i := range len(eventKinds) {
		var v any
		switch eventKinds[i] {
		case 's':
			v, s = b.str[s][lo:hi], s+1
		case 'u':
			v = b.id[lo:hi]
		case 't':
			v, t = [2][]time.Time{b.ts, b.rcv}[t][lo:hi], t+1
		case 'b':
			v = b.bot[lo:hi]
		case 'v':
			v = b.version[lo:hi]
		}
		if err := batch.Column(i).Append(v); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

// formJSON is the form description of a form submit as the events table keeps it, or "".
func formJSON(e *event.Enriched) string {
	if e.Type != event.FormSubmit || e.Form == nil {
		return ""
	}
	b, err := json.Marshal(e.Form)
	if err != nil {
		return ""
	}
	return string(b)
}

// traitsJSON is what the events table keeps of an event's traits: those besides the
// identifiers identities holds (email, its hash, user id), as a flat JSON object, or "".
// Fit rules of lead scoring read them.
func traitsJSON(t event.Traits) string {
	kept := make(map[string]string, len(t))
	for k, v := range t {
		if k != event.TraitEmail && k != event.TraitEmailSHA256 && k != event.TraitUserID {
			kept[k] = v
		}
	}
	if len(kept) == 0 {
		return ""
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return ""
	}
	return string(b)
}
