package stitcher

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
	"touchpoint/stitcher/identity"
	"touchpoint/stitcher/session"
)

// row is one stored row, by column name.
type row map[string]any

func (r row) str(col string) string { return fmt.Sprint(r[col]) }

func (r row) unix(col string) int64 { return r[col].(time.Time).Unix() }

// named pairs the values of a row with the names in columns.
func named(columns string, vals []any) row {
	r := row{}
	for i, c := range strings.Split(columns, ",") {
		r[strings.TrimSpace(c)] = vals[i]
	}
	return r
}

// memStore keeps rows in memory as the ClickHouse tables do: the newest version of each
// key, replaced when a row with the same key and a version at least as high comes.
type memStore struct {
	mu     sync.Mutex
	tables map[string]map[string]row // table -> key -> row
	writes int                       // batches written
	// gate, when set, holds each write until a value is sent on it: the batch stays in
	// flight, as a slow insert into ClickHouse does.
	gate chan struct{}
}

func newMemStore() *memStore { return &memStore{tables: map[string]map[string]row{}} }

// keys are the columns of each table's ReplacingMergeTree key, the events' without the site.
var keys = map[string][]string{
	"events":         {"site_id", "event_id"},
	"sessions":       {"site_id", "session_id"},
	"conversions":    {"site_id", "conversion_id"},
	"identities":     {"site_id", "visitor_id", "email_sha256", "user_id"},
	"server_links":   {"site_id", "visitor_id", "email_sha256", "user_id"},
	"person_aliases": {"site_id", "person_id"},
	"person_merges":  {"site_id", "person_id", "merged_into"},
}

func (m *memStore) put(table string, r row) {
	var k []string
	for _, c := range keys[table] {
		k = append(k, r.str(c))
	}
	key := strings.Join(k, "\x00")
	t := m.tables[table]
	if t == nil {
		t = map[string]row{}
		m.tables[table] = t
	}
	if old, ok := t[key]; ok && old["version"] != nil && old["version"].(uint64) > r["version"].(uint64) {
		return
	}
	t[key] = r
}

// rows returns a table's rows of site.
func (m *memStore) rows(table, site string) []row {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []row
	for _, r := range m.tables[table] {
		if r.str("site_id") == site {
			out = append(out, r)
		}
	}
	return out
}

func (m *memStore) write(_ context.Context, rows *batchRows) error {
	if m.gate != nil && rows.events.len() > 0 {
		<-m.gate // only a batch's own write is held; reconciliation's follow-up is not
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cols := strings.Split(eventColumns, ",")
	for i := range rows.events.len() {
		r := row{}
		s, t := 0, 0
		for j, kind := range eventKinds {
			c := strings.TrimSpace(cols[j])
			switch kind {
			case 's':
				r[c], s = rows.events.str[s][i], s+1
			case 'u':
				r[c] = rows.events.id[i]
			case 't':
				r[c], t = [2][]time.Time{rows.events.ts, rows.events.rcv}[t][i], t+1
			case 'b':
				r[c] = rows.events.bot[i]
			case 'v':
				r[c] = rows.events.version[i]
			}
		}
		m.put("events", r)
	}
	for _, t := range rows.tables() {
		for _, vals := range t.rows {
			r := named(t.columns, vals)
			if r["version"] == nil { // person_merges keeps every row
				r["version"] = uint64(0)
			}
			m.put(t.table, r)
		}
	}
	for _, rw := range rows.rewrites {
		key := rw.site + "\x00" + rw.event.String()
		if r, ok := m.tables["events"][key]; ok {
			moved := row{}
			for c, v := range r {
				moved[c] = v
			}
			moved["session_id"], moved["version"] = rw.session.String(), rows.version
			m.put("events", moved)
		}
	}
	m.writes++
	return nil
}

func (m *memStore) sessions(_ context.Context, site string, vids []string, since int64) ([]storedSession, error) {
	want := set(vids)
	var out []storedSession
	for _, r := range m.rows("sessions", site) {
		if want[r.str("visitor_id")] && r.unix("started_at") >= since {
			out = append(out, storedSession{vid: r.str("visitor_id"), id: r["session_id"].(uuid.UUID),
				start: r.unix("started_at"), end: r.unix("ended_at"), deleted: r["deleted"].(uint8) == 1})
		}
	}
	return out, nil
}

func (m *memStore) events(_ context.Context, site string, from map[string]int64, ref *session.Referrals) ([]storedEvent, error) {
	var out []storedEvent
	for _, r := range m.rows("events", site) {
		f, ok := from[r.str("visitor_id")]
		if !ok || r.unix("ts") < f || r.str("origin") == event.OriginServer {
			continue
		}
		ev := session.NewEvent(r["event_id"].(uuid.UUID), r.unix("ts"), r.str("event_type") == event.Pageview,
			r["is_bot"].(uint8) == 1, r.str("url"), r.str("referrer"), ref)
		ev.Session, _ = uuid.Parse(r.str("session_id"))
		ev.Country, ev.Device = r.str("country"), r.str("device")
		out = append(out, storedEvent{ev, r.str("visitor_id")})
	}
	return out, nil
}

func (m *memStore) links(_ context.Context, site string, vids, emails, users []string) ([]identity.Link, error) {
	v, e, u := set(vids), set(emails), set(users)
	var out []identity.Link
	for _, table := range []string{"identities", "server_links"} {
		for _, r := range m.rows(table, site) {
			l := identity.Link{Visitor: r.str("visitor_id"), Email: r.str("email_sha256"), User: r.str("user_id"), Server: table == "server_links"}
			if v[l.Visitor] || e[l.Email] || u[l.User] {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

func (m *memStore) aliases(_ context.Context, site string, ids []string) (map[string]string, error) {
	want := set(ids)
	out := map[string]string{}
	for _, r := range m.rows("person_aliases", site) {
		if want[r.str("person_id")] {
			out[r.str("person_id")] = r.str("current_person_id")
		}
	}
	return out, nil
}

// set holds the non-empty strings of s.
func set(s []string) map[string]bool {
	out := map[string]bool{}
	for _, v := range s {
		if v != "" {
			out[v] = true
		}
	}
	return out
}
