package stitcher

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"touchpoint/stitcher/session"
)

type visitorKey struct{ site, vid string }

// visitorState is what the stitcher remembers of a visitor between batches: the events of
// their last session, sorted, each with the session it is stored with. An event sorting
// before the first of them may change earlier sessions, so the state is then read again
// from ClickHouse, as it is after a restart or when the visitor's partition was consumed
// elsewhere in between (partition epoch changed).
type visitorState struct {
	part   int
	epoch  uint64
	events []session.Event
}

// journeys keeps visitor states and notices when a partition's offsets jump (a rebalance
// or a replay): states filled from that partition before are not trusted any more.
type journeys struct {
	states     map[visitorKey]*visitorState
	epochs     map[int]uint64
	nextOffset map[int]int64
	maxStates  int
}

func newJourneys(maxStates int) *journeys {
	return &journeys{states: map[visitorKey]*visitorState{}, epochs: map[int]uint64{}, nextOffset: map[int]int64{}, maxStates: maxStates}
}

// observe records a consumed offset of partition part.
func (j *journeys) observe(part int, offset int64) {
	if next, ok := j.nextOffset[part]; ok && next != offset {
		j.epochs[part]++
	}
	j.nextOffset[part] = offset + 1
}

// forgetOffsets makes the next offset of every partition unknown: after a failed batch the
// messages are read again, and whatever another member did in between is unknown.
func (j *journeys) forgetAll() {
	j.states = map[visitorKey]*visitorState{}
	j.nextOffset = map[int]int64{}
}

// sessionRow is one row of touchpoint.sessions; person is filled in once persons are known.
type sessionRow struct {
	site, vid, person string
	s                 session.Session
	first             *session.Event
	attr              session.Attribution
	deleted           bool
}

// rewrite moves a stored event to another session.
type rewrite struct {
	site    string
	event   uuid.UUID
	session uuid.UUID
}

// journeyResult is what sessionizing a batch produced.
type journeyResult struct {
	sessions []sessionRow
	rewrites []rewrite
}

// sessionize assigns the batch's browser events to sessions (incoming.session) and returns
// the session rows to write (new, changed and vanished ones) and the stored events whose
// session changed.
func (st *Stitcher) sessionize(ctx context.Context, ins []incoming) (journeyResult, error) {
	j := st.journeys
	var res journeyResult
	byVisitor := map[visitorKey][]*incoming{}
	var order []visitorKey
	for i := range ins {
		in := &ins[i]
		if !in.sessionable() {
			continue
		}
		k := visitorKey{in.e.Site, in.e.VID}
		if _, ok := byVisitor[k]; !ok {
			order = append(order, k)
		}
		byVisitor[k] = append(byVisitor[k], in)
	}
	// Visitors whose state must be read from ClickHouse, by site, with their earliest new event.
	need := map[string]map[string]session.Event{}
	for _, k := range order {
		evs := byVisitor[k]
		earliest := evs[0].sev
		for _, in := range evs[1:] {
			if before(in.sev, earliest) {
				earliest = in.sev
			}
		}
		s := j.states[k]
		if s != nil && s.part == evs[0].part && s.epoch == j.epochs[s.part] && len(s.events) > 0 && !before(earliest, s.events[0]) {
			continue
		}
		if need[k.site] == nil {
			need[k.site] = map[string]session.Event{}
		}
		need[k.site][k.vid] = earliest
		delete(j.states, k)
	}
	for site, all := range need {
		for _, vids := range chunkMap(all, maxListLen) {
			loaded, err := st.loadVisitors(ctx, site, vids)
			if err != nil {
				return res, err
			}
			for vid := range vids {
				k := visitorKey{site, vid}
				part := byVisitor[k][0].part
				j.states[k] = &visitorState{part: part, epoch: j.epochs[part], events: loaded[vid]}
			}
		}
	}
	for _, k := range order {
		st.sessionizeVisitor(k, byVisitor[k], &res)
	}
	if len(j.states) > j.maxStates {
		// Forgetting costs a read from ClickHouse when the visitor returns, nothing more.
		j.states = map[visitorKey]*visitorState{}
	}
	return res, nil
}

func (st *Stitcher) sessionizeVisitor(k visitorKey, news []*incoming, res *journeyResult) {
	state := st.journeys.states[k]
	stored := map[uuid.UUID]uuid.UUID{} // stored event -> its stored session
	old := map[uuid.UUID]int64{}        // stored session -> its start
	all := make([]session.Event, 0, len(state.events)+len(news))
	for _, e := range state.events {
		stored[e.ID] = e.Session
		if e.Session != uuid.Nil {
			if t, ok := old[e.Session]; !ok || e.TS < t {
				old[e.Session] = e.TS
			}
		}
		all = append(all, e)
	}
	isNew := make(map[uuid.UUID]*incoming, len(news))
	for _, in := range news {
		isNew[in.id] = in
		all = append(all, in.sev)
	}
	evs, ss := session.Split(k.site, k.vid, all)
	kept := map[uuid.UUID]bool{}
	for si := range ss {
		s := ss[si]
		kept[s.ID] = true
		changed := false
		for i := s.First; i <= s.Last; i++ {
			id := evs[i].ID
			switch {
			case isNew[id] != nil:
				isNew[id].session = s.ID
				changed = true
			case stored[id] != s.ID:
				res.rewrites = append(res.rewrites, rewrite{k.site, id, s.ID})
				changed = true
			}
			evs[i].Session = s.ID
		}
		if changed {
			first := evs[s.First]
			res.sessions = append(res.sessions, sessionRow{site: k.site, vid: k.vid, s: s, first: &first,
				attr: session.Attribute(first.Page, first.Ref)})
		}
	}
	for id, start := range old {
		if !kept[id] {
			res.sessions = append(res.sessions, sessionRow{site: k.site, vid: k.vid, deleted: true,
				s: session.Session{ID: id, Start: start, End: start}, first: &session.Event{}})
		}
	}
	last := ss[len(ss)-1]
	state.events = append([]session.Event(nil), evs[last.First:]...)
	// Only the first event of a session is read for its landing page and referrer, and only
	// an event with a touch can become a first one later: the others need not keep URLs.
	for i := 1; i < len(state.events); i++ {
		if e := &state.events[i]; e.Touch.IsZero() {
			e.URL, e.Ref, e.Page = "", "", session.Page{}
		}
	}
}

// before reports whether a sorts before b in session order.
func before(a, b session.Event) bool {
	if a.TS != b.TS {
		return a.TS < b.TS
	}
	return bytes.Compare(a.ID[:], b.ID[:]) < 0
}

// loadVisitors reads from ClickHouse the stored events of each visitor that a batch's
// earliest event can affect: those of the sessions that end at most 30 minutes before it and
// of all later sessions. Sessions are disjoint in time, so the first of them starts a session
// whatever comes after, and sessionizing from there reproduces the stored sessions.
func (st *Stitcher) loadVisitors(ctx context.Context, site string, earliest map[string]session.Event) (map[string][]session.Event, error) {
	st.awaitInsert(func(t *touched) bool {
		for vid := range earliest {
			if t.visitors[visitorKey{site, vid}] {
				return true
			}
		}
		return false
	})
	vids := make([]string, 0, len(earliest))
	low := int64(1<<62 - 1)
	for vid, e := range earliest {
		vids = append(vids, vid)
		low = min(low, e.TS-session.Timeout)
	}
	q := fmt.Sprintf(`SELECT visitor_id, toUnixTimestamp(started_at), toUnixTimestamp(ended_at) FROM (
		SELECT visitor_id, started_at, ended_at, deleted FROM %s.sessions FINAL
		WHERE site_id = ? AND started_at >= toDateTime(?) AND visitor_id IN (SELECT arrayJoin(?)))
		WHERE deleted = 0 AND ended_at >= toDateTime(?)`, st.db)
	// No session lasts longer than MaxLength: the range of started_at bounds the read.
	rows, err := st.conn.Query(ctx, q, site, low-session.MaxLength, vids, low)
	if err != nil {
		return nil, fmt.Errorf("cannot read sessions: %w", err)
	}
	from := map[string]int64{}
	for rows.Next() {
		var vid string
		var start, end uint32
		if err := rows.Scan(&vid, &start, &end); err != nil {
			rows.Close()
			return nil, err
		}
		if int64(end) < earliest[vid].TS-session.Timeout {
			continue
		}
		if f, ok := from[vid]; !ok || int64(start) < f {
			from[vid] = int64(start)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read sessions: %w", err)
	}
	out := map[string][]session.Event{}
	if len(from) == 0 {
		return out, nil
	}
	vids, low = vids[:0], int64(1<<62-1)
	for vid, f := range from {
		vids = append(vids, vid)
		low = min(low, f)
	}
	q = fmt.Sprintf(`SELECT visitor_id, toString(event_id), toUnixTimestamp(ts), event_type, url, referrer, is_bot, session_id
		FROM %s.events FINAL WHERE site_id = ? AND visitor_id IN (SELECT arrayJoin(?)) AND ts >= toDateTime(?) AND origin != 'server'`, st.db)
	rows, err = st.conn.Query(ctx, q, site, vids, low)
	if err != nil {
		return nil, fmt.Errorf("cannot read events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var vid, id, typ, u, ref, sess string
		var ts uint32
		var bot uint8
		if err := rows.Scan(&vid, &id, &ts, &typ, &u, &ref, &bot, &sess); err != nil {
			return nil, err
		}
		if int64(ts) < from[vid] {
			continue
		}
		eid, err := uuid.Parse(id)
		if err != nil {
			continue
		}
		e := session.NewEvent(eid, int64(ts), typ == "pageview", bot == 1, u, ref)
		e.Session, _ = uuid.Parse(sess)
		out[vid] = append(out[vid], e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read events: %w", err)
	}
	for vid := range out {
		out[vid] = session.Sort(out[vid])
	}
	return out, nil
}

func (r *sessionRow) values(version uint64) []any {
	f := r.first
	var bot, del uint8
	if r.s.Bot {
		bot = 1
	}
	if r.deleted {
		del = 1
	}
	return []any{
		r.site, r.s.ID, r.vid, r.person, time.Unix(r.s.Start, 0).UTC(), time.Unix(r.s.End, 0).UTC(),
		f.URL, f.Page.Path, f.Ref, r.attr.ReferrerDomain, r.attr.Source, r.attr.Medium, r.attr.Campaign, r.attr.Term, r.attr.Content,
		f.Page.ClickType, f.Page.ClickID, r.attr.Channel, r.s.Pageviews, r.s.Events, bot, f.ID, del, version,
	}
}

const sessionColumns = `site_id, session_id, visitor_id, person_id, started_at, ended_at, landing_url, landing_path,
	referrer, referrer_domain, source, medium, campaign, term, content, click_id_type, click_id, channel,
	pageviews, events, is_bot, first_event_id, deleted, version`
