package engine

import (
	"context"
	"fmt"
	"time"

	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
)

// siteSettings are the settings of a site that SQL needs and only the site file holds:
// the views of docs/sql.md convert money into the reporting currency and bound journeys
// by the lookback window, as the reports do.
type siteSettings struct {
	currency string
	lookback uint32
}

// recordSettings writes the site's settings to site_settings when they differ from what
// this engine wrote last (once after a start, then on every change).
func (e *Engine) recordSettings(ctx context.Context, st *site.Site) error {
	want := siteSettings{currency: st.Currency, lookback: uint32(st.LookbackDays)}
	e.mu.Lock()
	done := e.recorded[st.ID] == want
	e.mu.Unlock()
	if done {
		return nil
	}
	b, err := chstore.PrepareBatch(ctx, e.store.conn, "INSERT INTO "+e.store.db+".site_settings (site_id, currency, lookback_days, updated_at, version)")
	if err != nil {
		return fmt.Errorf("cannot record the settings of site %s: %w", st.ID, err)
	}
	defer b.Abort()
	now := time.Now()
	if err := b.Append(st.ID, want.currency, want.lookback, now, uint64(now.UnixNano())); err != nil {
		return fmt.Errorf("cannot record the settings of site %s: %w", st.ID, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot record the settings of site %s: %w", st.ID, err)
	}
	e.mu.Lock()
	e.recorded[st.ID] = want
	e.mu.Unlock()
	return nil
}
