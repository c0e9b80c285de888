// Package privacy erases a person from every table, exports what is stored about them,
// and deletes raw data older than a site's retention (docs/privacy.md).
package privacy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/internal/chstore"
	"touchpoint/stitcher/identity"
)

// Service erases, exports and applies retention in one database.
type Service struct {
	Conn driver.Conn
	DB   string
	// Grace is how long after an erasure began it looks once more for the person's rows:
	// the stitcher may be writing a batch it read before it learnt of the erasure, and the
	// attribution engine a computation it started before. 0: 10 s.
	Grace time.Duration
	// Ctx bounds the erasures running in the background (the service's lifetime).
	Ctx context.Context
}

// Erasure is the state of one erasure, as the audit record keeps it.
type Erasure struct {
	ID          uuid.UUID         `json:"id"`
	Site        string            `json:"site"`
	Kind        string            `json:"kind"` // email, user_id or visitor_id
	RequestedBy string            `json:"requested_by"`
	RequestedAt time.Time         `json:"requested_at"`
	FinishedAt  time.Time         `json:"finished_at,omitzero"`
	Status      string            `json:"status"` // running, done or failed
	Error       string            `json:"error,omitempty"`
	Rows        map[string]uint64 `json:"rows"` // rows removed per table
}

// Erasure states.
const (
	Running = "running"
	Done    = "done"
	Failed  = "failed"
)

// ErrNotFound is returned for an unknown erasure id.
var ErrNotFound = errors.New("no such erasure")

func (s *Service) grace() time.Duration {
	if s.Grace > 0 {
		return s.Grace
	}
	return 10 * time.Second
}

// StartErase records an erasure of the person with id and runs it in the background;
// Status follows it. requestedBy is the token id that asked.
func (s *Service) StartErase(ctx context.Context, site string, id Identifier, requestedBy string) (Erasure, error) {
	k, kind, err := id.key()
	if err != nil {
		return Erasure{}, err
	}
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return Erasure{}, fmt.Errorf("cannot make a salt: %w", err)
	}
	h := sha256.New()
	h.Write(salt[:])
	h.Write([]byte{0, k.Kind, 0})
	h.Write([]byte(k.Value))
	e := Erasure{ID: uuid.New(), Site: site, Kind: kind, RequestedBy: requestedBy, RequestedAt: time.Now().UTC().Truncate(time.Second),
		Status: Running, Rows: map[string]uint64{}}
	a := audit{e: e, salt: hex.EncodeToString(salt[:]), hash: hex.EncodeToString(h.Sum(nil))}
	if err := s.record(ctx, a); err != nil {
		return Erasure{}, err
	}
	base := s.Ctx
	if base == nil {
		base = context.Background()
	}
	go func() {
		start := time.Now()
		// A deletion ClickHouse cannot finish (a broken part) must not hold the job forever.
		ctx, cancel := context.WithTimeout(base, 30*time.Minute)
		defer cancel()
		err := s.erase(ctx, site, k.Kind, k.Value, &a.e)
		a.e.FinishedAt = time.Now().UTC().Truncate(time.Second)
		a.e.Status = Done
		if err != nil {
			a.e.Status, a.e.Error = Failed, err.Error()
			log.Printf("privacy: erasure %s of site %s failed after %s: %v", a.e.ID, site, time.Since(start).Round(time.Millisecond), err)
		} else {
			log.Printf("privacy: erasure %s of site %s done in %s: %v", a.e.ID, site, time.Since(start).Round(time.Millisecond), a.e.Rows)
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(base), 30*time.Second)
		defer cancel()
		if err := s.record(wctx, a); err != nil {
			log.Printf("privacy: cannot record the end of erasure %s: %v", a.e.ID, err)
		}
	}()
	return e, nil
}

// Erase removes the person with id and waits until it is done; it is StartErase without
// the background, for tools and benchmarks.
func (s *Service) Erase(ctx context.Context, site string, id Identifier) (map[string]uint64, error) {
	k, _, err := id.key()
	if err != nil {
		return nil, err
	}
	var e Erasure
	e.Rows = map[string]uint64{}
	err = s.erase(ctx, site, k.Kind, k.Value, &e)
	return e.Rows, err
}

// erase removes the person of identifier (kind, value) from every table:
//  1. it finds the person: every identifier linked to it, every person id, conversion and day;
//  2. it records those identifiers as erased, so the stitcher drops their events still on
//     their way (Kafka, a collector's spool);
//  3. it deletes their rows from every table (ALTER TABLE ... DELETE) and waits for the
//     deletions to finish;
//  4. it marks their days changed, so the source report's rollups of those days are built
//     again without them;
//  5. after the grace period it looks for rows written meanwhile by a stitcher batch or an
//     attribution computation that began before step 2, and deletes those too.
//
// Rows that come from events the collector received after the erasure began are new data
// (the person came back) and are kept.
func (s *Service) erase(ctx context.Context, site string, kind byte, value string, e *Erasure) error {
	began := time.Now()
	p, err := s.find(ctx, site, identity.Key{Kind: kind, Value: value})
	if err != nil {
		return err
	}
	if err := s.tombstones(ctx, p, e.ID, began); err != nil {
		return err
	}
	// Rows of events received in the second the erasure began or before; whole seconds,
	// as DateTime columns and the stitcher count them.
	before := began.Truncate(time.Second).Add(time.Second)
	for round := 0; ; round++ {
		n, err := s.deleteRows(ctx, p, before, e.Rows)
		if err != nil {
			return err
		}
		if round > 0 && n == 0 {
			break
		}
		if round == 5 {
			return fmt.Errorf("rows of the person were still being written after %d rounds of deletion", round)
		}
		if round == 0 || n > 0 {
			if err := s.changedDays(ctx, p); err != nil {
				return err
			}
		}
		// Late rows can only come from work that began before the tombstones were written.
		if wait := time.Until(began.Add(s.grace())); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
	}
	return nil
}

// tombstones records the person's identifiers in erased_identifiers.
func (s *Service) tombstones(ctx context.Context, p *person, id uuid.UUID, at time.Time) error {
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+".erased_identifiers (site_id, id_sha256, erased_at, erasure_id)")
	if err != nil {
		return fmt.Errorf("cannot record erased identifiers: %w", err)
	}
	defer b.Abort()
	for _, k := range p.keys() {
		if err := b.Append(p.site, IDSHA256(p.site, k.Kind, k.Value), at.UTC(), id); err != nil {
			return fmt.Errorf("cannot record erased identifiers: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot record erased identifiers: %w", err)
	}
	return nil
}

// deleteRows deletes the person's rows of every table that holds some, waits until the
// deletions are done, adds the rows removed to counts and returns how many there were.
func (s *Service) deleteRows(ctx context.Context, p *person, before time.Time, counts map[string]uint64) (uint64, error) {
	var total uint64
	var mutated []string
	for _, t := range tables {
		cond, args, ok := t.where(p, true, before)
		if !ok {
			continue
		}
		var n uint64
		if err := s.Conn.QueryRow(ctx, "SELECT count() FROM "+s.DB+"."+t.name+" WHERE "+cond, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("cannot count the person's rows in %s: %w", t.name, err)
		}
		if n == 0 {
			continue
		}
		if err := s.Conn.Exec(ctx, "ALTER TABLE "+s.DB+"."+t.name+" DELETE WHERE "+cond, args...); err != nil {
			return 0, fmt.Errorf("cannot delete the person's rows from %s: %w", t.name, err)
		}
		counts[t.name] += n
		total += n
		mutated = append(mutated, t.name)
	}
	return total, s.awaitMutations(ctx, mutated, time.Now())
}

// awaitMutations waits until every mutation of the tables created up to issued is done,
// ours among them. create_time has whole seconds: one more covers the rounding.
func (s *Service) awaitMutations(ctx context.Context, tables []string, issued time.Time) error {
	if len(tables) == 0 {
		return nil
	}
	q := `SELECT count() FROM system.mutations WHERE database = ? AND has(?, table) AND is_done = 0 AND create_time <= ?`
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var n uint64
		if err := s.Conn.QueryRow(ctx, q, s.DB, tables, issued.Add(time.Second)).Scan(&n); err != nil {
			return fmt.Errorf("cannot follow the deletions: %w", err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// changedDays marks the days of the person's sessions and conversions changed, so that
// the source report reads them from the tables again and rebuilds their rollups.
func (s *Service) changedDays(ctx context.Context, p *person) error {
	if len(p.days) == 0 {
		return nil
	}
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+".report_changes (site_id, day, changed_at)")
	if err != nil {
		return fmt.Errorf("cannot mark report days changed: %w", err)
	}
	defer b.Abort()
	now := time.Now().UTC()
	for d := range p.days {
		if err := b.Append(p.site, d, now); err != nil {
			return fmt.Errorf("cannot mark report days changed: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot mark report days changed: %w", err)
	}
	return nil
}

// ConversionErased reports whether the conversion is no longer stored (an erasure
// removed it). An error counts as not erased.
func (s *Service) ConversionErased(ctx context.Context, site, conversionID string) bool {
	var n uint64
	err := s.Conn.QueryRow(ctx, "SELECT count() FROM "+s.DB+".conversions WHERE site_id = ? AND conversion_id = ?", site, conversionID).Scan(&n)
	return err == nil && n == 0
}
