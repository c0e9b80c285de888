package stitcher

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/stitcher/lead"
	"touchpoint/stitcher/session"
)

// Restitcher applies the current site rules to data stored in ClickHouse (Restitch): a
// maintenance job beside the stitcher, which reads no topic.
type Restitcher struct {
	cfg   *Config
	rules rulebook
	auth  chstore.Config
	*clickHouse
}

// NewRestitcher builds a Restitcher of the database ch names; ch's user and password also
// reach each shard of a cluster directly, where deletions are made.
func NewRestitcher(cfg *Config, conn driver.Conn, ch chstore.Config) *Restitcher {
	return &Restitcher{cfg: cfg, rules: newRulebook(cfg.Sites), auth: ch, clickHouse: &clickHouse{conn: conn, db: ch.Database}}
}

// RestitchStats say what a restitch changed.
type RestitchStats struct {
	Visitors, Events, Sessions, Moved, Vanished int
	LeadsAdded, LeadsRemoved, Conversions       int // conversions rewritten (session, bot flag, lead type)
}

// storedRow is a stored browser event as a restitch reads it.
type storedRow struct {
	ev                                 session.Event
	vid, typ, path, person, origin, fm string
	receivedAt                         time.Time
	version                            uint64
}

// Restitch applies the site's current rules to the browser events stored for the days
// [from, to] (to inclusive): it splits them into sessions again (and writes every session,
// with its touchpoint, again), moves events whose session changed, marks vanished sessions
// deleted, decides again which form submits are leads, and sets the bot flag of browser
// conversions from their events. Credit of conversions that stop counting is removed;
// `attribution rebuild` over the same days then credits the rest anew. Running it twice
// changes nothing more.
//
// A visitor's events are taken from the last gap of more than 30 minutes before from to the
// first such gap after to (at most a day beyond): sessions are never longer than that, so
// those outside are not affected. Submits stored without their form description (before it
// was kept) change only where a lead_forms rule on the page path decides them.
func (st *Restitcher) Restitch(ctx context.Context, siteID string, from, to time.Time) (RestitchStats, error) {
	var stats RestitchStats
	end := to.AddDate(0, 0, 1)
	vids, err := st.visitorsBetween(ctx, siteID, from, end)
	if err != nil {
		return stats, err
	}
	stats.Visitors = len(vids)
	pad := time.Duration(session.MaxLength+session.Timeout) * time.Second
	for chunk := range slices.Chunk(vids, maxListLen) {
		rows, err := st.storedRows(ctx, siteID, chunk, from.Add(-pad), end.Add(pad))
		if err != nil {
			return stats, err
		}
		if err := st.restitchChunk(ctx, siteID, rows, from, end, &stats); err != nil {
			return stats, err
		}
	}
	return stats, nil
}

func (st *Restitcher) visitorsBetween(ctx context.Context, siteID string, from, end time.Time) ([]string, error) {
	q := fmt.Sprintf(`SELECT DISTINCT visitor_id FROM %s.events
		WHERE site_id = ? AND ts >= ? AND ts < ? AND origin != 'server' AND visitor_id != '' ORDER BY visitor_id`, st.db)
	rows, err := st.conn.Query(ctx, q, siteID, from, end)
	if err != nil {
		return nil, fmt.Errorf("cannot read visitors: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// storedRows reads the newest version of each browser event of visitors vids in [lo, hi),
// grouped by visitor and sorted.
func (st *Restitcher) storedRows(ctx context.Context, siteID string, vids []string, lo, hi time.Time) (map[string][]storedRow, error) {
	q := fmt.Sprintf(`SELECT visitor_id, event_id, toUnixTimestamp(ts), event_type, url, path, referrer, is_bot, session_id,
			person_id, origin, form, received_at, version
		FROM %s.events WHERE site_id = ? AND `+chstore.InList("visitor_id")+` AND ts >= ? AND ts < ? AND origin != 'server'`, st.db)
	rows, err := st.conn.Query(ctx, q, siteID, vids, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("cannot read events: %w", err)
	}
	defer rows.Close()
	referrals := st.rules.of(siteID).referrals
	newest := map[uuid.UUID]storedRow{}
	for rows.Next() {
		var r storedRow
		var id uuid.UUID
		var ts uint32
		var bot uint8
		var url, ref, sess string
		if err := rows.Scan(&r.vid, &id, &ts, &r.typ, &url, &r.path, &ref, &bot, &sess, &r.person, &r.origin, &r.fm, &r.receivedAt, &r.version); err != nil {
			return nil, fmt.Errorf("cannot read events: %w", err)
		}
		if cur, ok := newest[id]; ok && cur.version > r.version {
			continue
		}
		r.ev = session.NewEvent(id, int64(ts), r.typ == event.Pageview, bot == 1, url, ref, referrals)
		r.ev.Session, _ = uuid.Parse(sess)
		newest[id] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read events: %w", err)
	}
	out := map[string][]storedRow{}
	for _, r := range newest {
		out[r.vid] = append(out[r.vid], r)
	}
	for _, rs := range out {
		sort.Slice(rs, func(i, j int) bool { return session.Before(&rs[i].ev, &rs[j].ev) })
	}
	return out, nil
}

// restitchChunk splits and decides again the events of a chunk of visitors and writes
// what changed.
func (st *Restitcher) restitchChunk(ctx context.Context, siteID string, byVisitor map[string][]storedRow, from, end time.Time, stats *RestitchStats) error {
	version := uint64(time.Now().UnixNano())
	var sessions [][]any
	vanished := 0
	var rws []rewrite
	var submits []storedRow                 // browser form submits and conversions in the range
	newSession := map[uuid.UUID]uuid.UUID{} // event -> its session now
	for vid, rs := range byVisitor {
		lo, hi := cut(rs, from.Unix(), end.Unix())
		if lo > hi {
			continue
		}
		rs = rs[lo : hi+1]
		evs := make([]session.Event, len(rs))
		old := map[uuid.UUID]int64{}
		row := map[uuid.UUID]*storedRow{}
		for i := range rs {
			evs[i] = rs[i].ev
			row[rs[i].ev.ID] = &rs[i]
			if s := rs[i].ev.Session; s != uuid.Nil {
				if t, ok := old[s]; !ok || rs[i].ev.TS < t {
					old[s] = rs[i].ev.TS
				}
			}
			if ts := rs[i].ev.TS; ts >= from.Unix() && ts < end.Unix() && (rs[i].typ == event.FormSubmit || rs[i].typ == event.Conversion) {
				submits = append(submits, rs[i])
			}
		}
		stats.Events += len(evs)
		evs, ss := session.Split(siteID, vid, evs)
		kept := map[uuid.UUID]bool{}
		for _, s := range ss {
			kept[s.ID] = true
			first := evs[s.First]
			for i := s.First; i <= s.Last; i++ {
				newSession[evs[i].ID] = s.ID
				if evs[i].Session != s.ID {
					rws = append(rws, rewrite{siteID, evs[i].ID, s.ID})
				}
			}
			r := sessionRow{site: siteID, vid: vid, person: row[first.ID].person, s: s, first: &first, attr: session.Attribute(&first)}
			sessions = append(sessions, r.values(version))
		}
		for id, start := range old {
			if !kept[id] {
				r := sessionRow{site: siteID, vid: vid, deleted: true, s: session.Session{ID: id, Start: start, End: start}, first: &session.Event{}}
				sessions = append(sessions, r.values(version))
				vanished++
			}
		}
	}
	stats.Sessions += len(sessions) - vanished
	stats.Vanished += vanished
	stats.Moved += len(rws)
	if err := st.insertBlock(ctx, "sessions", sessionColumns, len(sessions), appendRows(sessions)); err != nil {
		return fmt.Errorf("cannot write sessions: %w", err)
	}
	if err := st.moveEvents(ctx, rws, version); err != nil {
		return err
	}
	return st.redecide(ctx, siteID, submits, newSession, stats)
}

// cut returns the indices of the first and last of the sorted rows that a restitch of
// [from, end) reads again: from the start of the run of events (no gap of more than 30
// minutes) that holds the first event at or after from, to the end of the run that holds
// the last event before end. hi < lo when no event is in the range.
func cut(rs []storedRow, from, end int64) (lo, hi int) {
	lo = sort.Search(len(rs), func(i int) bool { return rs[i].ev.TS >= from })
	hi = sort.Search(len(rs), func(i int) bool { return rs[i].ev.TS >= end }) - 1
	if lo > hi {
		return 1, 0
	}
	for lo > 0 && rs[lo].ev.TS-rs[lo-1].ev.TS <= session.Timeout {
		lo--
	}
	for hi < len(rs)-1 && rs[hi+1].ev.TS-rs[hi].ev.TS <= session.Timeout {
		hi++
	}
	return lo, hi
}

// storedConversion is what redecide reads of a browser conversion row.
type storedConversion struct {
	id, typ, leadType, session string
	bot                        uint8
	hasEmail                   bool
}

// redecide applies the lead rules to the stored form submits, and session and bot flag to
// the stored browser conversions, of one chunk.
func (st *Restitcher) redecide(ctx context.Context, siteID string, rows []storedRow, sessionOf map[uuid.UUID]uuid.UUID, stats *RestitchStats) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ev.ID.String()
	}
	stored, err := st.storedConversions(ctx, siteID, ids)
	if err != nil {
		return err
	}
	rules := st.rules.of(siteID).leads
	var added [][]any
	var gone, updIDs, updSessions, updLeadTypes, bots []string
	for i := range rows {
		r := &rows[i]
		id := r.ev.ID.String()
		c, has := stored[id]
		sess := sessionOf[r.ev.ID].String()
		leadType := c.leadType
		if r.typ == event.FormSubmit {
			isLead, lt, known := decideStored(rules, r, has && c.hasEmail)
			switch {
			case !known:
			case isLead && !has:
				var bot uint8
				if r.ev.Bot {
					bot = 1
				}
				version := uint64(max(r.receivedAt.UnixMilli(), 0)) // as the stitcher writes it
				if r.origin == event.OriginImport {
					version += event.ServerRank
				}
				added = append(added, []any{siteID, id, "lead", lt, time.Unix(r.ev.TS, 0).UTC(), r.receivedAt, r.vid, r.person,
					"", "", sess, 0.0, "", "{}", r.ev.ID, r.origin, bot, version, ""})
				continue
			case !isLead && has && c.typ == "lead":
				gone = append(gone, c.id)
				continue
			case isLead:
				leadType = lt
			}
		}
		if !has {
			continue
		}
		bot := r.ev.Bot && (r.origin == event.OriginWeb || r.origin == event.OriginPixel)
		if c.session != sess || c.leadType != leadType || (c.bot == 1) != bot {
			updIDs, updSessions, updLeadTypes = append(updIDs, c.id), append(updSessions, sess), append(updLeadTypes, leadType)
			if bot {
				bots = append(bots, c.id)
			}
		}
	}
	if err := st.insertBlock(ctx, "conversions", conversionColumns, len(added), appendRows(added)); err != nil {
		return fmt.Errorf("cannot write conversions: %w", err)
	}
	stats.LeadsAdded += len(added)
	if err := st.rewriteConversions(ctx, siteID, updIDs, updSessions, updLeadTypes, bots); err != nil {
		return err
	}
	stats.Conversions += len(updIDs)
	if err := st.deleteConversions(ctx, siteID, gone); err != nil {
		return err
	}
	stats.LeadsRemoved += len(gone)
	return st.removeCredit(ctx, siteID, append(gone, bots...))
}

// decideStored decides whether a stored submit is a lead. known is false when the submit
// was stored without its form description and no rule decides it by its page path alone:
// it then stays as it is.
func decideStored(rules lead.Rules, r *storedRow, hasEmail bool) (isLead bool, leadType string, known bool) {
	if r.fm == "" {
		if rule := rules.Rule(lead.Submit{Path: r.path}); rule != nil {
			return rule.Lead, rule.LeadType, true
		}
		return false, "", false
	}
	var f event.Form
	if err := json.Unmarshal([]byte(r.fm), &f); err != nil {
		return false, "", false
	}
	isLead, leadType = rules.Decide(lead.Submit{Form: &f, Path: r.path, HasEmail: hasEmail})
	return isLead, leadType, true
}

// storedConversions reads the current browser conversion rows of the given event ids.
func (st *Restitcher) storedConversions(ctx context.Context, siteID string, eventIDs []string) (map[string]storedConversion, error) {
	q := fmt.Sprintf(`SELECT toString(event_id), conversion_id, type, lead_type, session_id, is_bot, email_sha256 != ''
		FROM %s.conversions FINAL WHERE site_id = ? AND origin IN ('web', 'pixel', 'import') AND `+chstore.InList("toString(event_id)"), st.db)
	rows, err := st.conn.Query(ctx, q, siteID, eventIDs)
	if err != nil {
		return nil, fmt.Errorf("cannot read conversions: %w", err)
	}
	defer rows.Close()
	out := map[string]storedConversion{}
	for rows.Next() {
		var ev string
		var c storedConversion
		var email uint8
		if err := rows.Scan(&ev, &c.id, &c.typ, &c.leadType, &c.session, &c.bot, &email); err != nil {
			return nil, fmt.Errorf("cannot read conversions: %w", err)
		}
		c.hasEmail = email == 1
		out[ev] = c
	}
	return out, rows.Err()
}

// rewriteConversions writes conversion rows again with another session, lead type and bot
// flag (bots lists the ids flagged), copying everything else inside ClickHouse.
func (st *Restitcher) rewriteConversions(ctx context.Context, siteID string, ids, sessions, leadTypes, bots []string) error {
	q := fmt.Sprintf(`INSERT INTO %[1]s.conversions (%[2]s)
		SELECT site_id, conversion_id, type, transform(conversion_id, ?, ?, lead_type), occurred_at, received_at, visitor_id, person_id,
			email_sha256, user_id, transform(conversion_id, ?, ?, session_id), value, currency, props, event_id, origin,
			toUInt8(has(?, conversion_id)), version + 1, email
		FROM %[1]s.conversions FINAL WHERE site_id = ? AND `+chstore.InList("conversion_id"), st.db, conversionColumns)
	if len(bots) == 0 {
		bots = []string{""} // an empty array literal has no type ClickHouse can compare
	}
	for i := 0; i < len(ids); i += maxListLen / 4 {
		j := min(len(ids), i+maxListLen/4)
		if err := st.conn.Exec(ctx, q, ids[i:j], leadTypes[i:j], ids[i:j], sessions[i:j], bots, siteID, ids[i:j]); err != nil {
			return fmt.Errorf("cannot rewrite conversions: %w", err)
		}
	}
	return nil
}

// deleteConversions deletes the rows of form submits that are no leads any more, and waits
// until ClickHouse has done so, so that a rebuild that follows does not read them.
func (st *Restitcher) deleteConversions(ctx context.Context, siteID string, ids []string) error {
	issued := time.Now()
	for chunk := range slices.Chunk(ids, maxListLen) {
		if err := chstore.Delete(ctx, st.conn, st.auth, st.db, "conversions", `site_id = ? AND has(?, conversion_id) AND type = 'lead'`, siteID, chunk); err != nil {
			return fmt.Errorf("cannot delete conversions: %w", err)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return chstore.AwaitMutations(ctx, st.conn, st.db, []string{"conversions"}, issued)
}

// removeCredit marks every credited touch of the given conversions removed, with every
// model's credit 0, as the attribution engine does for a touch that dropped out.
func (st *Restitcher) removeCredit(ctx context.Context, siteID string, ids []string) error {
	q := fmt.Sprintf(`INSERT INTO %[1]s.touch_credits (site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id,
			visitor_id, session_id, touch_at, channel, source, medium, campaign, term, content, landing_page, country, device, value,
			currency, credit_first_click, credit_last_click, credit_last_non_direct, credit_linear, credit_time_decay,
			credit_position_based, credit_data_driven, removed, computed_at, version)
		SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, visitor_id, session_id, touch_at, channel,
			source, medium, campaign, term, content, landing_page, country, device, value, currency, toFloat64(0), toFloat64(0),
			toFloat64(0), toFloat64(0), toFloat64(0), toFloat64(0), toFloat64(0), toUInt8(1), now(), toUInt64(?)
		FROM %[1]s.touch_credits FINAL WHERE site_id = ? AND removed = 0 AND `+chstore.InList("conversion_id"), st.db)
	for chunk := range slices.Chunk(ids, maxListLen) {
		if err := st.conn.Exec(ctx, q, uint64(time.Now().UnixNano()), siteID, chunk); err != nil {
			return fmt.Errorf("cannot remove credit: %w", err)
		}
	}
	return nil
}

// String says what a restitch did.
func (s RestitchStats) String() string {
	return fmt.Sprintf("%d visitors, %d events, %d sessions written (%d vanished), %d events moved, %d leads added, %d removed, %d conversions rewritten",
		s.Visitors, s.Events, s.Sessions, s.Vanished, s.Moved, s.LeadsAdded, s.LeadsRemoved, s.Conversions)
}
