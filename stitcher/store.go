package stitcher

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/stitcher/identity"
	"touchpoint/stitcher/session"
)

// Store keeps the stitcher's rows and gives back what earlier batches wrote: ClickHouse
// (NewClickHouseStore), or memory in unit tests. Reads return the newest version of each
// row, as the ReplacingMergeTree tables keep it.
type Store interface {
	// sessions returns the stored sessions of the visitors that started at or after since
	// (unix seconds), deleted ones too.
	sessions(ctx context.Context, site string, vids []string, since int64) ([]storedSession, error)
	// events returns the stored browser events of each visitor in from at or after the time
	// given there (unix seconds), their referrers read with the site's referral rules.
	events(ctx context.Context, site string, from map[string]int64, r *session.Referrals) ([]storedEvent, error)
	// links returns the stored identity links that touch any of the identifiers; links a
	// server made are marked Server.
	links(ctx context.Context, site string, vids, emails, users []string) ([]identity.Link, error)
	// aliases returns the current person of each of ids that was merged into another.
	aliases(ctx context.Context, site string, ids []string) (map[string]string, error)
	// write stores a batch's rows in every table, then moves the stored events whose
	// session changed.
	write(ctx context.Context, rows *batchRows) error
	// erasedCount returns how many rows erased_identifiers has: when it changed, erased
	// reads them all, as site -> id_sha256 -> time of the erasure (unix ms).
	erasedCount(ctx context.Context) (uint64, error)
	erased(ctx context.Context) (map[string]map[string]int64, error)
}

// storedSession is a stored session of a visitor.
type storedSession struct {
	vid        string
	id         uuid.UUID
	start, end int64 // unix seconds
	deleted    bool
}

// storedEvent is a stored browser event of a visitor.
type storedEvent struct {
	session.Event
	vid string
}

// clickHouse is the Store of a ClickHouse database.
type clickHouse struct {
	conn driver.Conn
	db   string
}

// NewClickHouseStore is the Store of database db.
func NewClickHouseStore(conn driver.Conn, db string) Store { return &clickHouse{conn: conn, db: db} }

// Both reads below take every row version and keep the newest one here instead of asking
// for FINAL: ClickHouse 18.16 merges FINAL reads on one thread before filtering by
// visitor, which made the events read 5 to 10 times slower than a plain read of the same
// rows.

func (c *clickHouse) sessions(ctx context.Context, site string, vids []string, since int64) ([]storedSession, error) {
	q := fmt.Sprintf(`SELECT visitor_id, session_id, toUnixTimestamp(started_at), toUnixTimestamp(ended_at), deleted, version
		FROM %s.sessions WHERE site_id = ? AND started_at >= toDateTime(?) AND `+chstore.InList("visitor_id"), c.db)
	rows, err := c.conn.Query(ctx, q, site, since, vids)
	if err != nil {
		return nil, fmt.Errorf("cannot read sessions: %w", err)
	}
	defer rows.Close()
	type version struct {
		storedSession
		v uint64
	}
	newest := map[uuid.UUID]version{}
	for rows.Next() {
		var s version
		var start, end uint32
		var deleted uint8
		if err := rows.Scan(&s.vid, &s.id, &start, &end, &deleted, &s.v); err != nil {
			return nil, fmt.Errorf("cannot read sessions: %w", err)
		}
		s.start, s.end, s.deleted = int64(start), int64(end), deleted == 1
		if cur, ok := newest[s.id]; !ok || s.v >= cur.v {
			newest[s.id] = s
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read sessions: %w", err)
	}
	out := make([]storedSession, 0, len(newest))
	for _, s := range newest {
		out = append(out, s.storedSession)
	}
	return out, nil
}

func (c *clickHouse) events(ctx context.Context, site string, from map[string]int64, r *session.Referrals) ([]storedEvent, error) {
	vids := make([]string, 0, len(from))
	low := int64(1<<62 - 1)
	for vid, f := range from {
		vids = append(vids, vid)
		low = min(low, f)
	}
	q := fmt.Sprintf(`SELECT visitor_id, event_id, toUnixTimestamp(ts), event_type, url, referrer, is_bot, session_id, version,
			country, device
		FROM %s.events WHERE site_id = ? AND `+chstore.InList("visitor_id")+` AND ts >= toDateTime(?) AND origin != 'server'`, c.db)
	rows, err := c.conn.Query(ctx, q, site, vids, low)
	if err != nil {
		return nil, fmt.Errorf("cannot read events: %w", err)
	}
	defer rows.Close()
	type stored struct {
		vid, typ, url, ref, session string
		country, device             string
		ts                          uint32
		bot                         uint8
		version                     uint64
	}
	newest := map[uuid.UUID]stored{}
	for rows.Next() {
		var e stored
		var id uuid.UUID
		if err := rows.Scan(&e.vid, &id, &e.ts, &e.typ, &e.url, &e.ref, &e.bot, &e.session, &e.version, &e.country, &e.device); err != nil {
			return nil, fmt.Errorf("cannot read events: %w", err)
		}
		if int64(e.ts) < from[e.vid] {
			continue
		}
		if cur, ok := newest[id]; !ok || e.version >= cur.version {
			newest[id] = e
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read events: %w", err)
	}
	out := make([]storedEvent, 0, len(newest))
	for id, e := range newest {
		ev := session.NewEvent(id, int64(e.ts), e.typ == event.Pageview, e.bot == 1, e.url, e.ref, r)
		ev.Session, _ = uuid.Parse(e.session)
		ev.Country, ev.Device = e.country, e.device
		out = append(out, storedEvent{ev, e.vid})
	}
	return out, nil
}

func (c *clickHouse) links(ctx context.Context, site string, vids, emails, users []string) ([]identity.Link, error) {
	where := `WHERE site_id = ? AND (` + chstore.InList("visitor_id") + ` OR ` + chstore.InList("email_sha256") + ` OR ` + chstore.InList("user_id") + `)`
	q := fmt.Sprintf(`SELECT visitor_id, email_sha256, user_id, 0 FROM %[1]s.identities %[2]s
		UNION ALL SELECT visitor_id, email_sha256, user_id, 1 FROM %[1]s.server_links %[2]s`, c.db, where)
	vids, emails, users = nonEmpty(vids), nonEmpty(emails), nonEmpty(users)
	rows, err := c.conn.Query(ctx, q, site, vids, emails, users, site, vids, emails, users)
	if err != nil {
		return nil, fmt.Errorf("cannot read identities: %w", err)
	}
	defer rows.Close()
	var out []identity.Link
	for rows.Next() {
		var l identity.Link
		var server uint8
		if err := rows.Scan(&l.Visitor, &l.Email, &l.User, &server); err != nil {
			return nil, fmt.Errorf("cannot read identities: %w", err)
		}
		l.Server = server == 1
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read identities: %w", err)
	}
	return out, nil
}

// nonEmpty keeps the array bound to a query typed as Array(String): an empty Go slice
// would bind as [] and an empty identifier never matches a real one.
func nonEmpty(s []string) []string {
	if len(s) == 0 {
		return []string{"\x00"}
	}
	return s
}

func (c *clickHouse) aliases(ctx context.Context, site string, ids []string) (map[string]string, error) {
	q := fmt.Sprintf(`SELECT person_id, argMax(current_person_id, version) FROM %s.person_aliases
		WHERE site_id = ? AND `+chstore.InList("person_id")+` GROUP BY person_id`, c.db)
	rows, err := c.conn.Query(ctx, q, site, ids)
	if err != nil {
		return nil, fmt.Errorf("cannot read person aliases: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			return nil, fmt.Errorf("cannot read person aliases: %w", err)
		}
		out[from] = to
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read person aliases: %w", err)
	}
	return out, nil
}

// write inserts into the tables at the same time (ClickHouse works on each insert
// apart), conversions last: once a conversion is visible, so are the sessions and
// identities its batch wrote, and the attribution service can credit it at once.
func (c *clickHouse) write(ctx context.Context, rows *batchRows) error {
	var wg sync.WaitGroup
	tables := rows.tables()
	before, conversions := tables[:len(tables)-1], tables[len(tables)-1]
	errs := make([]error, len(before)+1)
	insert := func(i int, table, columns string, n int, fill func(driver.Batch, int, int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.insertBlock(ctx, table, columns, n, fill); err != nil {
				errs[i] = fmt.Errorf("cannot insert into %s: %w", table, err)
			}
		}()
	}
	insert(0, "events", eventColumns, rows.events.len(), rows.events.appendTo)
	for i, t := range before {
		insert(i+1, t.table, t.columns, len(t.rows), appendRows(t.rows))
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := c.insertBlock(ctx, conversions.table, conversions.columns, len(conversions.rows), appendRows(conversions.rows)); err != nil {
		return fmt.Errorf("cannot insert into conversions: %w", err)
	}
	return c.moveEvents(ctx, rows.rewrites, rows.version)
}

func appendRows(rows [][]any) func(driver.Batch, int, int) error {
	return func(b driver.Batch, lo, hi int) error {
		for _, r := range rows[lo:hi] {
			if err := b.Append(r...); err != nil {
				return err
			}
		}
		return nil
	}
}

// blockRows is how many rows go to ClickHouse in one block of an INSERT. The driver's
// columns keep their capacity from block to block, so a large insert reuses the memory of
// its first block instead of growing every column to the whole batch. The server squashes
// the blocks of an INSERT into one part as before; a failed insert is written again whole,
// and its rows are keyed, so none is counted twice.
const blockRows = 8192

// insertBlock inserts n rows, which fill appends to a batch a range at a time. A batch
// cannot be re-sent after a failure: it is rebuilt from the caller's rows on each attempt.
func (c *clickHouse) insertBlock(ctx context.Context, table, columns string, n int, fill func(b driver.Batch, lo, hi int) error) error {
	if n == 0 {
		return nil
	}
	b, err := chstore.PrepareBatch(ctx, c.conn, "INSERT INTO "+c.db+"."+table+" ("+columns+")")
	if err != nil {
		return err
	}
	defer b.Abort()
	for lo := 0; lo < n; lo += blockRows {
		if lo > 0 {
			if err := b.Flush(); err != nil {
				return err
			}
		}
		if err := fill(b, lo, min(n, lo+blockRows)); err != nil {
			return err
		}
	}
	return b.Send()
}

// moveEvents rewrites stored events whose session changed because a late event arrived,
// copying each row inside ClickHouse with the new session id and a newer version.
func (c *clickHouse) moveEvents(ctx context.Context, rws []rewrite, version uint64) error {
	bySite := map[string][2][]string{}
	for _, r := range rws {
		v := bySite[r.site]
		v[0], v[1] = append(v[0], r.event.String()), append(v[1], r.session.String())
		bySite[r.site] = v
	}
	q := fmt.Sprintf(`INSERT INTO %[1]s.events (%[2]s)
		SELECT site_id, event_id, event_type, visitor_id, person_id, transform(toString(event_id), ?, ?, session_id), ts, received_at,
		url, path, referrer, title, event_name, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
		click_id_type, click_id, props, country, region, city, browser, os, device, is_bot,
		screen, language, timezone, ip, origin, form, traits, fbc, fbp, user_agent, toUInt64(?)
		FROM %[1]s.events FINAL WHERE site_id = ? AND `+chstore.InList("toString(event_id)"), c.db, eventColumns)
	for site, v := range bySite {
		// Each id is bound twice: half the usual list length keeps the query short enough.
		for i := 0; i < len(v[0]); i += maxListLen / 2 {
			ids, sessions := v[0][i:min(len(v[0]), i+maxListLen/2)], v[1][i:min(len(v[1]), i+maxListLen/2)]
			if err := c.conn.Exec(ctx, q, ids, sessions, version, site, ids); err != nil {
				return fmt.Errorf("cannot move events to their sessions: %w", err)
			}
		}
	}
	return nil
}
