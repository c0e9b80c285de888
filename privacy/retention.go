package privacy

import (
	"context"
	"fmt"
	"time"

	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
)

// raw are the tables retention applies to, with the time column that ages their rows:
// the journey data (events and sessions, a session by its start, also in person_sessions;
// the tracking numbers visitors held, by when they gave them back), the webhook delivery
// log and the deliveries themselves (by when they were made), whose payloads name the
// person. Conversions, their credit (touch_credits) and the identity graph are kept: they
// are the site's record of leads and sales and their credit.
var raw = []struct{ table, at string }{
	{"events", "ts"},
	{"sessions", "started_at"},
	{"person_sessions", "started_at"},
	{"number_leases", "leased_to"},
	{"webhook_deliveries", "at"},
	{"delivery_queue", "created_at"},
}

// Cutoff is the start of the oldest UTC day a retention of days keeps at now. Rows older
// than it are deleted. Whole days make the cut move once a day, so a table is rewritten
// at most daily.
func Cutoff(now time.Time, days int) time.Time {
	return now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -days)
}

// Retain deletes the site's raw rows older than its retention and waits until that is
// done; it returns the rows removed per table. A site without retention_days keeps all.
func (s *Service) Retain(ctx context.Context, st *site.Site, now time.Time) (map[string]uint64, error) {
	out := map[string]uint64{}
	if st.RetentionDays <= 0 {
		return out, nil
	}
	cutoff := Cutoff(now, st.RetentionDays)
	// The source report reads days whose sessions go from the tables again.
	rows, err := s.Conn.Query(ctx, "SELECT DISTINCT toDate(started_at, 'UTC') FROM "+s.DB+".sessions WHERE site_id = ? AND started_at < ?", st.ID, cutoff)
	if err != nil {
		return nil, fmt.Errorf("cannot find the days retention removes: %w", err)
	}
	p := &person{site: st.ID, days: map[time.Time]bool{}}
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cannot find the days retention removes: %w", err)
		}
		p.days[d] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot find the days retention removes: %w", err)
	}
	var mutated []string
	for _, r := range raw {
		cond := "site_id = ? AND " + r.at + " < ?"
		var n uint64
		if err := s.Conn.QueryRow(ctx, "SELECT count() FROM "+s.DB+"."+r.table+" WHERE "+cond, st.ID, cutoff).Scan(&n); err != nil {
			return nil, fmt.Errorf("cannot count %s past retention: %w", r.table, err)
		}
		if n == 0 {
			continue
		}
		if err := chstore.Delete(ctx, s.Conn, s.Auth, s.DB, r.table, cond, st.ID, cutoff); err != nil {
			return nil, fmt.Errorf("cannot delete %s past retention: %w", r.table, err)
		}
		out[r.table] = n
		mutated = append(mutated, r.table)
	}
	if err := chstore.AwaitMutations(ctx, s.Conn, s.DB, mutated, time.Now()); err != nil {
		return nil, err
	}
	return out, s.changedDays(ctx, p)
}
