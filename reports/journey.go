package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"touchpoint/attribution/model"
	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
	"touchpoint/scoring/rules"
)

// JourneyTouch is one touchpoint of a journey with each model's credit for the conversion.
type JourneyTouch struct {
	SessionID   string             `json:"session_id"`
	StartedAt   time.Time          `json:"started_at"`
	Channel     string             `json:"channel"`
	Source      string             `json:"source"`
	Medium      string             `json:"medium"`
	Campaign    string             `json:"campaign"`
	Term        string             `json:"term"`
	LandingPage string             `json:"landing_page"`
	Referrer    string             `json:"referrer"`
	Country     string             `json:"country"`
	Device      string             `json:"device"`
	Credits     map[string]float64 `json:"credits"` // per model, six decimals
}

// JourneyConversion describes a conversion in a journey.
type JourneyConversion struct {
	ConversionID string       `json:"conversion_id"`
	Type         string       `json:"type"`
	LeadType     string       `json:"lead_type"`
	OccurredAt   time.Time    `json:"occurred_at"`
	Value        float64      `json:"value"`
	Currency     string       `json:"currency"`
	Call         *JourneyCall `json:"call,omitempty"` // for a phone call (lead_type call)
}

// JourneyCall is what a journey shows of a phone call.
type JourneyCall struct {
	Provider string `json:"provider"`
	Number   string `json:"number"` // the tracking number called
	Duration int    `json:"duration"`
	Answered bool   `json:"answered"`
	Status   string `json:"status,omitempty"`
	// Match is session (a visitor's session held the number), unmatched or static.
	Match string `json:"match"`
}

// JourneyEvent is one thing the person did in the journey's window, or a conversion
// recorded for them.
type JourneyEvent struct {
	At   time.Time `json:"at"`
	Type string    `json:"type"` // pageview, form_submit, call_click, email_click, track, identify; or conversion
	// Of an event: its session, page (path and title), a track event's name, the tel: or
	// mailto: link clicked, and whether a bot sent it.
	SessionID string `json:"session_id,omitempty"`
	Path      string `json:"path,omitempty"`
	Title     string `json:"title,omitempty"`
	Name      string `json:"name,omitempty"`
	Link      string `json:"link,omitempty"`
	Bot       bool   `json:"bot,omitempty"`
	// Of a conversion (lead, sale or stage), from the server or the browser.
	Conversion *JourneyConversion `json:"conversion,omitempty"`
}

// MaxJourneyEvents bounds the events of a journey: the latest ones are kept.
const MaxJourneyEvents = 1000

// Journey is a person's path to one conversion.
type Journey struct {
	Site        string              `json:"site"`
	PersonID    string              `json:"person_id"`
	Conversion  JourneyConversion   `json:"conversion"`
	Conversions []JourneyConversion `json:"conversions"`
	Touchpoints []JourneyTouch      `json:"touchpoints"`
	// WindowFrom is the start of the lookback window; Events are what happened in it up
	// to the conversion, in order, conversions included.
	WindowFrom      time.Time      `json:"window_from"`
	Events          []JourneyEvent `json:"events"`
	EventsTruncated bool           `json:"events_truncated"` // more than MaxJourneyEvents: the earliest are left out
	// Score is the person's lead score as last computed; null without one.
	Score *PersonScore `json:"score"`
}

// PersonScore is a person's stored lead score.
type PersonScore struct {
	Score       float64        `json:"score"`
	Engagement  float64        `json:"engagement"`
	Fit         float64        `json:"fit"`
	Reasons     []rules.Reason `json:"reasons"`
	QualifiedAt *time.Time     `json:"qualified_at"` // when the score made the lead an MQL; null: never
	UpdatedAt   time.Time      `json:"updated_at"`
}

// PersonScore reads the person's current lead score; nil without one.
func (s *Store) PersonScore(ctx context.Context, site, person string) (*PersonScore, error) {
	q := fmt.Sprintf(`SELECT argMax(score, version), argMax(engagement, version), argMax(fit, version), argMax(reasons, version),
			argMax(qualified_at, version), argMax(updated_at, version), argMax(deleted, version)
		FROM %s.lead_scores WHERE site_id = ? AND person_id = ? GROUP BY person_id`, s.DB)
	var p PersonScore
	var reasons string
	var qualified time.Time
	var deleted uint8
	found := false
	err := s.each(ctx, q, []any{site, person}, func(sc scanner) error {
		found = true
		return sc.Scan(&p.Score, &p.Engagement, &p.Fit, &reasons, &qualified, &p.UpdatedAt, &deleted)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the lead score: %w", err)
	}
	if !found || deleted == 1 {
		return nil, nil
	}
	if json.Unmarshal([]byte(reasons), &p.Reasons) != nil {
		p.Reasons = []rules.Reason{}
	}
	if qualified.Unix() > 0 {
		q := qualified.UTC()
		p.QualifiedAt = &q
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return &p, nil
}

// ErrNotFound is returned when no conversion matches a journey lookup.
var ErrNotFound = errors.New("no such conversion")

// journeyConversion is a conversion as the journey lookup reads it.
type journeyConversion struct {
	JourneyConversion
	person string
}

// Journey returns the journey to conversionID or, when that is empty, to the latest lead
// (else latest conversion) of the person with the email hash: the person's touchpoints
// in the site's lookback window before it, each with every model's credit.
func (s *Store) Journey(ctx context.Context, st *site.Site, conversionID, emailSHA256 string) (*Journey, error) {
	var target []journeyConversion
	var err error
	if conversionID != "" {
		target, err = s.journeyConversions(ctx, st.ID, chstore.CurrentPersonOfFew, "conversion_id = ?", []any{conversionID}, "1")
	} else {
		target, err = s.conversionsOfEmail(ctx, st.ID, emailSHA256)
	}
	if err != nil {
		return nil, err
	}
	if len(target) == 0 {
		return nil, ErrNotFound
	}
	conv := pickConversion(target)
	j := &Journey{Site: st.ID, PersonID: conv.person, Conversion: conv.JourneyConversion}
	from := conv.OccurredAt.Add(-time.Duration(st.LookbackDays) * 24 * time.Hour)
	j.WindowFrom = from
	all := []journeyConversion{conv}
	var credits map[string]map[string]float64
	var sessions []journeySession
	ids, idsArgs, err := chstore.PersonIDs(ctx, s.Conn, s.DB, "person_id", st.ID, conv.person)
	if err != nil {
		return nil, err
	}
	// The reads below need only the conversion: side by side, a journey waits for the
	// slowest of them instead of their sum (on a cluster, each is a round of shards).
	err = parallel(func() (err error) {
		if conv.person == "" { // calls nobody's session made have no person
			return nil
		}
		all, err = s.personConversions(ctx, st.ID, conv.person, ids, idsArgs)
		return err
	}, func() (err error) {
		j.Score, err = s.PersonScore(ctx, st.ID, conv.person)
		return err
	}, func() (err error) {
		credits, err = s.credits(ctx, st.ID, conv.ConversionID, conv.OccurredAt)
		return err
	}, func() (err error) {
		sessions, err = s.journeySessions(ctx, st.ID, ids, idsArgs, from, conv.OccurredAt)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		j.Conversions = append(j.Conversions, c.JourneyConversion)
	}
	visitors := map[string]bool{}
	for _, x := range sessions {
		visitors[x.visitor] = true
		if !x.bot {
			x.Credits = creditsFor(credits[x.SessionID])
			j.Touchpoints = append(j.Touchpoints, x.JourneyTouch)
		}
	}
	if j.Events, j.EventsTruncated, err = s.journeyEvents(ctx, st.ID, visitors, from, conv.OccurredAt); err != nil {
		return nil, err
	}
	for _, c := range all { // events first at the same second: the form, then its lead
		if !c.OccurredAt.Before(from) && !c.OccurredAt.After(conv.OccurredAt) {
			j.Events = append(j.Events, JourneyEvent{At: c.OccurredAt, Type: "conversion", Conversion: &c.JourneyConversion})
		}
	}
	sort.SliceStable(j.Events, func(a, b int) bool { return j.Events[a].At.Before(j.Events[b].At) })
	if c, ok := credits[""]; ok { // no touchpoint in the window: the explicit (no touchpoint) row
		const n = model.NoTouchpoint
		t := JourneyTouch{StartedAt: conv.OccurredAt, Channel: n, Source: n, Medium: n, Campaign: n,
			Term: n, LandingPage: n, Country: n, Device: n, Credits: creditsFor(c)}
		if call := conv.Call; call != nil && call.Match != "session" {
			// An unmatched call's or a static number's own touch, as the engine credited it.
			q := fmt.Sprintf(`SELECT channel, source, medium, campaign, term, landing_page FROM %s.touch_credits FINAL
				WHERE site_id = ? AND conversion_id = ? AND session_id = '' AND removed = 0 LIMIT 1`, s.DB)
			if err := s.Conn.QueryRow(ctx, q, st.ID, conv.ConversionID).Scan(&t.Channel, &t.Source, &t.Medium, &t.Campaign, &t.Term,
				&t.LandingPage); err != nil {
				return nil, fmt.Errorf("cannot read the call's touch: %w", err)
			}
			t.Country, t.Device = "", ""
		}
		j.Touchpoints = append(j.Touchpoints, t)
	}
	return j, nil
}

// journeyEvents returns the events of visitors in [from, to] but conversion events (the
// conversions table has their current version), oldest first: the latest
// MaxJourneyEvents, and whether there were more.
func (s *Store) journeyEvents(ctx context.Context, site string, visitors map[string]bool, from, to time.Time) ([]JourneyEvent, bool, error) {
	out := []JourneyEvent{}
	if len(visitors) == 0 {
		return out, false, nil
	}
	ids := make([]string, 0, len(visitors))
	for v := range visitors {
		ids = append(ids, v)
	}
	// visitParamExtractString reads the flat props the tracker sends on both engines.
	q := fmt.Sprintf(`SELECT ts, event_type, session_id, path, title, event_name, visitParamExtractString(props, 'href'), is_bot
		FROM %s.events FINAL
		WHERE site_id = ? AND ts >= ? AND ts <= ? AND `+chstore.InList("visitor_id")+` AND event_type != 'conversion'
		ORDER BY ts DESC, event_id DESC LIMIT ?`, s.DB)
	err := s.each(ctx, q, []any{site, from, to, ids, MaxJourneyEvents + 1}, func(sc scanner) error {
		var e JourneyEvent
		var bot uint8
		if err := sc.Scan(&e.At, &e.Type, &e.SessionID, &e.Path, &e.Title, &e.Name, &e.Link, &bot); err != nil {
			return err
		}
		e.Bot = bot == 1
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("cannot read the journey's events: %w", err)
	}
	truncated := len(out) > MaxJourneyEvents
	if truncated {
		out = out[:MaxJourneyEvents]
	}
	slices.Reverse(out)
	return out, truncated, nil
}

// personConversions returns the conversions whose current version is the person's, ids
// being the condition that keeps the person's ids (chstore.PersonIDs). A conversion's
// versions may belong to different people (a CRM changed its email): the ids of those
// that ever were the person's are picked, by the key of person_conversions, then their
// current version must be.
func (s *Store) personConversions(ctx context.Context, site, person, ids string, idsArgs []any) ([]journeyConversion, error) {
	pick := chstore.ConversionsUnder(s.DB, ids)
	// A current version is the person's when ids keeps its person id: no need to join
	// the site's aliases, 0.17 s of CPU with a million of them.
	theirs := func(_, _, inner string, innerArgs ...any) (string, []any) {
		return fmt.Sprintf("SELECT *, if(%s, ?, '') AS person FROM (%s)", ids, inner), append(append(slices.Clip(idsArgs), person), innerArgs...)
	}
	return s.journeyConversions(ctx, site, theirs, pick, append([]any{site}, idsArgs...), "person = ?", person)
}

// conversionsOfEmail returns the conversions whose current version carries the email
// hash or is of a person the hash identifies (identities, as the persons now stand).
// Only conversions that could be are read: those with any version carrying the hash, and
// those person_conversions places under the persons' ids (chstore.OfPersons). Reading
// every conversion of the site to resolve its person took about a second over a million
// conversions with a million aliases; it is still done for a hash of more persons than a
// query binds.
func (s *Store) conversionsOfEmail(ctx context.Context, site, emailSHA256 string) ([]journeyConversion, error) {
	idents, identArgs := chstore.CurrentPersonOfFew(s.DB, site,
		fmt.Sprintf("SELECT person_id FROM %s.identities FINAL WHERE site_id = ? AND email_sha256 = ?", s.DB), site, emailSHA256)
	persons, err := s.readStrings(ctx, fmt.Sprintf("SELECT DISTINCT person FROM (%s) WHERE person != ''", idents), identArgs)
	if err != nil {
		return nil, fmt.Errorf("cannot read the persons of an email: %w", err)
	}
	if len(persons) > chstore.MaxListLen/4 { // bound four times below
		return s.journeyConversions(ctx, site, chstore.CurrentPerson, "1", nil,
			fmt.Sprintf("(email_sha256 = ? OR person IN (SELECT person FROM (%s)))", idents), append([]any{emailSHA256}, identArgs...)...)
	}
	pick := fmt.Sprintf("conversion_id IN (SELECT conversion_id FROM %s.conversions WHERE site_id = ? AND email_sha256 = ?", s.DB)
	pickArgs := []any{site, emailSHA256}
	where, whereArgs := "email_sha256 = ?", []any{emailSHA256}
	if len(persons) > 0 {
		// Those of chstore.ConversionsUnder, in the same set as the hash's: one set, as
		// measured; whether ClickHouse 18.16 picks rows by the key for two sets ORed was
		// not checked.
		mine, mineArgs := chstore.OfPersons(s.DB, site, persons)
		pick += fmt.Sprintf(" UNION ALL SELECT conversion_id FROM %s.person_conversions WHERE site_id = ? AND %s", s.DB, mine)
		pickArgs = append(append(pickArgs, site), mineArgs...)
		where += " OR " + chstore.InList("person")
		whereArgs = append(whereArgs, persons)
	}
	return s.journeyConversions(ctx, site, chstore.CurrentPersonOfFew, pick+")", pickArgs, "("+where+")", whereArgs...)
}

// journeySession is a session of a journey: a touchpoint unless a bot's, whose visitor's
// events are still shown (marked).
type journeySession struct {
	JourneyTouch
	visitor string
	bot     bool
}

// journeySessions reads the sessions that started from from to to, in order, of the
// person whose ids the condition ids keeps (chstore.PersonIDs). Only the sessions
// person_sessions places under those ids are read, by their start and visitor, the sort
// key: every version of a session shares them, so FINAL merges all of them, a later one
// that deleted the session (with no person) included. Reading every session of the
// lookback window took seconds on a large site.
func (s *Store) journeySessions(ctx context.Context, site, ids string, idsArgs []any, from, to time.Time) ([]journeySession, error) {
	placed := fmt.Sprintf(`SELECT toDate(started_at), visitor_id FROM %s.person_sessions
		WHERE site_id = ? AND started_at >= ? AND started_at <= ? AND %s`, s.DB, ids)
	inner := fmt.Sprintf(`SELECT person_id, sid, visitor_id, is_bot, started_at, channel, source, medium, campaign, term, landing_path, referrer,
			country, device
		FROM (SELECT person_id, toString(session_id) AS sid, visitor_id, started_at, channel, source, medium, campaign, term, landing_path,
				referrer, country, device, deleted, is_bot
			FROM %s.sessions FINAL
			PREWHERE (toDate(started_at), visitor_id) IN (%s)
			WHERE site_id = ? AND started_at >= ? AND started_at <= ?)
		WHERE deleted = 0`, s.DB, placed)
	// A session is the person's when ids keeps its person id: the current person of the
	// others is someone else. Joining the site's aliases to resolve every session read
	// took 0.17 s of CPU more with a million aliases.
	q := fmt.Sprintf(`SELECT sid, visitor_id, is_bot, started_at, channel, source, medium, campaign, term, landing_path, referrer, country, device
		FROM (%s) WHERE %s ORDER BY started_at, sid`, inner, ids)
	args := append(append([]any{site, from, to}, idsArgs...), site, from, to)
	args = append(args, idsArgs...)
	var out []journeySession
	err := s.each(ctx, q, args, func(sc scanner) error {
		var x journeySession
		var bot uint8
		if err := sc.Scan(&x.SessionID, &x.visitor, &bot, &x.StartedAt, &x.Channel, &x.Source, &x.Medium, &x.Campaign, &x.Term,
			&x.LandingPage, &x.Referrer, &x.Country, &x.Device); err != nil {
			return err
		}
		x.bot = bot == 1
		out = append(out, x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the journey's sessions: %w", err)
	}
	return out, nil
}

// resolver gives rows their current person: chstore.CurrentPerson, or CurrentPersonOfFew
// for a read of a few rows whose pick is cheap to read twice.
type resolver func(db, site, inner string, innerArgs ...any) (string, []any)

// journeyConversions returns the site's conversions that pick selects (a condition on
// their id; "1" for all) whose current version matches where, a condition on the
// conversions table's columns plus `person` (the current person, found by resolve).
func (s *Store) journeyConversions(ctx context.Context, site string, resolve resolver, pick string, pickArgs []any, where string,
	args ...any) ([]journeyConversion, error) {
	inner := fmt.Sprintf(`SELECT conversion_id, type, lead_type, occurred_at, person_id, value, currency, email_sha256, props
		FROM %s.conversions FINAL WHERE site_id = ? AND %s`, s.DB, pick)
	resolved, resolvedArgs := resolve(s.DB, site, inner, append([]any{site}, pickArgs...)...)
	q := fmt.Sprintf(`SELECT conversion_id, type, lead_type, occurred_at, person, value, currency, props
		FROM (%s) WHERE %s ORDER BY occurred_at, conversion_id`, resolved, where)
	var out []journeyConversion
	err := s.each(ctx, q, append(resolvedArgs, args...), func(sc scanner) error {
		var c journeyConversion
		var props string
		if err := sc.Scan(&c.ConversionID, &c.Type, &c.LeadType, &c.OccurredAt, &c.person, &c.Value, &c.Currency, &props); err != nil {
			return err
		}
		c.Value = cents(c.Value)
		c.Call = callOf(c.LeadType, props)
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read conversions: %w", err)
	}
	return out, nil
}

// credits returns a conversion's current credit per credited session: the credit of each
// model that credits it. The current rows are those of the conversion's latest
// computation (latestRows), found at its time, as the lead list finds its leads'
// (leadTouches): FINAL by the id alone read a granule of every month's parts, 0.08-0.18 s
// on the bench. A conversion whose time was corrected shows its credit once that is
// computed again (seconds).
func (s *Store) credits(ctx context.Context, site, conversionID string, at time.Time) (map[string]map[string]float64, error) {
	const picked = "site_id = ? AND occurred_at = ? AND conversion_id = ?"
	q := fmt.Sprintf(`SELECT session_id, %s FROM %s.touch_credits WHERE %s AND removed = 0 AND %s`,
		creditColumns, s.DB, picked, latestRows(s.DB, picked))
	out := map[string]map[string]float64{}
	err := s.each(ctx, q, []any{site, at, conversionID, site, at, conversionID}, func(sc scanner) error {
		var sid string
		c := make([]float64, len(model.Models))
		dest := []any{&sid}
		for i := range c {
			dest = append(dest, &c[i])
		}
		if err := sc.Scan(dest...); err != nil {
			return err
		}
		out[sid] = map[string]float64{}
		for i, m := range model.Models {
			if c[i] > 0 {
				out[sid][m] = c[i]
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read credits: %w", err)
	}
	return out, nil
}

func creditsFor(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(model.Models))
	for _, name := range model.Models {
		out[name] = credit6(m[name])
	}
	return out
}

// pickConversion prefers the latest lead, then the latest conversion.
func pickConversion(cs []journeyConversion) journeyConversion {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].OccurredAt.After(cs[j].OccurredAt) })
	for _, c := range cs {
		if c.Type == "lead" {
			return c
		}
	}
	return cs[0]
}

// callOf reads a call's props, or returns nil for other conversions.
func callOf(leadType, props string) *JourneyCall {
	if leadType != "call" {
		return nil
	}
	var p struct {
		Provider, Number, Status, Touch string
		Duration                        int
		Answered                        bool
	}
	if json.Unmarshal([]byte(props), &p) != nil || p.Touch == "" {
		return nil // a call lead recorded another way (/v1/conversions with lead_type call)
	}
	return &JourneyCall{Provider: p.Provider, Number: p.Number, Duration: p.Duration, Answered: p.Answered, Status: p.Status, Match: p.Touch}
}
