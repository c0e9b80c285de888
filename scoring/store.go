package scoring

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
	"touchpoint/scoring/rules"
)

// Where a site's rules come from.
const (
	FromAPI  = "api"  // PUT /api/v1/scoring
	FromFile = "file" // the site file
	FromNone = "none" // no rules: no scores
)

// Current are the rules a site scores with and where they come from.
type Current struct {
	Site      string       `json:"site"`
	Source    string       `json:"source"`
	Rules     *rules.Rules `json:"rules"`
	Version   uint64       `json:"version,omitempty"` // of rules set through the API
	UpdatedBy string       `json:"updated_by,omitempty"`
	UpdatedAt *time.Time   `json:"updated_at,omitempty"`
}

// Store keeps the rules set through the API in scoring_rules, every version: a site's
// highest version is in use; empty rules there mean cleared, so the site file's apply.
type Store struct {
	Conn driver.Conn
	DB   string
}

// Current returns the rules the site scores with: those set through the API, else the
// site file's.
func (s *Store) Current(ctx context.Context, st *site.Site) (Current, error) {
	c := Current{Site: st.ID, Source: FromNone}
	if st.Scoring != nil {
		c.Source, c.Rules = FromFile, st.Scoring
	}
	if s == nil {
		return c, nil
	}
	rows, err := s.Conn.Query(ctx, fmt.Sprintf(`SELECT version, rules, updated_by, updated_at FROM %s.scoring_rules
		WHERE site_id = ? ORDER BY version DESC LIMIT 1`, s.DB), st.ID)
	if err != nil {
		return c, fmt.Errorf("cannot read scoring rules: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return c, rows.Err()
	}
	var version uint64
	var text, by string
	var at time.Time
	if err := rows.Scan(&version, &text, &by, &at); err != nil {
		return c, fmt.Errorf("cannot read scoring rules: %w", err)
	}
	if text == "" {
		return c, nil // cleared
	}
	r, err := rules.Parse([]byte(text))
	if err != nil {
		return c, fmt.Errorf("stored scoring rules of %s: %w", st.ID, err)
	}
	at = at.UTC()
	return Current{Site: st.ID, Source: FromAPI, Rules: r, Version: version, UpdatedBy: by, UpdatedAt: &at}, nil
}

// Save stores rules as the site's; nil clears them, so the site file's apply again.
// Scoring rescores everyone with them at its next pass.
func (s *Store) Save(ctx context.Context, siteID string, r *rules.Rules, by string, now time.Time) error {
	text := ""
	if r != nil {
		text = string(r.JSON())
	}
	b, err := chstore.PrepareBatch(ctx, s.Conn, fmt.Sprintf(
		"INSERT INTO %s.scoring_rules (site_id, version, rules, updated_by, updated_at)", s.DB))
	if err != nil {
		return fmt.Errorf("cannot store scoring rules: %w", err)
	}
	// The version orders saves by when they happened, whatever clock now comes from.
	if err := b.Append(siteID, uint64(time.Now().UnixNano()), text, by, now.UTC()); err != nil {
		b.Abort()
		return fmt.Errorf("cannot store scoring rules: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot store scoring rules: %w", err)
	}
	return nil
}
