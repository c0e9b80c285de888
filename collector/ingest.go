package collector

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"touchpoint/internal/event"
)

// handleEvents is POST /e: a batch of browser events for one site.
func (s *Server) handleEvents(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		refuse(ctx, fasthttp.StatusMethodNotAllowed, "use POST")
		return
	}
	var b event.Batch
	if err := json.Unmarshal(ctx.PostBody(), &b); err != nil {
		refuse(ctx, fasthttp.StatusBadRequest, "malformed JSON")
		return
	}
	st := s.sites.Get(b.Site)
	if st == nil {
		refuse(ctx, fasthttp.StatusForbidden, "unknown site")
		return
	}
	if len(b.Events) == 0 || len(b.Events) > s.cfg.MaxEvents {
		refuse(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("a request carries 1 to %d events", s.cfg.MaxEvents))
		return
	}
	now := time.Now()
	evs := make([]event.Enriched, 0, len(b.Events))
	for i, e := range b.Events {
		if _, err := uuid.Parse(e.ID); err != nil {
			refuse(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("event %d: id must be a UUID", i))
			return
		}
		if !event.Types[e.Type] {
			refuse(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("event %d: unknown type %q", i, e.Type))
			return
		}
		evs = append(evs, event.Enriched{Event: e, Site: st.ID, ReceivedAt: now.UnixMilli(), Origin: event.OriginWeb})
	}
	if err := s.producer.WriteEvents(ctx, evs); err != nil {
		refuse(ctx, fasthttp.StatusServiceUnavailable, "events not stored, retry later")
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}
