package reports

import (
	"context"
	"time"
)

// Delivery is one logged webhook attempt.
type Delivery struct {
	ConversionID string    `json:"conversion_id"`
	URL          string    `json:"url"`
	Attempt      uint16    `json:"attempt"`
	Status       uint16    `json:"status"`
	Error        string    `json:"error"`
	Delivered    bool      `json:"delivered"`
	NextRetryAt  *string   `json:"next_retry_at"`
	At           time.Time `json:"at"`
}

// Deliveries lists the latest webhook attempts of a site, newest first, optionally of one conversion.
func (s *Store) Deliveries(ctx context.Context, site, conversionID string, limit int) ([]Delivery, error) {
	q := "SELECT conversion_id, url, attempt, status, error, delivered, next_retry_at, at FROM " + s.DB +
		".webhook_deliveries WHERE site_id = ? AND (? = '' OR conversion_id = ?) ORDER BY at DESC, attempt DESC LIMIT ?"
	out := []Delivery{}
	err := s.each(ctx, q, []any{site, conversionID, conversionID, limit}, func(sc scanner) error {
		var d Delivery
		var delivered uint8
		var next time.Time
		if err := sc.Scan(&d.ConversionID, &d.URL, &d.Attempt, &d.Status, &d.Error, &delivered, &next, &d.At); err != nil {
			return err
		}
		d.Delivered = delivered == 1
		if next.Unix() > 0 {
			v := next.UTC().Format(time.RFC3339)
			d.NextRetryAt = &v
		}
		out = append(out, d)
		return nil
	})
	return out, err
}
