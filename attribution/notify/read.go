package notify

import (
	"context"
	"fmt"
	"time"

	"touchpoint/attribution/meta"
	"touchpoint/attribution/webhook"
	"touchpoint/internal/chstore"
)

// touches reads the sessions with the given ids (empty ones left out) that started in
// [from, to], deleted ones too: a touch credited before may have been folded into
// another session since.
func (n *Notifier) touches(ctx context.Context, site string, ids []string, from, to time.Time) (map[string]*webhook.Touch, error) {
	var list []string
	seen := map[string]bool{"": true}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			list = append(list, id)
		}
	}
	out := map[string]*webhook.Touch{}
	if len(list) == 0 {
		return out, nil
	}
	rows, err := n.Conn.Query(ctx, `SELECT toString(session_id) AS sid, started_at, channel, source, medium, campaign, term, content,
			landing_url, landing_path, referrer, click_id_type, click_id
		FROM `+n.DB+`.sessions FINAL
		WHERE site_id = ? AND started_at >= ? AND started_at <= ? AND `+chstore.InList("toString(session_id)"), site, from.UTC(), to.UTC(), list)
	if err != nil {
		return nil, fmt.Errorf("cannot read the touches of computed conversions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t webhook.Touch
		if err := rows.Scan(&t.SessionID, &t.Time, &t.Channel, &t.Source, &t.Medium, &t.Campaign, &t.Term, &t.Content,
			&t.LandingURL, &t.LandingPage, &t.Referrer, &t.ClickIDType, &t.ClickID); err != nil {
			return nil, fmt.Errorf("cannot read the touches of computed conversions: %w", err)
		}
		t.Time = t.Time.UTC()
		out[t.SessionID] = &t
	}
	return out, rows.Err()
}

// emails returns the addresses the conversions carried (kept for sites that send them).
func (n *Notifier) emails(ctx context.Context, site string, ids []string) (map[string]string, error) {
	rows, err := n.Conn.Query(ctx, `SELECT conversion_id, email FROM `+n.DB+`.conversions FINAL
		WHERE site_id = ? AND `+chstore.InList("conversion_id")+` AND email != ''`, site, ids)
	if err != nil {
		return nil, fmt.Errorf("cannot read the addresses of conversions: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, email string
		if err := rows.Scan(&id, &email); err != nil {
			return nil, fmt.Errorf("cannot read the addresses of conversions: %w", err)
		}
		out[id] = email
	}
	return out, rows.Err()
}

// personChunk bounds the persons of one query that picks their rows by their ids
// (chstore.OfPersons binds them twice) and keeps the rows resolved to them (once).
const personChunk = chstore.MaxListLen / 3

// emailHashes returns the email hashes linked to each of the persons, the latest linked
// first, at most five. The persons' links are picked by their ids before FINAL and their
// persons' aliases: reading every link of the site cost a read of the whole table at
// each batch of conversions.
func (n *Notifier) emailHashes(ctx context.Context, site string, persons []string) (map[string][]string, error) {
	out := map[string][]string{}
	err := chstore.EachChunk(persons, personChunk, func(part []string) error {
		mine, mineArgs := chstore.OfPersons(n.DB, site, part)
		resolved, args := chstore.CurrentPerson(n.DB, site, fmt.Sprintf(`SELECT person_id, email_sha256, linked_at FROM %s.identities FINAL
			PREWHERE %s WHERE site_id = ? AND email_sha256 != ''`, n.DB, mine), append(mineArgs, site)...)
		rows, err := n.Conn.Query(ctx, fmt.Sprintf(`SELECT person, email_sha256, max(linked_at) AS at FROM (%s) WHERE %s
			GROUP BY person, email_sha256 ORDER BY person, at DESC, email_sha256`, resolved, chstore.InList("person")), append(args, part)...)
		if err != nil {
			return fmt.Errorf("cannot read the email hashes of persons: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p, h string
			var at time.Time
			if err := rows.Scan(&p, &h, &at); err != nil {
				return fmt.Errorf("cannot read the email hashes of persons: %w", err)
			}
			if len(out[p]) < 5 {
				out[p] = append(out[p], h)
			}
		}
		return rows.Err()
	})
	return out, err
}

// clue is one browser event that tells something Meta matches on.
type clue struct {
	at                 time.Time
	fbc, fbp, ip, ua   string
	url                string
	clickType, clickID string
}

// browserTrail reads, per person, the browser events in [from, to] that carry a Meta
// cookie, a user agent or an fbclid, in time order. The persons' events are picked by
// their ids before their persons are resolved: the window is 90 days and more, and every
// browser event of it was resolved at each batch of conversions.
func (n *Notifier) browserTrail(ctx context.Context, site string, persons []string, from, to time.Time) (map[string][]clue, error) {
	out := map[string][]clue{}
	err := chstore.EachChunk(persons, personChunk, func(part []string) error {
		mine, mineArgs := chstore.OfPersons(n.DB, site, part)
		inner := fmt.Sprintf(`SELECT person_id, ts, fbc, fbp, ip, user_agent, url, click_id_type, click_id FROM %s.events
			PREWHERE %s
			WHERE site_id = ? AND ts >= ? AND ts <= ? AND origin IN ('web', 'pixel', 'import') AND is_bot = 0
				AND (fbc != '' OR fbp != '' OR user_agent != '' OR click_id_type = 'fbclid')`, n.DB, mine)
		resolved, args := chstore.CurrentPerson(n.DB, site, inner, append(mineArgs, site, from.UTC(), to.UTC())...)
		rows, err := n.Conn.Query(ctx, fmt.Sprintf(`SELECT person, ts, fbc, fbp, ip, user_agent, url, click_id_type, click_id
			FROM (%s) WHERE %s ORDER BY person, ts`, resolved, chstore.InList("person")), append(args, part)...)
		if err != nil {
			return fmt.Errorf("cannot read the browser ids of persons: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			var c clue
			if err := rows.Scan(&p, &c.at, &c.fbc, &c.fbp, &c.ip, &c.ua, &c.url, &c.clickType, &c.clickID); err != nil {
				return fmt.Errorf("cannot read the browser ids of persons: %w", err)
			}
			out[p] = append(out[p], c)
		}
		return rows.Err()
	})
	return out, err
}

// browserAt is what the trail tells at the time of a conversion: the latest of each id
// seen up to a minute after it (the conversion's own page may be stored a moment later).
func browserAt(trail []clue, at time.Time) meta.Browser {
	var b meta.Browser
	var fbcAt time.Time
	limit := at.Add(time.Minute)
	for _, c := range trail {
		if c.at.After(limit) {
			break
		}
		if c.fbc != "" {
			b.Fbc, fbcAt = c.fbc, c.at
		}
		if c.fbp != "" {
			b.Fbp = c.fbp
		}
		if c.ua != "" {
			b.UA, b.IP, b.URL = c.ua, c.ip, c.url
		}
		if c.clickType == "fbclid" && c.clickID != "" {
			b.Fbclid, b.FbclidAt = c.clickID, c.at
		}
	}
	if b.Fbclid != "" && b.FbclidAt.After(fbcAt) && !hasClick(b.Fbc, b.Fbclid) {
		b.Fbc = "" // a newer ad click than the cookie read: its fbc is made from the fbclid
	}
	return b
}

// hasClick reports whether fbc is the cookie of the click fbclid.
func hasClick(fbc, fbclid string) bool {
	return len(fbc) > len(fbclid) && fbc[len(fbc)-len(fbclid)-1:] == "."+fbclid
}
