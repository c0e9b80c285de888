package privacy

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"
)

// Export is everything stored about one person: for each table, its rows as objects of
// column name to value.
type Export struct {
	Site       string                      `json:"site"`
	Identifier string                      `json:"identifier"` // the kind asked for: email, user_id or visitor_id
	Persons    []string                    `json:"person_ids"`
	Visitors   []string                    `json:"visitor_ids"`
	Emails     []string                    `json:"email_sha256s"`
	Users      []string                    `json:"user_ids"`
	Tables     map[string][]map[string]any `json:"tables"`
	ExportedAt time.Time                   `json:"exported_at"`
}

// Export collects every row of every table that belongs to the person with id: the
// current version of each (FINAL), as ClickHouse answers a query for it.
func (s *Service) Export(ctx context.Context, site string, id Identifier) (*Export, error) {
	k, kind, err := id.key()
	if err != nil {
		return nil, err
	}
	p, err := s.find(ctx, site, k)
	if err != nil {
		return nil, err
	}
	out := &Export{Site: site, Identifier: kind, Persons: p.persons.list(), Visitors: p.visitors.list(), Emails: p.emails.list(),
		Users: p.users.list(), Tables: map[string][]map[string]any{}, ExportedAt: time.Now().UTC().Truncate(time.Second)}
	for _, t := range tables {
		out.Tables[t.name] = []map[string]any{}
		cond, args, ok := t.where(p, false, time.Time{})
		if !ok {
			continue
		}
		final := ""
		if t.final {
			final = " FINAL"
		}
		rows, err := s.Conn.Query(ctx, "SELECT * FROM "+s.DB+"."+t.name+final+" WHERE "+cond, args...)
		if err != nil {
			return nil, fmt.Errorf("cannot export %s: %w", t.name, err)
		}
		types := rows.ColumnTypes()
		for rows.Next() {
			vals := make([]any, len(types))
			for i, ct := range types {
				vals[i] = reflect.New(ct.ScanType()).Interface()
			}
			if err := rows.Scan(vals...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("cannot export %s: %w", t.name, err)
			}
			row := make(map[string]any, len(types))
			for i, ct := range types {
				row[ct.Name()] = plain(reflect.ValueOf(vals[i]).Elem().Interface())
			}
			out.Tables[t.name] = append(out.Tables[t.name], row)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("cannot export %s: %w", t.name, err)
		}
	}
	return out, nil
}

// plain makes a scanned value read well as JSON.
func plain(v any) any {
	switch v := v.(type) {
	case uuid.UUID:
		return v.String()
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	}
	return v
}
