package privacy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"touchpoint/internal/event"
	"touchpoint/stitcher/identity"
)

// Identifier names the person of a request: exactly one of its fields is set. An email is
// hashed as the collector hashes it and never stored.
type Identifier struct {
	Email       string `json:"email,omitempty"`
	EmailSHA256 string `json:"email_sha256,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	VisitorID   string `json:"visitor_id,omitempty"`
}

// InputError is a request that does not name one person.
type InputError struct{ msg string }

func (e *InputError) Error() string { return e.msg }

// ErrIdentifier is returned for a request that does not name exactly one identifier.
var ErrIdentifier error = &InputError{"give exactly one of email, email_sha256, user_id or visitor_id"}

// key returns the identity key the identifier stands for and its kind's name.
func (id Identifier) key() (identity.Key, string, error) {
	var keys []identity.Key
	var names []string
	if e := strings.TrimSpace(id.Email); e != "" {
		keys, names = append(keys, identity.Key{Kind: kindEmail, Value: event.EmailSHA256(e)}), append(names, "email")
	}
	if h := strings.ToLower(strings.TrimSpace(id.EmailSHA256)); h != "" {
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			return identity.Key{}, "", &InputError{"email_sha256 is 64 hex digits: the SHA-256 of the trimmed, lower-cased address"}
		}
		keys, names = append(keys, identity.Key{Kind: kindEmail, Value: h}), append(names, "email")
	}
	if id.UserID != "" {
		keys, names = append(keys, identity.Key{Kind: kindUser, Value: id.UserID}), append(names, "user_id")
	}
	if id.VisitorID != "" {
		keys, names = append(keys, identity.Key{Kind: kindVisitor, Value: id.VisitorID}), append(names, "visitor_id")
	}
	if len(keys) != 1 {
		return identity.Key{}, "", ErrIdentifier
	}
	return keys[0], names[0], nil
}

// person is everything that identifies one person of a site: the identifiers linked to
// the one asked for, every person id they were stored under, and their conversions.
type person struct {
	site                    string
	visitors, emails, users set
	persons, conversions    set
	days                    map[time.Time]bool // UTC days of their sessions and conversions
}

type set map[string]bool

func (s set) list() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// bound is the set as a query argument. An empty Go slice would bind as [], which
// ClickHouse cannot type; the zero byte never is a stored identifier.
func (s set) bound() []string {
	if len(s) == 0 {
		return []string{"\x00"}
	}
	return s.list()
}

func (s set) add(v string) bool {
	if v == "" || s[v] {
		return false
	}
	s[v] = true
	return true
}

// keys returns the person's identifiers.
func (p *person) keys() []identity.Key {
	var out []identity.Key
	for _, v := range p.visitors.list() {
		out = append(out, identity.Key{Kind: kindVisitor, Value: v})
	}
	for _, v := range p.emails.list() {
		out = append(out, identity.Key{Kind: kindEmail, Value: v})
	}
	for _, v := range p.users.list() {
		out = append(out, identity.Key{Kind: kindUser, Value: v})
	}
	return out
}

// find collects the person of k: the identifiers connected to it through the identity
// graph (identities and server_links), the person ids of all of them and the person ids
// merged into those, their conversions and the days their sessions and conversions fall on.
func (s *Service) find(ctx context.Context, site string, k identity.Key) (*person, error) {
	p := &person{site: site, visitors: set{}, emails: set{}, users: set{}, persons: set{}, conversions: set{}, days: map[time.Time]bool{}}
	addKey := func(k identity.Key) bool {
		switch k.Kind {
		case kindVisitor:
			return p.visitors.add(k.Value)
		case kindEmail:
			return p.emails.add(k.Value)
		default:
			return p.users.add(k.Value)
		}
	}
	addKey(k)
	q := fmt.Sprintf(`SELECT visitor_id, email_sha256, user_id, '' FROM %[1]s.server_links
		WHERE site_id = ? AND (has(?, visitor_id) OR has(?, email_sha256) OR has(?, user_id))
		UNION ALL SELECT visitor_id, email_sha256, user_id, person_id FROM %[1]s.identities
		WHERE site_id = ? AND (has(?, visitor_id) OR has(?, email_sha256) OR has(?, user_id))`, s.DB)
	for grew := true; grew; {
		grew = false
		v, e, u := p.visitors.bound(), p.emails.bound(), p.users.bound()
		rows, err := s.Conn.Query(ctx, q, site, v, e, u, site, v, e, u)
		if err != nil {
			return nil, fmt.Errorf("cannot read the identity graph: %w", err)
		}
		for rows.Next() {
			var vid, email, user, pid string
			if err := rows.Scan(&vid, &email, &user, &pid); err != nil {
				rows.Close()
				return nil, fmt.Errorf("cannot read the identity graph: %w", err)
			}
			for _, k := range (identity.Link{Visitor: vid, Email: email, User: user}).Keys() {
				grew = addKey(k) || grew
			}
			p.persons.add(pid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("cannot read the identity graph: %w", err)
		}
	}
	// Every person id ever written is the own id of one of the person's identifiers or a
	// person those were merged into (person_aliases), and merged persons are the same person.
	for _, k := range p.keys() {
		p.persons.add(identity.OwnID(site, k))
	}
	aq := fmt.Sprintf(`SELECT person_id, current_person_id FROM %s.person_aliases
		WHERE site_id = ? AND (has(?, person_id) OR has(?, current_person_id))`, s.DB)
	for grew := true; grew; {
		grew = false
		ids := p.persons.bound()
		rows, err := s.Conn.Query(ctx, aq, site, ids, ids)
		if err != nil {
			return nil, fmt.Errorf("cannot read person aliases: %w", err)
		}
		for rows.Next() {
			var from, to string
			if err := rows.Scan(&from, &to); err != nil {
				rows.Close()
				return nil, fmt.Errorf("cannot read person aliases: %w", err)
			}
			grew = p.persons.add(from) || grew
			grew = p.persons.add(to) || grew
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("cannot read person aliases: %w", err)
		}
	}
	cq := fmt.Sprintf(`SELECT conversion_id, toDate(occurred_at, 'UTC') FROM %[1]s.conversions
		WHERE site_id = ? AND (has(?, person_id) OR has(?, visitor_id) OR has(?, email_sha256) OR has(?, user_id))
		UNION ALL SELECT DISTINCT conversion_id, toDate(occurred_at, 'UTC') FROM %[1]s.touch_credits WHERE site_id = ? AND has(?, person_id)
		UNION ALL SELECT DISTINCT '', toDate(started_at, 'UTC') FROM %[1]s.sessions WHERE site_id = ? AND (has(?, visitor_id) OR has(?, person_id))`, s.DB)
	pids := p.persons.bound()
	v, e, u := p.visitors.bound(), p.emails.bound(), p.users.bound()
	rows, err := s.Conn.Query(ctx, cq, site, pids, v, e, u, site, pids, site, v, pids)
	if err != nil {
		return nil, fmt.Errorf("cannot read the person's conversions and sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var day time.Time
		if err := rows.Scan(&id, &day); err != nil {
			return nil, fmt.Errorf("cannot read the person's conversions and sessions: %w", err)
		}
		p.conversions.add(id)
		p.days[day.UTC()] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read the person's conversions and sessions: %w", err)
	}
	return p, nil
}
