package webhook

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/internal/chstore"
)

// ClickHouseLog writes attempts to the webhook_deliveries table.
type ClickHouseLog struct {
	Conn driver.Conn
	DB   string
}

// Record implements Log.
func (l *ClickHouseLog) Record(ctx context.Context, a Attempt) error {
	b, err := chstore.PrepareBatch(ctx, l.Conn, "INSERT INTO "+l.DB+
		".webhook_deliveries (site_id, conversion_id, url, attempt, status, error, delivered, next_retry_at, payload, at)")
	if err != nil {
		return err
	}
	defer b.Abort()
	var delivered uint8
	if a.Delivered {
		delivered = 1
	}
	next := a.NextRetryAt
	if next.IsZero() {
		next = time.Unix(0, 0) // DateTime cannot hold Go's zero time
	}
	if err := b.Append(a.Site, a.ConversionID, a.URL, uint16(a.Attempt), uint16(a.Status), a.Error, delivered,
		next, string(a.Payload), a.At); err != nil {
		return err
	}
	return b.Send()
}
