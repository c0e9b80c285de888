package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/go-faster/city"

	"touchpoint/attribution/model"
	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
)

// Conversion is a conversion as the engine reads it, with its current person.
type Conversion struct {
	ID, Type, LeadType string
	At                 time.Time
	Person             string
	Value              float64
	Currency           string
	EmailSHA256        string
	UserID             string
	// Received is the row's version without the rank that puts server rows above browser
	// rows (event.ServerRank), so it orders rows as written: an ended call's row after its
	// ringing one (event.CallEndedRank), even within one millisecond. event.ReceivedMs of it
	// is when the row was received, in ms: the watermark of new conversions.
	Received uint64
	// Fixed is the only touch of a call that no session made (fixedTouch); nil otherwise.
	Fixed *Session
}

// UnmatchedCall is every dimension of the touch credited with a call to a pool number
// that no visitor held when it rang (or an unknown number): its own row in every report.
const UnmatchedCall = "(unmatched call)"

// fixedTouch is the touch of a call the collector matched to no session: an unmatched pool
// call, or a call to a static number, credited to the number's source, medium and
// campaign. Other conversions give nil and are credited to their person's sessions.
func fixedTouch(touch, channel, source, medium, campaign string, at time.Time) *Session {
	switch touch {
	case "unmatched":
		const u = UnmatchedCall
		return &Session{At: at, Channel: u, Source: u, Medium: u, Campaign: u, Term: u, Content: u, LandingPath: u, Country: u, Device: u}
	case "static":
		return &Session{At: at, Channel: channel, Source: source, Medium: medium, Campaign: campaign}
	}
	return nil
}

// Session is a touchpoint as the engine reads it, with its current person.
type Session struct {
	Person                                  string
	ID, VisitorID                           string
	At                                      time.Time
	Channel, Source, Medium, Campaign, Term string
	Content, LandingPath                    string
	Country, Device                         string
	version                                 uint64 // of its row, while the sessions are read
}

// personKey is a person as the engine orders them, the personOrder of the sessions and
// conversions it walks side by side: by ClickHouse's cityHash64 of the id, then (ids
// sharing a hash) by the id. ClickHouse sorts a whole site's sessions by a number much
// faster than by their persons' ids.
type personKey struct {
	hash uint64
	id   string
}

func keyOf(person string) personKey { return personKey{city.CH64([]byte(person)), person} }

// compare orders persons in personOrder.
func (k personKey) compare(o personKey) int {
	return cmp.Or(cmp.Compare(k.hash, o.hash), strings.Compare(k.id, o.id))
}

// store reads the stitcher's tables and writes touch_credits. Persons are resolved to
// their current person through person_aliases at query time, so merges count at once.
type store struct {
	conn      driver.Conn
	db        string
	pathLimit uint64 // session rows per pass of journeys; 0 for defaultPathRows
}

const conversionCols = `conversion_id, type, lead_type, occurred_at, person, value, currency, email_sha256, user_id, received_ms,
	call_touch, call_channel, call_source, call_medium, call_campaign`

// receivedMs is the receive time in milliseconds of a conversions row (event.ReceivedMs).
var receivedMs = fmt.Sprintf("bitAnd(version, %d)", uint64(event.ReceivedMask))

// conversionQuery picks conversions of one site; fields left zero do not filter.
type conversionQuery struct {
	from, to   time.Time // occurred in [from, to), when to is set
	newerThan  uint64    // received after this time in ms (event.ReceivedMs of Conversion.Received)
	persons    []string  // of these current persons, when not nil
	ids        []string  // with these conversion ids, when not nil
	uncredited bool      // without any credit row yet
	// Of the current persons a query gives (its arguments in personsOfArgs), when not "":
	// the persons of an import's new sessions are too many to list.
	personsOf     string
	personsOfArgs []any
}

// few is, for a query of new conversions, a condition on the stored rows that keeps the
// conversions it may pick, whole, and its arguments; "" for other queries. Every pass of
// the engine asks for the conversions received since the last one: over a million,
// resolving them all to find the few took 0.6 s of ClickHouse at each pass. A conversion
// whose current row is new has a new row, so the conversions with any new row hold the
// answer; the current row of each is still chosen among all of its rows (a server's older
// row outranks a browser's newer one).
func (q conversionQuery) few(db, site string) (string, []any) {
	if q.newerThan == 0 {
		return "", nil
	}
	return " AND conversion_id IN (SELECT conversion_id " + newerRows(db, "conversions", receivedMs) + ")", []any{q.newerThan, site}
}

// parts splits q into queries of at most chstore.MaxListLen persons or ids; q lists one of
// them, not both.
func (q conversionQuery) parts() []conversionQuery {
	var out []conversionQuery
	for part := range slices.Chunk(q.persons, chstore.MaxListLen) {
		p := q
		p.persons = part
		out = append(out, p)
	}
	for part := range slices.Chunk(q.ids, chstore.MaxListLen) {
		p := q
		p.ids = part
		out = append(out, p)
	}
	return out
}

// where is the condition on the resolved conversions (columns of the conversions table
// plus `person` and `received_ms`) and its arguments.
func (q conversionQuery) where(db, site string) (string, []any) {
	conds, args := []string{"1"}, []any{}
	if !q.to.IsZero() {
		conds, args = append(conds, "occurred_at >= ? AND occurred_at < ?"), append(args, q.from, q.to)
	}
	if q.newerThan > 0 {
		conds, args = append(conds, fmt.Sprintf("bitAnd(received_ms, %d) > ?", uint64(event.ReceivedMask))), append(args, q.newerThan)
	}
	if q.persons != nil {
		conds, args = append(conds, chstore.InList("person")), append(args, q.persons)
	}
	if q.personsOf != "" {
		conds, args = append(conds, "person IN ("+q.personsOf+")"), append(args, q.personsOfArgs...)
	}
	if q.uncredited {
		conds = append(conds, fmt.Sprintf("conversion_id NOT IN (SELECT conversion_id FROM %s.touch_credits WHERE site_id = ?)", db))
		args = append(args, site)
	}
	return strings.Join(conds, " AND "), args
}

// conversions returns the site's conversions that q picks, ordered by person (personOrder) and time.
func (s *store) conversions(ctx context.Context, site string, q conversionQuery) ([]Conversion, error) {
	// Longer lists than a query can bind are read a part at a time: the thirty thousand
	// new sessions of an import asked for their persons' conversions in one query, which
	// ClickHouse refused at every pass, and the site's crediting stopped.
	if len(q.persons) > chstore.MaxListLen || len(q.ids) > chstore.MaxListLen {
		var out []Conversion
		for _, part := range q.parts() {
			cs, err := s.conversions(ctx, site, part)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
		sortByPerson(out)
		return out, nil
	}
	rows, err := s.queryConversions(ctx, site, q)
	if err != nil {
		return nil, err
	}
	r := rowConversions{rows: rows}
	defer r.Close()
	var out []Conversion
	var c Conversion
	for {
		more, err := r.next(&c)
		if err != nil || !more {
			return out, err
		}
		out = append(out, c)
	}
}

// queryConversions asks for the site's conversions that q picks, ordered by person
// (personOrder), time and id, as sortByPerson orders them; rowConversions reads each.
func (s *store) queryConversions(ctx context.Context, site string, q conversionQuery) (driver.Rows, error) {
	few, fewArgs := q.few(s.db, site)
	// Conversions asked for by id are picked by the table's key, before their rows are
	// merged and their people resolved: over half a million conversions, picking them
	// after took 1.3 s for each chunk of a backlog.
	byID, innerArgs := "", []any{site}
	if q.ids != nil {
		byID, innerArgs = " AND "+chstore.InList("conversion_id"), append(innerArgs, q.ids)
	}
	inner := fmt.Sprintf(`SELECT conversion_id, type, lead_type, occurred_at, person_id, value, currency, email_sha256, user_id,
			bitAnd(version, %d) AS received_ms,
			if(lead_type = 'call', visitParamExtractString(props, 'touch'), '') AS call_touch,
			visitParamExtractString(props, 'channel') AS call_channel, visitParamExtractString(props, 'source') AS call_source,
			visitParamExtractString(props, 'medium') AS call_medium, visitParamExtractString(props, 'campaign') AS call_campaign
		FROM %s.conversions FINAL WHERE site_id = ? AND is_bot = 0%s%s`, uint64(event.ServerRank-1), s.db, byID, few) // a bot's conversion earns no credit
	resolved, args := chstore.CurrentPerson(s.db, site, inner, innerArgs...)
	if few != "" {
		resolved, args = chstore.CurrentPersonOfFew(s.db, site, inner, append(innerArgs, fewArgs...)...)
	}
	where, whereArgs := q.where(s.db, site)
	sql := fmt.Sprintf("SELECT %s FROM (%s) WHERE %s ORDER BY cityHash64(person), person, occurred_at, conversion_id", conversionCols,
		resolved, where)
	rows, err := s.conn.Query(ctx, sql, append(args, whereArgs...)...)
	if err != nil {
		return nil, fmt.Errorf("cannot read conversions: %w", err)
	}
	return rows, nil
}

// rowConversions streams the rows of queryConversions, counting them. A rebuild reads a
// million conversions: held in memory for its whole length, they were most of what the
// garbage collector marked at each of its cycles.
type rowConversions struct {
	rows driver.Rows
	n    int
	// Each row is scanned into the same variables, through the same list of them (dest):
	// a list and five strings made at each row were a million allocations of a rebuild.
	c                         Conversion
	touch, ch, src, med, camp string
	dest                      []any
}

// next reads the next row into c; false at the end.
func (r *rowConversions) next(c *Conversion) (bool, error) {
	if !r.rows.Next() {
		return false, r.rows.Err()
	}
	r.n++
	if r.dest == nil {
		x := &r.c
		r.dest = []any{&x.ID, &x.Type, &x.LeadType, &x.At, &x.Person, &x.Value, &x.Currency, &x.EmailSHA256, &x.UserID, &x.Received,
			&r.touch, &r.ch, &r.src, &r.med, &r.camp}
	}
	if err := r.rows.Scan(r.dest...); err != nil {
		return false, fmt.Errorf("cannot read conversions: %w", err)
	}
	*c = r.c
	c.Fixed = fixedTouch(r.touch, r.ch, r.src, r.med, r.camp, c.At)
	return true, nil
}

func (r *rowConversions) Close() error { return r.rows.Close() }

// scope is what one computation covers: the touchpoints it reads and the conversions
// whose earlier credit it replaces. Either it lists persons and conversion ids, or it
// covers every conversion that occurred in [from, to) and the persons who made them.
type scope struct {
	sessionsFrom, sessionsTo time.Time // touchpoints started in [sessionsFrom, sessionsTo]
	persons, ids             []string
	from, to                 time.Time
}

// personsWhere is the condition on resolved sessions that picks the scope's persons.
// Over a range, the persons are matched by the hashes of their ids, a set of numbers:
// over the bench's 10 million sessions that took 1-2 s less of ClickHouse CPU than a
// set of ids. A person whose id shared a hash with one of the scope would only have
// their sessions read: without a conversion in the scope, they earn no credit.
func (sc *scope) personsWhere(db, site string) (string, []any) {
	if sc.persons != nil {
		return chstore.InList("person"), []any{sc.persons}
	}
	resolved, args := chstore.CurrentPersonHash(db, site, fmt.Sprintf("SELECT person_id, occurred_at FROM %s.conversions FINAL WHERE site_id = ?", db), site)
	return fmt.Sprintf("%s IN (SELECT person_hash FROM (%s) WHERE occurred_at >= ? AND occurred_at < ?)", chstore.PersonHash, resolved),
		append(args, sc.from, sc.to)
}

// creditedWhere is the condition on touch_credits rows that picks the scope's conversions.
func (sc *scope) creditedWhere() (string, []any) {
	if sc.ids != nil {
		return chstore.InList("conversion_id"), []any{sc.ids}
	}
	return "occurred_at >= ? AND occurred_at < ?", []any{sc.from, sc.to}
}

// querySessions asks for the touchpoints (non-bot, not deleted) of the scope's persons,
// ordered by the hash of their person (personOrder; persons sharing a hash come mixed);
// eachSession reads them. Over a whole site, sorting by the hash alone took ClickHouse
// 2.5 s less CPU than sorting by the ids (14 s against 16.5 s for the query). Ordering
// each person's few sessions by time is left to the caller: in ClickHouse it made the
// sort of a whole site a sixth slower.
//
// It reads every row version instead of FINAL, which took 1.6 times as long over a
// whole site, and the caller keeps each session's latest version (latestVersions). That
// is the version FINAL would give: a session's versions share its start and visitor, and
// the person of each is the visitor's person when it was written, which person_aliases
// resolves to the same current person.
//
// A session's text columns come packed in one string (sessionText): ClickHouse sorts
// two string columns instead of twelve, and the driver makes two Go strings per row
// instead of twelve. Over a whole site that saved a seventh of Go's CPU in a rebuild.
func (s *store) querySessions(ctx context.Context, site string, sc *scope) (driver.Rows, error) {
	live, liveArgs := liveSessions(s.db, site, sc.sessionsFrom, sc.sessionsTo)
	inner := fmt.Sprintf(`SELECT person_id, session_id, visitor_id, started_at, channel, source, medium, campaign, term,
			content, landing_path, country, device, version
		FROM %s.sessions WHERE %s`, s.db, live)
	resolved, args := chstore.CurrentPerson(s.db, site, inner, liveArgs...)
	where, whereArgs := sc.personsWhere(s.db, site)
	// Packed after the persons are picked: only their sessions' text is copied, and only
	// their ids turned into text (for the whole site's sessions that took 1.2-1.7 s more of
	// ClickHouse's CPU in a rebuild).
	q := fmt.Sprintf(`SELECT cityHash64(person) AS hash, person, started_at, version, %s AS text FROM (%s) WHERE %s ORDER BY hash`,
		sessionText, resolved, where)
	rows, err := s.conn.Query(ctx, q, append(args, whereArgs...)...)
	if err != nil {
		return nil, fmt.Errorf("cannot read sessions: %w", err)
	}
	return rows, nil
}

// sessionText is a session's text columns, packed; eachSession unpacks them.
var sessionText = chstore.Packed("toString(session_id)", "visitor_id", "channel", "source", "medium", "campaign", "term",
	"content", "landing_path", "country", "device")

// liveSessions is chstore.LiveSessions for the sessions started in [from, to].
func liveSessions(db, site string, from, to time.Time) (string, []any) {
	return chstore.LiveSessions(db, site, "started_at >= ? AND started_at <= ?", []any{from, to})
}

// eachSession gives f each session of querySessions' rows with the hash of its person.
func eachSession(rows driver.Rows, f func(uint64, *Session) error) error {
	var x Session
	var hash uint64
	var text string
	dest := []any{&hash, &x.Person, &x.At, &x.version, &text} // one list for every row, as rowConversions
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := chstore.Unpack(text, &x.ID, &x.VisitorID, &x.Channel, &x.Source, &x.Medium, &x.Campaign, &x.Term, &x.Content,
			&x.LandingPath, &x.Country, &x.Device); err != nil {
			return fmt.Errorf("cannot read sessions: %w", err)
		}
		if err := f(hash, &x); err != nil {
			return err
		}
	}
	return rows.Err()
}

// latestVersions sorts one person's sessions as read by querySessions by start and id,
// and keeps the latest version of each.
func latestVersions(ss []Session) []Session {
	slices.SortFunc(ss, func(a, b Session) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(a.ID, b.ID), cmp.Compare(a.version, b.version))
	})
	out := ss[:0]
	for i := range ss {
		if i+1 < len(ss) && ss[i+1].ID == ss[i].ID {
			continue // an older version
		}
		out = append(out, ss[i])
	}
	return out
}

// creditedKeys returns the touches that currently carry credit for each conversion of
// the scope, so a recomputation can remove touches that dropped out.
func (s *store) creditedKeys(ctx context.Context, site string, sc *scope) (map[string][]credited, error) {
	where, args := sc.creditedWhere()
	q := fmt.Sprintf(`SELECT conversion_id, session_id, credit_first_click > 0, credit_last_click > 0 FROM %s.touch_credits FINAL
		WHERE site_id = ? AND removed = 0 AND %s`, s.db, where)
	rows, err := s.conn.Query(ctx, q, append([]any{site}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("cannot read current credit: %w", err)
	}
	defer rows.Close()
	out := map[string][]credited{}
	for rows.Next() {
		var id string
		var k credited
		var first, last uint8
		if err := rows.Scan(&id, &k.session, &first, &last); err != nil {
			return nil, err
		}
		k.first, k.last = first == 1, last == 1
		out[id] = append(out[id], k)
	}
	return out, rows.Err()
}

// removeDropped marks removed the touches that the computation of version v no longer
// credits, for the conversions of the scope it computed: their rows whose current version
// is older than v. It does in ClickHouse what computation.person does with the credited
// touches it read, for scopes too large to read them.
func (s *store) removeDropped(ctx context.Context, site string, sc *scope, v uint64) error {
	where, args := sc.creditedWhere()
	// The removal reads every row of the range twice, FINAL among them: 7 s of ClickHouse's
	// CPU over a million conversions. Two counts skip it when it would write nothing. A
	// first rebuild finds no credit older than v. A rebuild over unchanged touches finds
	// every credited pair written again at v or later. Pairs are compared by a 64-bit hash,
	// read in 1.5 s: the removal would be skipped wrongly only if every dropped pair shared
	// its hash with a written one, about 1 in 4 * 10^12 for one pair among 5 M.
	var older uint64
	err := s.conn.QueryRow(ctx, fmt.Sprintf(`SELECT count() FROM %s.touch_credits WHERE site_id = ? AND %s AND version < ? AND removed = 0`,
		s.db, where), append(append([]any{site}, args...), v)...).Scan(&older)
	if err == nil && older > 0 {
		err = s.conn.QueryRow(ctx, fmt.Sprintf(`SELECT count() FROM %[1]s.touch_credits
			WHERE site_id = ? AND %[2]s AND version < ? AND removed = 0 AND cityHash64(conversion_id, session_id) NOT IN (
				SELECT cityHash64(conversion_id, session_id) FROM %[1]s.touch_credits WHERE site_id = ? AND %[2]s AND version >= ?)`,
			s.db, where), append(append(append(append([]any{site}, args...), v, site), args...), v)...).Scan(&older)
	}
	if err != nil {
		return fmt.Errorf("cannot look for credit to remove: %w", err)
	}
	if older == 0 {
		return nil
	}
	q := fmt.Sprintf(`INSERT INTO %[1]s.touch_credits (site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id,
			session_id, touch_at, value, currency, removed, computed_at, version)
		SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, session_id, occurred_at, value, currency,
			toUInt8(1), now(), toUInt64(?)
		FROM (
			SELECT site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, session_id, value, currency, removed, version
			FROM %[1]s.touch_credits FINAL WHERE site_id = ? AND %[2]s)
		WHERE removed = 0 AND version < ?
			AND conversion_id IN (SELECT conversion_id FROM %[1]s.touch_credits WHERE site_id = ? AND %[2]s AND version = ?)`, s.db, where)
	all := append(append(append(append([]any{v, site}, args...), v, site), args...), v)
	if err := s.conn.Exec(ctx, q, all...); err != nil {
		return fmt.Errorf("cannot remove credit of touches that dropped out: %w", err)
	}
	return nil
}

// credited is a touch of a conversion's current credit, and whether first- and
// last-click credit it.
type credited struct {
	session     string
	first, last bool
}

// inventedDirect returns the conversions whose current credit goes to the Direct touch
// that earlier versions invented for a conversion without touchpoints (no session id,
// channel Direct).
func (s *store) inventedDirect(ctx context.Context, site string) ([]string, error) {
	q := fmt.Sprintf(`SELECT DISTINCT conversion_id FROM (
			SELECT conversion_id, channel, removed FROM %s.touch_credits FINAL WHERE site_id = ? AND session_id = '')
		WHERE removed = 0 AND channel = 'Direct'`, s.db)
	rows, err := s.conn.Query(ctx, q, site)
	if err != nil {
		return nil, fmt.Errorf("cannot look for invented Direct touches: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

var creditCols = `site_id, conversion_id, conversion_type, lead_type, occurred_at, person_id, visitor_id, session_id, touch_at,
	channel, source, medium, campaign, term, content, landing_page, country, device, value, currency, ` +
	strings.Join(model.CreditColumns, ", ") + `, removed, computed_at, version`

// creditRow is one touch_credits row as computed: its conversion, credited touch and
// credit per model, whose fields fill the columns when its block is written. A row is a
// few words, where its columns were a few hundred bytes of string headers for the
// garbage collector to scan.
type creditRow struct {
	conv    *Conversion
	touch   *Session
	credits modelCredits
	removed uint8
}

// writer collects credit rows and hands full blocks to lanes in the background, so
// computing the next block overlaps with ClickHouse inserting the last ones. A lane is one
// INSERT that sends block after block: its column buffers are reused, where a new INSERT
// per block grew every buffer from empty again, which cost more CPU than computing the
// credit. Rows are batched per month of the conversion, the table's partition, and each
// month has its lane (month modulo maxLanes): ClickHouse gathers an INSERT's blocks into
// large ones before writing them, one part per month a gathered block spans. When any lane
// took any month's block, each gathered block of a rebuild spanned every month of its
// range: over the bench's five months, its inserts wrote 97 parts (with those of the
// tables the inserts fill through views) instead of 55, and ClickHouse spent 46-50 s of
// CPU on the rebuild instead of 39-44 s, merging them and faulting in their buffers.
// The conversions and touches a row points to must not change until flush returns.
type writer struct {
	s        *store
	max      int
	site     string                     // of every row
	now      time.Time                  // computed_at of every row
	version  uint64                     // of every row
	open     map[int][]creditRow        // by month (year*12 + month)
	buffered int                        // rows in open
	free     chan []creditRow           // blocks the lanes have written, for reuse
	todo     [maxLanes]chan []creditRow // each lane's full blocks, nil until it starts and once closed
	lanes    int
	done     chan error // one per lane when it ends
	mu       sync.Mutex
	err      error // the first lane error
}

// maxLanes is at most how many INSERTs a writer runs at once: with the two reads of a
// computation, six of chstore's eight connections.
const maxLanes = 4

// laneBlockBytes is how large ClickHouse gathers a lane's blocks (min_insert_block_size_bytes,
// 256 MiB by default): half a gigabyte across the four lanes, as across the two lanes that
// took any month before.
const laneBlockBytes = 128 << 20

// maxOpenBatches bounds the rows buffered across months to that many full blocks.
const maxOpenBatches = 4

func (s *store) newWriter(max int, site string, now time.Time, version uint64) *writer {
	return &writer{s: s, max: max, site: site, now: now, version: version, open: map[int][]creditRow{},
		free: make(chan []creditRow, maxLanes+maxOpenBatches), done: make(chan error, maxLanes)}
}

func (w *writer) row(ctx context.Context, c *Conversion, s *Session, credits *modelCredits, removed uint8) error {
	month := c.At.UTC().Year()*12 + int(c.At.UTC().Month())
	r := w.open[month]
	if r == nil {
		r = w.newRows()
	}
	r = append(r, creditRow{conv: c, touch: s, credits: *credits, removed: removed})
	w.open[month] = r
	w.buffered++
	if len(r) >= w.max {
		return w.send(ctx, month)
	}
	if w.buffered >= maxOpenBatches*w.max {
		return w.send(ctx, w.fullest())
	}
	return nil
}

// newRows returns an empty block, reusing a written one when there is one.
func (w *writer) newRows() []creditRow {
	select {
	case r := <-w.free:
		return r[:0]
	default:
		return make([]creditRow, 0, w.max)
	}
}

func (w *writer) fullest() int {
	best, n := 0, -1
	for m, r := range w.open {
		if len(r) > n {
			best, n = m, len(r)
		}
	}
	return best
}

// send hands the rows collected for month to the month's lane, starting it if need be; it
// waits while the lane is busy.
func (w *writer) send(ctx context.Context, month int) error {
	rows := w.open[month]
	if rows == nil {
		return nil
	}
	delete(w.open, month)
	w.buffered -= len(rows)
	if err := w.failed(); err != nil {
		return err
	}
	l := month % maxLanes
	if w.todo[l] == nil {
		w.todo[l] = make(chan []creditRow)
		w.lanes++
		go w.lane(ctx, w.todo[l])
	}
	w.todo[l] <- rows
	return nil
}

func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// fail records err unless an earlier error is recorded.
func (w *writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = cmp.Or(w.err, err)
}

// lane inserts the blocks it receives as blocks of one INSERT, which it completes when
// todo is closed. After an error it only returns the blocks, so send never blocks.
func (w *writer) lane(ctx context.Context, todo <-chan []creditRow) {
	ctx = chstore.WithSetting(ctx, "min_insert_block_size_bytes", laneBlockBytes)
	b, err := chstore.PrepareBatch(ctx, w.s.conn, "INSERT INTO "+w.s.db+".touch_credits ("+creditCols+")")
	if err != nil {
		err = fmt.Errorf("cannot prepare credit insert: %w", err)
		w.fail(err)
	}
	var cols blockColumns
	for rows := range todo {
		if err == nil {
			if err = cols.write(b, w, rows); err != nil {
				w.fail(err)
			}
		}
		clear(rows) // let go of the conversions and touches
		select {
		case w.free <- rows:
		default:
		}
	}
	if b != nil {
		if err == nil {
			if err = b.Send(); err != nil {
				err = fmt.Errorf("cannot write credit: %w", err)
			}
		} else {
			b.Abort()
		}
	}
	w.done <- err
}

// blockColumns are one lane's buffers for turning rows into columns: appending whole
// columns to a batch is several times cheaper than appending rows of boxed values.
type blockColumns struct {
	order  []int32
	spans  []span
	strs   []string
	times  []time.Time
	floats []float64
	bytes  []uint8
	uints  []uint64
}

// write sends rows as one block, in the table's key order. Each column is built in a
// buffer that the next one reuses: the batch copies what it is given.
func (c *blockColumns) write(b driver.Batch, w *writer, rows []creditRow) error {
	c.order, c.spans = keyOrder(rows, c.order, c.spans)
	var err error
	col := 0
	add := func(values any) {
		if err = b.Column(col).Append(values); err != nil {
			err = fmt.Errorf("cannot append credit column %d: %w", col, err)
		}
		col++
	}
	str := func(f func(*creditRow) string) {
		if err == nil {
			c.strs = column(c.strs, rows, c.order, f)
			add(c.strs)
		}
	}
	at := func(f func(*creditRow) time.Time) {
		if err == nil {
			c.times = column(c.times, rows, c.order, f)
			add(c.times)
		}
	}
	num := func(f func(*creditRow) float64) {
		if err == nil {
			c.floats = column(c.floats, rows, c.order, f)
			add(c.floats)
		}
	}
	// In the order of creditCols.
	str(func(*creditRow) string { return w.site })
	str(func(r *creditRow) string { return r.conv.ID })
	str(func(r *creditRow) string { return r.conv.Type })
	str(func(r *creditRow) string { return r.conv.LeadType })
	at(func(r *creditRow) time.Time { return r.conv.At })
	str(func(r *creditRow) string { return r.conv.Person })
	str(func(r *creditRow) string { return r.touch.VisitorID })
	str(func(r *creditRow) string { return r.touch.ID })
	at(func(r *creditRow) time.Time { return r.touch.At })
	str(func(r *creditRow) string { return r.touch.Channel })
	str(func(r *creditRow) string { return r.touch.Source })
	str(func(r *creditRow) string { return r.touch.Medium })
	str(func(r *creditRow) string { return r.touch.Campaign })
	str(func(r *creditRow) string { return r.touch.Term })
	str(func(r *creditRow) string { return r.touch.Content })
	str(func(r *creditRow) string { return r.touch.LandingPath })
	str(func(r *creditRow) string { return r.touch.Country })
	str(func(r *creditRow) string { return r.touch.Device })
	num(func(r *creditRow) float64 { return r.conv.Value })
	str(func(r *creditRow) string { return r.conv.Currency })
	for m := range (modelCredits{}) {
		num(func(r *creditRow) float64 { return r.credits[m] })
	}
	if err == nil {
		c.bytes = column(c.bytes, rows, c.order, func(r *creditRow) uint8 { return r.removed })
		add(c.bytes)
	}
	at(func(*creditRow) time.Time { return w.now })
	if err == nil {
		c.uints = column(c.uints, rows, c.order, func(*creditRow) uint64 { return w.version })
		add(c.uints)
	}
	if err != nil {
		return err
	}
	if err := b.Flush(); err != nil {
		return fmt.Errorf("cannot write credit: %w", err)
	}
	return nil
}

// column fills buf with f of each row, in the given order.
func column[T any](buf []T, rows []creditRow, order []int32, f func(*creditRow) T) []T {
	buf = buf[:0]
	for _, i := range order {
		buf = append(buf, f(&rows[i]))
	}
	return buf
}

// wait ends the lanes and returns the first error. The writer cannot be used after.
func (w *writer) wait() error {
	for l, todo := range w.todo {
		if todo != nil {
			close(todo)
			w.todo[l] = nil
		}
	}
	for ; w.lanes > 0; w.lanes-- {
		if err := <-w.done; err != nil {
			w.fail(err)
		}
	}
	return w.failed()
}

// flush sends what is left and waits until everything is written.
func (w *writer) flush(ctx context.Context) error {
	for month := range w.open {
		if err := w.send(ctx, month); err != nil {
			w.wait()
			return err
		}
	}
	return w.wait()
}

// state reads one value of attribution_state.
func (s *store) state(ctx context.Context, site, name string) (uint64, bool, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT value FROM %s.attribution_state FINAL WHERE site_id = ? AND name = ?`, s.db), site, name)
	if err != nil {
		return 0, false, fmt.Errorf("cannot read attribution state: %w", err)
	}
	defer rows.Close()
	var v uint64
	if !rows.Next() {
		return 0, false, rows.Err()
	}
	if err := rows.Scan(&v); err != nil {
		return 0, false, err
	}
	return v, true, nil
}

// setState writes values of attribution_state.
func (s *store) setState(ctx context.Context, site string, values map[string]uint64) error {
	b, err := chstore.PrepareBatch(ctx, s.conn, "INSERT INTO "+s.db+".attribution_state (site_id, name, value, updated_at, version)")
	if err != nil {
		return fmt.Errorf("cannot write attribution state: %w", err)
	}
	defer b.Abort()
	now := time.Now()
	for k, v := range values {
		if err := b.Append(site, k, v, now, uint64(now.UnixNano())); err != nil {
			return err
		}
	}
	return b.Send()
}

// maxVersion is the highest version in table for the site.
func (s *store) maxVersion(ctx context.Context, site, table string) (uint64, error) {
	var v uint64
	err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT max(version) FROM %s.%s WHERE site_id = ?", s.db, table), site).Scan(&v)
	return v, err
}

// written reports whether table has rows of the site whose version, read through the
// expression version, is above wm. Every pass of the engine asks, and the answer is mostly
// no: over the bench's ten million sessions and million conversions, reading the one
// column says so in 5-15 ms, where resolving the rows' persons to find none took 0.36 s
// for the sessions and 0.59 s for the conversions.
func (s *store) written(ctx context.Context, site, table, version string, wm uint64) (bool, error) {
	var n uint64
	err := s.conn.QueryRow(ctx, "SELECT count() "+newerRows(s.db, table, version), wm, site).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("cannot read %s: %w", table, err)
	}
	return n > 0, nil
}

// newerRows is the FROM clause of the rows of a site in db.table whose version, read
// through the expression version, is above a watermark: its arguments are the watermark,
// then the site. Only the one column is read for rows that do not pass.
func newerRows(db, table, version string) string {
	return fmt.Sprintf("FROM %s.%s PREWHERE %s > ? WHERE site_id = ?", db, table, version)
}

// mergesSince returns whether merges were written after version wm, and the highest
// version seen.
func (s *store) mergesSince(ctx context.Context, site string, wm uint64) (bool, uint64, error) {
	q, args := s.merged(site, wm)
	var n, top uint64
	if err := s.conn.QueryRow(ctx, "SELECT count(), max(version) FROM ("+q+")", args...).Scan(&n, &top); err != nil {
		return false, 0, fmt.Errorf("cannot read person merges: %w", err)
	}
	return n > 0, max(top, wm), nil
}

// merged is the query of the current persons of merges written after version wm, and the
// version of each merge, and its arguments.
func (s *store) merged(site string, wm uint64) (string, []any) {
	// Only the ids with a row written since are read with FINAL, not every alias each pass.
	return fmt.Sprintf(`SELECT current_person_id, version FROM %s.person_aliases FINAL
		WHERE site_id = ? AND person_id IN (SELECT person_id %s) AND version > ?`, s.db, newerRows(s.db, "person_aliases", "version")),
		[]any{site, wm, site, wm}
}

// withSessions is the query of the current persons of the sessions written after version
// wm, with their start and version, and its arguments.
func (s *store) withSessions(site string, wm uint64) (string, []any) {
	// Few sessions are new at each pass: only their ids' aliases are joined.
	inner := "SELECT person_id, started_at, version " + newerRows(s.db, "sessions", "version") + " AND is_bot = 0"
	return chstore.CurrentPersonOfFew(s.db, site, inner, wm, site)
}

// newSessions returns, per current person, the earliest start of sessions written after
// version wm, and the highest version seen.
func (s *store) newSessions(ctx context.Context, site string, wm uint64) (map[string]time.Time, uint64, error) {
	out := map[string]time.Time{}
	if ok, err := s.written(ctx, site, "sessions", "version", wm); err != nil || !ok {
		return out, wm, err
	}
	resolved, args := s.withSessions(site, wm)
	rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT person, min(started_at), max(version) FROM (%s) GROUP BY person`, resolved), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read new sessions: %w", err)
	}
	defer rows.Close()
	top := wm
	for rows.Next() {
		var p string
		var at time.Time
		var v uint64
		if err := rows.Scan(&p, &at, &v); err != nil {
			return nil, 0, err
		}
		out[p] = at
		top = max(top, v)
	}
	return out, top, rows.Err()
}
