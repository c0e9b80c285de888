package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/internal/chstore"
)

// States of a delivery.
const (
	Pending   = "pending"   // waiting for its next attempt
	Delivered = "delivered" // the receiver accepted it
	Failed    = "failed"    // given up: no attempt left, or refused for good
	Dropped   = "dropped"   // not sent: the site no longer sends there
)

// Targets of a delivery.
const (
	TargetWebhook = "webhook" // the site's CRM webhook
	TargetMeta    = "meta"    // the Meta Conversions API
)

// Delivery is one request to send, with its current state.
type Delivery struct {
	Site, ID      string
	Target, Event string
	ConversionID  string
	URL           string // where it went last (no secret in it)
	Payload       []byte // the body, without signatures or tokens
	State         string
	Attempts      int
	NextAttemptAt time.Time // of a pending delivery
	Status        int       // of the last attempt's answer; 0 without one
	Error         string    // of the last attempt
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       uint64
}

// DeliveryID is the id of the delivery made of parts (site, target, event, conversion and
// what distinguishes it): the same parts give the same id, so a delivery made again after
// a failed attribution pass replaces the first one instead of adding another.
func DeliveryID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "dlv_" + hex.EncodeToString(h[:12])
}

// Attempt is one logged try.
type Attempt struct {
	Site, DeliveryID, Target, Event, ConversionID, URL string
	Attempt                                            int
	Status                                             int
	Error                                              string
	Delivered                                          bool
	NextRetryAt                                        time.Time // zero when no retry follows
	Payload                                            []byte
	At                                                 time.Time
}

// Store keeps deliveries in delivery_queue and attempts in webhook_deliveries.
type Store struct {
	Conn driver.Conn
	DB   string
}

var lastVersion atomic.Uint64

// nextVersion is a version above every one this process gave before: two changes of one
// delivery within a nanosecond still order.
func nextVersion() uint64 {
	for {
		last := lastVersion.Load()
		v := max(uint64(time.Now().UnixNano()), last+1)
		if lastVersion.CompareAndSwap(last, v) {
			return v
		}
	}
}

const queueColumns = `site_id, delivery_id, target, event, conversion_id, url, payload, state, attempts, next_attempt_at,
	status, error, created_at, updated_at, version`

// zeroTime is the DateTime of a time that is not set: DateTime cannot hold Go's zero time.
var zeroTime = time.Unix(0, 0).UTC()

func dbTime(t time.Time) time.Time {
	if t.IsZero() {
		return zeroTime
	}
	return t
}

// Save writes ds as their current state, each with a new version (set in ds).
func (s *Store) Save(ctx context.Context, ds ...Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+".delivery_queue ("+queueColumns+")")
	if err != nil {
		return fmt.Errorf("cannot write deliveries: %w", err)
	}
	defer b.Abort()
	now := time.Now().UTC()
	for i := range ds {
		d := &ds[i]
		d.Version = nextVersion()
		if d.CreatedAt.IsZero() {
			d.CreatedAt = now
		}
		d.UpdatedAt = now
		if err := b.Append(d.Site, d.ID, d.Target, d.Event, d.ConversionID, d.URL, string(d.Payload), d.State,
			uint16(min(d.Attempts, 65535)), dbTime(d.NextAttemptAt), uint16(d.Status), d.Error, d.CreatedAt, d.UpdatedAt, d.Version); err != nil {
			return fmt.Errorf("cannot write deliveries: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot write deliveries: %w", err)
	}
	return nil
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]Delivery, error) {
	rows, err := s.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot read deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var payload string
		var attempts, status uint16
		if err := rows.Scan(&d.Site, &d.ID, &d.Target, &d.Event, &d.ConversionID, &d.URL, &payload, &d.State, &attempts,
			&d.NextAttemptAt, &status, &d.Error, &d.CreatedAt, &d.UpdatedAt, &d.Version); err != nil {
			return nil, fmt.Errorf("cannot read deliveries: %w", err)
		}
		d.Payload, d.Attempts, d.Status = []byte(payload), int(attempts), int(status)
		if !d.NextAttemptAt.After(zeroTime) {
			d.NextAttemptAt = time.Time{}
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Pending returns every pending delivery, of every site.
func (s *Store) Pending(ctx context.Context) ([]Delivery, error) {
	return s.query(ctx, "SELECT "+queueColumns+" FROM "+s.DB+".delivery_queue FINAL WHERE state = ?", Pending)
}

// Since returns the rows written with a version above v (the latest of each delivery),
// whatever wrote them: another process's "send again" reaches the sender this way.
func (s *Store) Since(ctx context.Context, v uint64) ([]Delivery, error) {
	// Without FINAL: only the newest rows are read, not the whole table.
	ds, err := s.query(ctx, "SELECT "+queueColumns+" FROM "+s.DB+".delivery_queue WHERE version > ? ORDER BY version", v)
	if err != nil {
		return nil, err
	}
	latest := map[string]int{}
	out := ds[:0]
	for _, d := range ds {
		k := d.Site + "\x00" + d.ID
		if i, ok := latest[k]; ok {
			out[i] = d
			continue
		}
		latest[k] = len(out)
		out = append(out, d)
	}
	return out, nil
}

// Made returns the deliveries already made of a site's conversions, of every target and
// state, without their payloads.
func (s *Store) Made(ctx context.Context, site string, conversionIDs []string) ([]Delivery, error) {
	if len(conversionIDs) == 0 {
		return nil, nil
	}
	rows, err := s.Conn.Query(ctx, "SELECT delivery_id, target, event, conversion_id, state, created_at FROM "+s.DB+
		".delivery_queue FINAL WHERE site_id = ? AND "+chstore.InList("conversion_id"), site, conversionIDs)
	if err != nil {
		return nil, fmt.Errorf("cannot read the deliveries of conversions: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d := Delivery{Site: site}
		if err := rows.Scan(&d.ID, &d.Target, &d.Event, &d.ConversionID, &d.State, &d.CreatedAt); err != nil {
			return nil, fmt.Errorf("cannot read the deliveries of conversions: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Filter narrows List; empty fields do not filter.
type Filter struct {
	ConversionID, State, Target, Event string
}

// List returns a site's latest deliveries, newest first.
func (s *Store) List(ctx context.Context, site string, f Filter, limit int) ([]Delivery, error) {
	return s.query(ctx, "SELECT "+queueColumns+" FROM "+s.DB+`.delivery_queue FINAL
		WHERE site_id = ? AND (? = '' OR conversion_id = ?) AND (? = '' OR state = ?) AND (? = '' OR target = ?) AND (? = '' OR event = ?)
		ORDER BY created_at DESC, delivery_id LIMIT ?`,
		site, f.ConversionID, f.ConversionID, f.State, f.State, f.Target, f.Target, f.Event, f.Event, limit)
}

// ErrNoDelivery is returned for an id the site has no delivery of.
var ErrNoDelivery = errors.New("no such delivery")

// Get returns one delivery of a site.
func (s *Store) Get(ctx context.Context, site, id string) (Delivery, error) {
	ds, err := s.query(ctx, "SELECT "+queueColumns+" FROM "+s.DB+".delivery_queue FINAL WHERE site_id = ? AND delivery_id = ?", site, id)
	if err != nil {
		return Delivery{}, err
	}
	if len(ds) == 0 {
		return Delivery{}, ErrNoDelivery
	}
	return ds[0], nil
}

// Resend makes a delivery pending again with every attempt available ("send again"),
// whatever its state, and returns it as written.
func (s *Store) Resend(ctx context.Context, site, id string) (Delivery, error) {
	d, err := s.Get(ctx, site, id)
	if err != nil {
		return d, err
	}
	d.State, d.Attempts, d.NextAttemptAt, d.Status, d.Error = Pending, 0, time.Now().UTC(), 0, ""
	ds := []Delivery{d}
	err = s.Save(ctx, ds...)
	return ds[0], err
}

// Record implements the attempt log.
func (s *Store) Record(ctx context.Context, a Attempt) error {
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+
		".webhook_deliveries (site_id, conversion_id, url, attempt, status, error, delivered, next_retry_at, payload, at, delivery_id, target, event)")
	if err != nil {
		return fmt.Errorf("cannot log an attempt: %w", err)
	}
	defer b.Abort()
	var delivered uint8
	if a.Delivered {
		delivered = 1
	}
	if err := b.Append(a.Site, a.ConversionID, a.URL, uint16(min(a.Attempt, 65535)), uint16(a.Status), a.Error, delivered,
		dbTime(a.NextRetryAt), string(a.Payload), a.At, a.DeliveryID, a.Target, a.Event); err != nil {
		return fmt.Errorf("cannot log an attempt: %w", err)
	}
	return b.Send()
}

// Attempts returns the logged attempts of one delivery, the latest first.
func (s *Store) Attempts(ctx context.Context, site, id string) ([]Attempt, error) {
	rows, err := s.Conn.Query(ctx, `SELECT conversion_id, url, attempt, status, error, delivered, next_retry_at, at, target, event
		FROM `+s.DB+`.webhook_deliveries WHERE site_id = ? AND delivery_id = ? ORDER BY at DESC, attempt DESC LIMIT 100`, site, id)
	if err != nil {
		return nil, fmt.Errorf("cannot read attempts: %w", err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		a := Attempt{Site: site, DeliveryID: id}
		var attempt, status uint16
		var delivered uint8
		if err := rows.Scan(&a.ConversionID, &a.URL, &attempt, &status, &a.Error, &delivered, &a.NextRetryAt, &a.At, &a.Target, &a.Event); err != nil {
			return nil, fmt.Errorf("cannot read attempts: %w", err)
		}
		a.Attempt, a.Status, a.Delivered = int(attempt), int(status), delivered == 1
		if !a.NextRetryAt.After(zeroTime) {
			a.NextRetryAt = time.Time{}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
