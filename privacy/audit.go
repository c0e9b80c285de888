package privacy

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/chstore"
)

// audit is one privacy_erasures row.
type audit struct {
	e          Erasure
	salt, hash string
}

// record writes the audit row of an erasure (again, with a higher version, as it ends).
func (s *Service) record(ctx context.Context, a audit) error {
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+`.privacy_erasures (site_id, erasure_id, kind, identifier_hash, salt,
		requested_by, requested_at, finished_at, status, error, tables, rows, version)`)
	if err != nil {
		return fmt.Errorf("cannot write the erasure's audit record: %w", err)
	}
	defer b.Abort()
	names := make([]string, 0, len(a.e.Rows))
	for t := range a.e.Rows {
		names = append(names, t)
	}
	sort.Strings(names)
	rows := make([]uint64, len(names))
	for i, t := range names {
		rows[i] = a.e.Rows[t]
	}
	finished := a.e.FinishedAt
	if finished.IsZero() {
		finished = time.Unix(0, 0)
	}
	if err := b.Append(a.e.Site, a.e.ID, a.e.Kind, a.hash, a.salt, a.e.RequestedBy, a.e.RequestedAt, finished, a.e.Status, a.e.Error,
		names, rows, uint64(time.Now().UnixNano())); err != nil {
		return fmt.Errorf("cannot write the erasure's audit record: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot write the erasure's audit record: %w", err)
	}
	return nil
}

// Status returns the erasure with id of site.
func (s *Service) Status(ctx context.Context, site string, id uuid.UUID) (Erasure, error) {
	list, err := s.erasures(ctx, site, id)
	if err != nil {
		return Erasure{}, err
	}
	if len(list) == 0 {
		return Erasure{}, ErrNotFound
	}
	return list[0], nil
}

// Erasures returns the site's erasures, newest first.
func (s *Service) Erasures(ctx context.Context, site string) ([]Erasure, error) {
	return s.erasures(ctx, site, uuid.Nil)
}

func (s *Service) erasures(ctx context.Context, site string, id uuid.UUID) ([]Erasure, error) {
	q := `SELECT erasure_id, kind, requested_by, requested_at, finished_at, status, error, tables, rows
		FROM ` + s.DB + `.privacy_erasures FINAL WHERE site_id = ? AND (? = 0 OR erasure_id = toUUID(?))
		ORDER BY requested_at DESC, erasure_id LIMIT 1000`
	all := uint8(0)
	if id != uuid.Nil {
		all = 1
	}
	rows, err := s.Conn.Query(ctx, q, site, all, id.String())
	if err != nil {
		return nil, fmt.Errorf("cannot read privacy_erasures: %w", err)
	}
	defer rows.Close()
	out := []Erasure{}
	for rows.Next() {
		e := Erasure{Site: site, Rows: map[string]uint64{}}
		var names []string
		var counts []uint64
		if err := rows.Scan(&e.ID, &e.Kind, &e.RequestedBy, &e.RequestedAt, &e.FinishedAt, &e.Status, &e.Error, &names, &counts); err != nil {
			return nil, fmt.Errorf("cannot read privacy_erasures: %w", err)
		}
		if e.FinishedAt.Unix() <= 0 {
			e.FinishedAt = time.Time{}
		}
		for i, t := range names {
			if i < len(counts) {
				e.Rows[t] = counts[i]
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
