package stitcher

import (
	"context"
	"slices"
	"strings"
	"time"
	"unique"

	"github.com/google/uuid"

	"touchpoint/stitcher/session"
)

type visitorKey struct{ site, vid string }

// detached is k with copies of its strings, for a key the stitcher keeps between batches:
// a decoded event's strings point into its Kafka message, which they would keep alive.
func (k visitorKey) detached() visitorKey {
	return visitorKey{unique.Make(k.site).Value(), strings.Clone(k.vid)}
}

// visitorState is what the stitcher remembers of a visitor between batches: the events of
// their last session, sorted, each with the session it is stored with. An event sorting
// before the first of them may change earlier sessions, so the state is then read again
// from ClickHouse, as it is after a restart or when the visitor's partition was consumed
// elsewhere in between (partition epoch changed).
type visitorState struct {
	part   int
	epoch  uint64
	events []session.Event
	attr   session.Attribution // of the session whose first event is attrOf
	attrOf uuid.UUID
}

// visitorStates holds each visitor's last session and notices when a partition's offsets jump (a rebalance
// or a replay): states filled from that partition before are not trusted any more.
type visitorStates struct {
	states     map[visitorKey]*visitorState
	epochs     map[int]uint64
	nextOffset map[int]int64
	maxStates  int
}

func newVisitorStates(maxStates int) *visitorStates {
	return &visitorStates{states: map[visitorKey]*visitorState{}, epochs: map[int]uint64{}, nextOffset: map[int]int64{}, maxStates: maxStates}
}

// observe records a consumed offset of partition part.
func (j *visitorStates) observe(part int, offset int64) {
	if next, ok := j.nextOffset[part]; ok && next != offset {
		j.epochs[part]++
	}
	j.nextOffset[part] = offset + 1
}

// forgetOffsets makes the next offset of every partition unknown: after a failed batch the
// messages are read again, and whatever another member did in between is unknown.
func (j *visitorStates) forgetAll() {
	j.states = map[visitorKey]*visitorState{}
	j.nextOffset = map[int]int64{}
}

// sessionAt is the session visitor vid of site is in at ts (seconds) as far as the
// visitor's state tells: the session of its latest event at or before ts, unless that
// event is more than session.Timeout older. "" when unknown.
func (j *visitorStates) sessionAt(site, vid string, ts int64) string {
	s := j.states[visitorKey{site, vid}]
	if s == nil {
		return ""
	}
	best := -1
	for i := range s.events {
		if s.events[i].TS <= ts {
			best = i
		}
	}
	if best < 0 || ts-s.events[best].TS > session.Timeout || s.events[best].Session == uuid.Nil {
		return ""
	}
	return s.events[best].Session.String()
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

// sessionized is what sessionizing a batch produced.
type sessionized struct {
	sessions []sessionRow
	rewrites []rewrite
	visitors map[visitorKey]int32 // the visitors with browser events in the batch
}

// visitorEvents is one visitor's browser events in a batch.
type visitorEvents struct {
	key      visitorKey
	evs      []*incoming
	earliest *session.Event // the first of evs in session order
	state    *visitorState
}

// groupByVisitor groups a batch's browser events by visitor, visitors in the order they
// first appear, and returns each visitor's position in that order. A batch holds tens of
// thousands of visitors: one map lookup per event and one slice shared by all visitors
// keep this cheap.
func groupByVisitor(ins []incoming) ([]visitorEvents, map[visitorKey]int32) {
	at := make(map[visitorKey]int32, len(ins)/4)
	which := make([]int32, len(ins))
	var vs []visitorEvents
	var counts []int
	for i := range ins {
		in := &ins[i]
		if !in.sessionable() {
			which[i] = -1
			continue
		}
		k := visitorKey{in.e.Site, in.e.VID}
		v, ok := at[k]
		if !ok {
			v = int32(len(vs))
			at[k] = v
			vs = append(vs, visitorEvents{key: k})
			counts = append(counts, 0)
		}
		which[i] = v
		counts[v]++
	}
	all := make([]*incoming, 0, len(ins))
	for v, n := range counts {
		vs[v].evs = all[len(all) : len(all) : len(all)+n]
		all = all[:len(all)+n]
	}
	for i, v := range which {
		if v >= 0 {
			vs[v].evs = append(vs[v].evs, &ins[i])
		}
	}
	for v := range vs {
		e := &vs[v].evs[0].sev
		for _, in := range vs[v].evs[1:] {
			if session.Before(&in.sev, e) {
				e = &in.sev
			}
		}
		vs[v].earliest = e
	}
	return vs, at
}

// sessionize assigns the batch's browser events to sessions (incoming.session) and returns
// the session rows to write (new, changed and vanished ones) and the stored events whose
// session changed.
func (st *Stitcher) sessionize(ctx context.Context, ins []incoming) (sessionized, error) {
	j := st.states
	var res sessionized
	vs, at := groupByVisitor(ins)
	res.visitors = at
	res.sessions = make([]sessionRow, 0, len(vs)) // about one a visitor: growing it copied large rows
	// Visitors whose state must be read from ClickHouse, by site.
	need := map[string][]int{}
	for v := range vs {
		k, evs := vs[v].key, vs[v].evs
		s := j.states[k]
		if s != nil && s.part == evs[0].part && s.epoch == j.epochs[s.part] && len(s.events) > 0 && !session.Before(vs[v].earliest, &s.events[0]) {
			vs[v].state = s
			continue
		}
		need[k.site] = append(need[k.site], v)
		delete(j.states, k)
	}
	for site, all := range need {
		for chunk := range slices.Chunk(all, maxListLen) {
			earliest := make(map[string]int64, len(chunk))
			for _, v := range chunk {
				earliest[vs[v].key.vid] = vs[v].earliest.TS
			}
			loaded, err := st.loadVisitors(ctx, site, earliest)
			if err != nil {
				return res, err
			}
			for _, v := range chunk {
				part := vs[v].evs[0].part
				vs[v].state = &visitorState{part: part, epoch: j.epochs[part], events: loaded[vs[v].key.vid]}
				j.states[vs[v].key.detached()] = vs[v].state
			}
		}
	}
	var w scratch
	for v := range vs {
		sessionizeVisitor(&vs[v], &res, &w)
	}
	if len(j.states) > j.maxStates {
		// Forgetting costs a read from ClickHouse when the visitor returns, nothing more.
		j.states = map[visitorKey]*visitorState{}
	}
	return res, nil
}

// scratch is sessionizeVisitor's working memory, used again for each visitor of a batch.
type scratch struct {
	all   []session.Event
	old   map[uuid.UUID]int64 // stored session -> its start
	isNew map[uuid.UUID]*incoming
	kept  map[uuid.UUID]bool
}

// reset empties w for the next visitor; maps that one busy visitor made large are dropped,
// because clearing costs as much as they are large.
func (w *scratch) reset() {
	w.all = w.all[:0]
	if w.old == nil || len(w.old) > 256 || len(w.isNew) > 256 || len(w.kept) > 256 {
		w.old, w.isNew, w.kept = map[uuid.UUID]int64{}, map[uuid.UUID]*incoming{}, map[uuid.UUID]bool{}
		return
	}
	clear(w.old)
	clear(w.isNew)
	clear(w.kept)
}

func sessionizeVisitor(v *visitorEvents, res *sessionized, w *scratch) {
	w.reset()
	k, news, state := v.key, v.evs, v.state
	for i := range state.events {
		e := &state.events[i]
		if e.Session != uuid.Nil {
			if t, ok := w.old[e.Session]; !ok || e.TS < t {
				w.old[e.Session] = e.TS
			}
		}
		w.all = append(w.all, *e)
	}
	for _, in := range news {
		w.isNew[in.id] = in
		w.all = append(w.all, in.sev)
	}
	evs, ss := session.Split(k.site, k.vid, w.all)
	for si := range ss {
		s := ss[si]
		w.kept[s.ID] = true
		changed := false
		for i := s.First; i <= s.Last; i++ {
			id := evs[i].ID
			if in := w.isNew[id]; in != nil {
				in.session = s.ID
				changed = true
			} else if evs[i].Session != s.ID { // a stored event keeps its stored session until here
				res.rewrites = append(res.rewrites, rewrite{k.site, id, s.ID})
				changed = true
			}
			evs[i].Session = s.ID
		}
		if changed {
			first := evs[s.First]
			res.sessions = append(res.sessions, sessionRow{site: k.site, vid: k.vid, s: s, first: &first,
				attr: state.attribution(&first)})
		}
	}
	for id, start := range w.old {
		if !w.kept[id] {
			res.sessions = append(res.sessions, sessionRow{site: k.site, vid: k.vid, deleted: true,
				s: session.Session{ID: id, Start: start, End: start}, first: &session.Event{}})
		}
	}
	last := ss[len(ss)-1]
	state.events = append(state.events[:0:0], evs[last.First:]...)
	for i := range state.events {
		e := &state.events[i]
		// Only the first event of a session is read for its landing page and referrer, and
		// only an event with a touch can become a first one later: the others need not
		// keep URLs.
		if i > 0 && e.Touch().IsZero() {
			e.URL, e.Ref, e.Page = "", "", session.Page{}
		}
		if w.isNew[e.ID] != nil {
			e.Detach() // the state's other events were detached when they were new
		}
	}
}

// attribution is the touchpoint of a session that begins with first. A visit spans
// batches, and its session row is written again with each: the state keeps the last one.
func (s *visitorState) attribution(first *session.Event) session.Attribution {
	if s.attrOf != first.ID || s.attrOf == uuid.Nil {
		s.attr, s.attrOf = session.Attribute(first), first.ID
		s.attr.Detach()
	}
	return s.attr
}

// loadVisitors reads from the store the stored events of each visitor that a batch's
// earliest event can affect: those of the sessions that end at most 30 minutes before it and
// of all later sessions. Sessions are disjoint in time, so the first of them starts a session
// whatever comes after, and sessionizing from there reproduces the stored sessions.
func (st *Stitcher) loadVisitors(ctx context.Context, site string, earliest map[string]int64) (map[string][]session.Event, error) {
	st.awaitInsert(func(t *touched) bool {
		for vid := range earliest {
			if _, ok := t.visitors[visitorKey{site, vid}]; ok {
				return true
			}
		}
		return false
	})
	from, err := st.sessionStarts(ctx, site, earliest)
	if err != nil {
		return nil, err
	}
	out := map[string][]session.Event{}
	if len(from) == 0 {
		return out, nil
	}
	evs, err := st.store.events(ctx, site, from, st.rules.of(site).referrals)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		out[e.vid] = append(out[e.vid], e.Event)
	}
	for vid := range out {
		out[vid] = session.Sort(out[vid])
	}
	return out, nil
}

// sessionStarts returns, for each visitor with a stored session that ends at most 30
// minutes before their earliest new event or later, the start of the first such session.
func (st *Stitcher) sessionStarts(ctx context.Context, site string, earliest map[string]int64) (map[string]int64, error) {
	vids := make([]string, 0, len(earliest))
	low := int64(1<<62 - 1)
	for vid, ts := range earliest {
		vids = append(vids, vid)
		low = min(low, ts-session.Timeout)
	}
	// No session lasts longer than MaxLength: the range of started_at bounds the read.
	stored, err := st.store.sessions(ctx, site, vids, low-session.MaxLength)
	if err != nil {
		return nil, err
	}
	from := map[string]int64{}
	for _, s := range stored {
		if s.deleted || s.end < earliest[s.vid]-session.Timeout {
			continue
		}
		if f, ok := from[s.vid]; !ok || s.start < f {
			from[s.vid] = s.start
		}
	}
	return from, nil
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
		f.Country, f.Device,
	}
}

const sessionColumns = `site_id, session_id, visitor_id, person_id, started_at, ended_at, landing_url, landing_path,
	referrer, referrer_domain, source, medium, campaign, term, content, click_id_type, click_id, channel,
	pageviews, events, is_bot, first_event_id, deleted, version, country, device`
