// Package scoring keeps lead scores current: it scores the people of a site with the site's
// rules (package rules) from their events and conversions, writes lead_scores and
// lead_score_history, and records an mql stage for a lead whose score qualifies them.
package scoring

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/scoring/rules"
)

// Causes of a score change, as lead_score_history keeps them.
const (
	CauseActivity = "activity" // the person did something, or a conversion was recorded for them
	CauseDecay    = "decay"    // engagement faded with inactivity
	CauseRules    = "rules"    // the site's rules changed
	CauseMerge    = "merge"    // the person id was merged into another person
)

// OriginScoring is the origin of the mql conversions scoring records.
const OriginScoring = "scoring"

// Margin is how far before the previous pass a pass looks for new activity: rows become
// visible a little after they were received.
const Margin = time.Minute

// Scorer scores the people of sites; one Scorer keeps a site's progress in memory, so a
// new Scorer (a restart, another instance taking a site over) scores everyone once.
type Scorer struct {
	Conn driver.Conn
	DB   string
	Now  func() time.Time

	mu    sync.Mutex
	state map[string]progress
}

// progress is how far a site's scores are current: with the rules of fingerprint, for
// the activity received before since.
type progress struct {
	fingerprint uint64
	since       time.Time
}

// Result is what a pass did.
type Result struct {
	Scored  int // people whose activities were read
	Changed int // people whose score changed (rows written)
	MQLs    int // mql stages recorded
}

// Fingerprint identifies a set of rules: the same rules give the same number.
func Fingerprint(r *rules.Rules) uint64 {
	h := fnv.New64a()
	h.Write(r.JSON())
	return h.Sum64() >> 1 // a positive Int64 too, for tools that read it as one
}

func (s *Scorer) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
}

// stored is a person's lead_scores row.
type stored struct {
	score          rules.Score
	reasons        string
	rulesVersion   uint64
	qualifiedAt    time.Time
	engagementLast float64
}

// Pass brings the site's scores up to date: it rescores the people with activity since the
// previous pass (everyone on the first pass and when the rules changed), lets the
// engagement of the others decay when it is due, and drops the scores of person ids merged
// into others.
func (s *Scorer) Pass(ctx context.Context, st *site.Site) (Result, error) {
	var res Result
	cur, err := (&Store{Conn: s.Conn, DB: s.DB}).Current(ctx, st)
	if err != nil {
		return res, err
	}
	r := cur.Rules
	if r == nil {
		return res, nil
	}
	fp := Fingerprint(r)
	now := s.now()
	s.mu.Lock()
	if s.state == nil {
		s.state = map[string]progress{}
	}
	prev, known := s.state[st.ID]
	s.mu.Unlock()
	everyone := !known || prev.fingerprint != fp

	old, err := s.scores(ctx, st.ID)
	if err != nil {
		return res, err
	}
	merged, into, err := s.merged(ctx, st.ID, old)
	if err != nil {
		return res, err
	}
	var persons []string // nil: everyone
	if !everyone {
		if persons, err = s.active(ctx, st.ID, prev.since.Add(-Margin)); err != nil {
			return res, err
		}
		persons = append(persons, into...)
	}
	w := &writer{site: st.ID, now: now, fp: fp}
	seen := map[string]bool{}
	var mqls []mql
	ev := r.Evaluator()
	canQualify := slices.Contains(st.Lifecycle.Stages, "mql")
	if everyone || len(persons) > 0 {
		err = s.activities(ctx, st.ID, persons, func(person string, acts []rules.Activity) {
			res.Scored++
			seen[person] = true
			sc := ev.Score(acts, now)
			o, had := old[person]
			if had && !o.qualifiedAt.IsZero() {
				sc.QualifiedAt = o.qualifiedAt // qualified once, for good
			}
			cause := CauseActivity
			switch {
			case had && o.rulesVersion != fp:
				cause = CauseRules
			case had && sc.LastActivity.Equal(o.score.LastActivity) && times(sc.Reasons) == times(o.score.Reasons):
				cause = CauseDecay // read again, nothing new: only time passed
			}
			if w.add(person, sc, o, had, cause) {
				res.Changed++
			}
			if canQualify && !sc.QualifiedAt.IsZero() && !hasStage(acts, "mql") {
				mqls = append(mqls, mql{person, sc.QualifiedAt})
			}
		})
		if err != nil {
			return res, err
		}
	}
	for person, o := range old {
		switch {
		case slices.Contains(merged, person):
			w.drop(person, o)
			res.Changed++
		case seen[person] || o.rulesVersion != fp && everyone:
			// Scored above, or without any activity left (erased): its row stays as it is.
		case !o.score.DecaysAt.IsZero() && !o.score.DecaysAt.After(now):
			sc := o.score
			sc.EngagementLast = o.engagementLast
			sc.QualifiedAt = o.qualifiedAt
			if w.add(person, r.Decayed(sc, now), o, true, CauseDecay) {
				res.Changed++
			}
		}
	}
	if err := w.flush(ctx, s.Conn, s.DB); err != nil {
		return res, err
	}
	if err := s.recordMQLs(ctx, st.ID, mqls, now); err != nil {
		return res, err
	}
	res.MQLs = len(mqls)
	s.mu.Lock()
	s.state[st.ID] = progress{fingerprint: fp, since: now}
	s.mu.Unlock()
	return res, nil
}

// times is how many activities matched engagement rules.
func times(rs []rules.Reason) int {
	n := 0
	for _, r := range rs {
		n += r.Times
	}
	return n
}

func hasStage(acts []rules.Activity, stage string) bool {
	for _, a := range acts {
		if a.Conversion && a.Type == stage {
			return true
		}
	}
	return false
}

// scores reads the site's current scores by person.
func (s *Scorer) scores(ctx context.Context, siteID string) (map[string]stored, error) {
	q := fmt.Sprintf(`SELECT person_id, argMax(engagement, version), argMax(fit, version), argMax(score, version),
			argMax(reasons, version), argMax(last_activity, version), argMax(engagement_last, version),
			argMax(decays_at, version), argMax(qualified_at, version), argMax(rules_version, version), argMax(deleted, version)
		FROM %s.lead_scores WHERE site_id = ? GROUP BY person_id`, s.DB)
	rows, err := s.Conn.Query(ctx, q, siteID)
	if err != nil {
		return nil, fmt.Errorf("cannot read lead scores: %w", err)
	}
	defer rows.Close()
	out := map[string]stored{}
	for rows.Next() {
		var person string
		var o stored
		var deleted uint8
		if err := rows.Scan(&person, &o.score.Engagement, &o.score.Fit, &o.score.Score, &o.reasons, &o.score.LastActivity,
			&o.engagementLast, &o.score.DecaysAt, &o.qualifiedAt, &o.rulesVersion, &deleted); err != nil {
			return nil, fmt.Errorf("cannot read lead scores: %w", err)
		}
		if deleted == 1 {
			continue
		}
		if err := json.Unmarshal([]byte(o.reasons), &o.score.Reasons); err != nil {
			o.score.Reasons = []rules.Reason{}
		}
		o.score.DecaysAt = zeroEpoch(o.score.DecaysAt)
		o.qualifiedAt = zeroEpoch(o.qualifiedAt)
		out[person] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read lead scores: %w", err)
	}
	return out, nil
}

// zeroEpoch is t, or the zero time for the DateTime 1970-01-01 that stands for none.
func zeroEpoch(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}

// merged returns the scored person ids that were merged into others, and the persons
// they are now.
func (s *Scorer) merged(ctx context.Context, siteID string, old map[string]stored) (from, into []string, err error) {
	if len(old) == 0 {
		return nil, nil, nil
	}
	q := fmt.Sprintf(`SELECT person_id, current_person_id FROM %s.person_aliases FINAL
		WHERE site_id = ? AND current_person_id != '' AND current_person_id != person_id`, s.DB)
	rows, err := s.Conn.Query(ctx, q, siteID)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read merged persons: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f, t string
		if err := rows.Scan(&f, &t); err != nil {
			return nil, nil, fmt.Errorf("cannot read merged persons: %w", err)
		}
		if _, ok := old[f]; ok {
			from, into = append(from, f), append(into, t)
		}
	}
	return from, into, rows.Err()
}

// active returns the current persons with events or conversions received since.
func (s *Scorer) active(ctx context.Context, siteID string, since time.Time) ([]string, error) {
	inner := fmt.Sprintf(`SELECT person_id FROM %[1]s.events WHERE site_id = ? AND received_at >= ?
		UNION ALL SELECT person_id FROM %[1]s.conversions WHERE site_id = ? AND received_at >= ?`, s.DB)
	resolved, args := chstore.CurrentPerson(s.DB, siteID, inner, siteID, since, siteID, since)
	rows, err := s.Conn.Query(ctx, fmt.Sprintf(`SELECT DISTINCT person FROM (%s) WHERE person != ''`, resolved), args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read active persons: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("cannot read active persons: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// maxPersons bounds the person ids of one activities query, which binds them five times.
const maxPersons = chstore.MaxListLen / 5

// activities calls each with every person's activities in time order, events before
// conversions at the same second; persons nil reads everyone. Bots' events and
// conversions earn nothing.
func (s *Scorer) activities(ctx context.Context, siteID string, persons []string, each func(string, []rules.Activity)) error {
	if len(persons) > maxPersons {
		// Each person once, in one of the chunks, so that each is called once.
		return chstore.EachChunk(persons, maxPersons, func(chunk []string) error {
			return s.activities(ctx, siteID, chunk, each)
		})
	}
	q, args := s.activitiesQuery(siteID, persons)
	rows, err := s.Conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("cannot read activities: %w", err)
	}
	defer rows.Close()
	var cur string
	var acts []rules.Activity
	for rows.Next() {
		var person, form string
		var conv uint8
		var a rules.Activity
		if err := rows.Scan(&person, &a.At, &conv, &a.Type, &a.LeadType, &a.Path, &a.Track, &form, &a.Props, &a.Traits); err != nil {
			return fmt.Errorf("cannot read activities: %w", err)
		}
		a.Conversion = conv == 1
		if a.Type != event.Track {
			a.Track = ""
		}
		if form != "" {
			var f event.Form
			if json.Unmarshal([]byte(form), &f) == nil {
				a.FormID, a.FormName = f.ID, f.Name
			}
		}
		if person != cur && len(acts) > 0 {
			each(cur, acts)
			acts = acts[:0]
		}
		cur = person
		acts = append(acts, a)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read activities: %w", err)
	}
	if len(acts) > 0 {
		each(cur, acts)
	}
	return nil
}

// activitiesQuery is the query of activities, and its arguments: every person's rows,
// or those of persons, with the current person of each. Events and conversions are
// resolved together, the site's aliases joined once.
//
// The rows of persons are picked by their ids (chstore.OfPersons) before anything else.
// Reading every event to resolve its person took 7.5 s for a thousand persons over ten
// million events; picking them first, 1.6 s. Their events' versions are then merged by
// grouping the few rows picked, where FINAL read the key of every event again: 0.9 s for
// up to a thousand persons.
func (s *Scorer) activitiesQuery(siteID string, persons []string) (string, []any) {
	events := fmt.Sprintf(`SELECT person_id, ts AS at, toUInt8(0) AS conv, event_type AS type, '' AS lead_type, path, event_name,
			form, props, traits
		FROM %s.events FINAL WHERE site_id = ? AND is_bot = 0`, s.DB)
	// Conversions are picked with all their versions (chstore.ConversionsUnder): one
	// corrected to someone else since would count, by its earlier version, for the person
	// it was first recorded under.
	pick, pickArgs, convPick, convPickArgs, filter := "", []any{}, "", []any{}, ""
	if persons != nil {
		mine, mineArgs := chstore.OfPersons(s.DB, siteID, persons)
		pick, pickArgs, filter = " PREWHERE "+mine, mineArgs, " AND "+chstore.InList("person")
		convPick, convPickArgs = " PREWHERE "+chstore.ConversionsUnder(s.DB, mine), append([]any{siteID}, mineArgs...)
		// Aliased unlike the columns: ClickHouse would read argMax(person_id, version)
		// for person_id in PREWHERE.
		events = fmt.Sprintf(`SELECT pid AS person_id, at, conv, type, lead_type, path, event_name, form, props, traits FROM (
			SELECT argMax(person_id, version) AS pid, argMax(ts, version) AS at, toUInt8(0) AS conv,
				argMax(event_type, version) AS type, '' AS lead_type, argMax(path, version) AS path,
				argMax(event_name, version) AS event_name, argMax(form, version) AS form, argMax(props, version) AS props,
				argMax(traits, version) AS traits
			FROM %s.events%s WHERE site_id = ?
			GROUP BY toDate(ts), visitor_id, event_id HAVING argMax(is_bot, version) = 0)`, s.DB, pick)
	}
	convs := fmt.Sprintf(`SELECT person_id, occurred_at AS at, toUInt8(1) AS conv, type, lead_type, '' AS path, '' AS event_name,
			'' AS form, props, '' AS traits
		FROM %s.conversions FINAL%s WHERE site_id = ? AND is_bot = 0`, s.DB, convPick)
	resolved, args := chstore.CurrentPerson(s.DB, siteID, fmt.Sprintf("SELECT * FROM (%s) UNION ALL SELECT * FROM (%s)", events, convs),
		append(append(append(slices.Clone(pickArgs), siteID), convPickArgs...), siteID)...)
	if persons != nil {
		args = append(args, persons)
	}
	return fmt.Sprintf(`SELECT person, at, conv, type, lead_type, path, event_name, form, props, traits FROM (%s)
		WHERE person != ''%s ORDER BY person, at, conv`, resolved, filter), args
}

// writer collects the rows of a pass.
type writer struct {
	site    string
	now     time.Time
	fp      uint64
	scores  [][]any
	history [][]any
}

// add writes the person's score when it differs from the stored one (or there is none and
// it is not 0); it reports whether it did.
func (w *writer) add(person string, sc rules.Score, o stored, had bool, cause string) bool {
	reasons, err := json.Marshal(sc.Reasons)
	if err != nil {
		return false
	}
	if had && o.reasons == string(reasons) && o.score.Score == sc.Score && o.score.Engagement == sc.Engagement &&
		o.score.Fit == sc.Fit && o.qualifiedAt.Equal(sc.QualifiedAt) && o.rulesVersion == w.fp && o.score.DecaysAt.Equal(sc.DecaysAt) {
		return false
	}
	if !had && sc.Score == 0 && len(sc.Reasons) == 0 {
		return false
	}
	w.scores = append(w.scores, []any{w.site, person, sc.Engagement, sc.Fit, sc.Score, string(reasons), sc.LastActivity.UTC(),
		sc.EngagementLast, epoch(sc.DecaysAt), epoch(sc.QualifiedAt), w.fp, uint8(0), w.now, w.version()})
	w.history = append(w.history, []any{w.site, person, w.now, cause, sc.Engagement, sc.Fit, sc.Score, o.score.Score,
		string(reasons), w.fp})
	return true
}

// drop marks the score of a person id merged into another as deleted.
func (w *writer) drop(person string, o stored) {
	w.scores = append(w.scores, []any{w.site, person, 0.0, 0.0, 0.0, "[]", o.score.LastActivity.UTC(), 0.0, time.Unix(0, 0).UTC(),
		time.Unix(0, 0).UTC(), w.fp, uint8(1), w.now, w.version()})
	w.history = append(w.history, []any{w.site, person, w.now, CauseMerge, 0.0, 0.0, 0.0, o.score.Score, "[]", w.fp})
}

// version orders the rows of one person: later passes write higher versions.
func (w *writer) version() uint64 { return uint64(time.Now().UnixNano()) }

func epoch(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}

func (w *writer) flush(ctx context.Context, conn driver.Conn, db string) error {
	for _, t := range []struct {
		table, cols string
		rows        [][]any
	}{
		{"lead_scores", `site_id, person_id, engagement, fit, score, reasons, last_activity, engagement_last, decays_at,
			qualified_at, rules_version, deleted, updated_at, version`, w.scores},
		{"lead_score_history", "site_id, person_id, at, cause, engagement, fit, score, previous_score, reasons, rules_version", w.history},
	} {
		if len(t.rows) == 0 {
			continue
		}
		b, err := chstore.PrepareBatch(ctx, conn, fmt.Sprintf("INSERT INTO %s.%s (%s)", db, t.table, t.cols))
		if err != nil {
			return fmt.Errorf("cannot write %s: %w", t.table, err)
		}
		for _, row := range t.rows {
			if err := b.Append(row...); err != nil {
				b.Abort()
				return fmt.Errorf("cannot write %s: %w", t.table, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("cannot write %s: %w", t.table, err)
		}
	}
	return nil
}

type mql struct {
	person string
	at     time.Time
}

// MQLConversionID is the id of the mql conversion scoring records for a person.
func MQLConversionID(person string) string { return "mql-scoring-" + person }

// recordMQLs records an mql conversion for each lead the score qualified, at the time it
// qualified, with the origin scoring. Its id is the person's, so a pass that runs again
// writes the same conversion.
func (s *Scorer) recordMQLs(ctx context.Context, siteID string, mqls []mql, now time.Time) error {
	if len(mqls) == 0 {
		return nil
	}
	b, err := chstore.PrepareBatch(ctx, s.Conn, fmt.Sprintf(`INSERT INTO %s.conversions (site_id, conversion_id, type, lead_type,
		occurred_at, received_at, visitor_id, person_id, email_sha256, user_id, session_id, value, currency, props, event_id,
		origin, version)`, s.DB))
	if err != nil {
		return fmt.Errorf("cannot record mql stages: %w", err)
	}
	for _, m := range mqls {
		// The rank of server records: the CRM's correction of it is another conversion,
		// and nothing a browser sends replaces it.
		version := uint64(now.UnixMilli()) + event.ServerRank
		if err := b.Append(siteID, MQLConversionID(m.person), "mql", "", m.at, now, "", m.person, "", "", "", 0.0, "",
			`{"source":"scoring"}`, mqlEventID(siteID, m.person), OriginScoring, version); err != nil {
			b.Abort()
			return fmt.Errorf("cannot record mql stages: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot record mql stages: %w", err)
	}
	return nil
}

// mqlEventID is the event id of a person's mql conversion, the same every time.
func mqlEventID(siteID, person string) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("touchpoint:scoring:mql:"+siteID+":"+person))
}

// Person scores one person now from their activities, without storing anything; nil
// when the site has no rules.
func (s *Scorer) Person(ctx context.Context, st *site.Site, person string) (*rules.Score, error) {
	cur, err := (&Store{Conn: s.Conn, DB: s.DB}).Current(ctx, st)
	if err != nil || cur.Rules == nil {
		return nil, err
	}
	ev := cur.Rules.Evaluator()
	sc := &rules.Score{Reasons: []rules.Reason{}}
	err = s.activities(ctx, st.ID, []string{person}, func(_ string, acts []rules.Activity) {
		*sc = ev.Score(acts, s.now())
	})
	if err != nil {
		return nil, err
	}
	return sc, nil
}
