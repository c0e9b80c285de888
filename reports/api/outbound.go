package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"touchpoint/attribution/webhook"
	"touchpoint/internal/site"
	"touchpoint/reports"
)

// delivery is a delivery as the API shows it.
type delivery struct {
	ID           string    `json:"id"`
	Target       string    `json:"target"`
	Event        string    `json:"event"`
	ConversionID string    `json:"conversion_id"`
	URL          string    `json:"url"`
	State        string    `json:"state"`
	Delivered    bool      `json:"delivered"`
	Attempts     int       `json:"attempts"`
	Status       int       `json:"status"`
	Error        string    `json:"error"`
	NextRetryAt  *string   `json:"next_retry_at"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func showDelivery(d webhook.Delivery) delivery {
	out := delivery{ID: d.ID, Target: d.Target, Event: d.Event, ConversionID: d.ConversionID, URL: d.URL, State: d.State,
		Delivered: d.State == webhook.Delivered, Attempts: d.Attempts, Status: d.Status, Error: d.Error,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
	if d.State == webhook.Pending {
		out.NextRetryAt = optTime(d.NextAttemptAt)
	}
	return out
}

// optTime is t in RFC 3339, or nil (JSON null) when it is not set.
func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := t.UTC().Format(time.RFC3339)
	return &v
}

func (s *Server) queueReady(w http.ResponseWriter) bool {
	if s.Deliveries == nil {
		fail(w, http.StatusServiceUnavailable, "the delivery queue is not available in this service")
		return false
	}
	return true
}

// deliveries lists a site's latest deliveries, newest first: ?conversion_id=, ?state=,
// ?target=, ?event= narrow it, ?limit= (default 200, at most 1000) bounds it.
func (s *Server) deliveries(w http.ResponseWriter, r *http.Request, st *site.Site) {
	if !s.queueReady(w) {
		return
	}
	q := r.URL.Query()
	f := webhook.Filter{ConversionID: q.Get("conversion_id"), State: q.Get("state"), Target: q.Get("target"), Event: q.Get("event")}
	for _, p := range []struct {
		name, value string
		allowed     []string
	}{
		{"state", f.State, []string{webhook.Pending, webhook.Delivered, webhook.Failed, webhook.Dropped}},
		{"target", f.Target, []string{webhook.TargetWebhook, webhook.TargetMeta}},
	} {
		if p.value != "" && !slices.Contains(p.allowed, p.value) {
			fail(w, http.StatusBadRequest, fmt.Sprintf("%s must be one of %s", p.name, strings.Join(p.allowed, ", ")))
			return
		}
	}
	limit := 200
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			fail(w, http.StatusBadRequest, "limit must be 1 to 1000")
			return
		}
		limit = n
	}
	ds, err := s.Deliveries.List(r.Context(), st.ID, f, limit)
	out := make([]delivery, len(ds))
	for i, d := range ds {
		out[i] = showDelivery(d)
	}
	respond(w, map[string]any{"site": st.ID, "deliveries": out}, err)
}

// attempt is a logged attempt as the API shows it.
type attempt struct {
	Attempt     int       `json:"attempt"`
	URL         string    `json:"url"`
	Status      int       `json:"status"`
	Error       string    `json:"error"`
	Delivered   bool      `json:"delivered"`
	NextRetryAt *string   `json:"next_retry_at"`
	At          time.Time `json:"at"`
}

// withDelivery runs do on the delivery of the request's {id}, answering 503 without a
// queue and 404 for an id of another site or none; ok is false when it answered.
func (s *Server) withDelivery(w http.ResponseWriter, r *http.Request, st *site.Site,
	do func(ctx context.Context, site, id string) (webhook.Delivery, error)) (webhook.Delivery, bool) {
	if !s.queueReady(w) {
		return webhook.Delivery{}, false
	}
	d, err := do(r.Context(), st.ID, r.PathValue("id"))
	switch {
	case errors.Is(err, webhook.ErrNoDelivery):
		fail(w, http.StatusNotFound, "no such delivery")
	case err != nil:
		respond(w, nil, err)
	default:
		return d, true
	}
	return d, false
}

// delivery is one delivery with its payload and attempts.
func (s *Server) delivery(w http.ResponseWriter, r *http.Request, st *site.Site) {
	d, ok := s.withDelivery(w, r, st, s.Deliveries.Get)
	if !ok {
		return
	}
	as, err := s.Deliveries.Attempts(r.Context(), st.ID, d.ID)
	shown := make([]attempt, len(as))
	for i, a := range as {
		shown[i] = attempt{Attempt: a.Attempt, URL: a.URL, Status: a.Status, Error: a.Error, Delivered: a.Delivered,
			NextRetryAt: optTime(a.NextRetryAt), At: a.At.UTC()}
	}
	respond(w, map[string]any{"site": st.ID, "delivery": showDelivery(d), "payload": jsonText(d.Payload), "attempts": shown}, err)
}

// resend is "send again": the delivery becomes pending with every attempt available.
func (s *Server) resend(w http.ResponseWriter, r *http.Request, st *site.Site) {
	d, ok := s.withDelivery(w, r, st, s.Deliveries.Resend)
	if !ok {
		return
	}
	if s.Resent != nil {
		s.Resent(d)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]any{"site": st.ID, "delivery": showDelivery(d)})
}

// jsonText embeds a stored JSON body as it is.
func jsonText(b []byte) any {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	return string(b)
}

// exportFor serves a platform's offline conversion CSV: ?from=&to= (by conversion time,
// default the last 30 days), ?type= (conversion type, default lead), ?name= (conversion
// name in the platform, default the type), ?model= (default last_click), ?timezone=
// (default +0000) and, for Google Ads, ?click_ids=gclid to leave out gbraid and wbraid.
func (s *Server) exportFor(platform reports.AdPlatform) func(w http.ResponseWriter, r *http.Request, st *site.Site) {
	return func(w http.ResponseWriter, r *http.Request, st *site.Site) {
		q := r.URL.Query()
		p, err := reports.ParseParams(q, s.now())
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		op := reports.OfflineParams{Params: p, Type: strings.TrimSpace(q.Get("type")), Name: strings.TrimSpace(q.Get("name"))}
		if q.Get("model") == "" {
			op.Model = "last_click"
		}
		if op.Type == "" {
			op.Type = "lead"
		}
		if op.Name == "" {
			op.Name = op.Type
		}
		if err := reports.CheckConversionName(op.Name); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		switch ids := q.Get("click_ids"); {
		case ids == "gclid" && platform.Name == reports.GoogleAds.Name:
			op.GclidOnly = true
		case ids != "" && ids != "all":
			fail(w, http.StatusBadRequest, "click_ids is all, or gclid for Google Ads")
			return
		}
		if op.Zone, op.ZoneName, err = reports.ParseZone(q.Get("timezone"), platform); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		rows, err := s.Reports.OfflineConversions(r.Context(), st, platform, op)
		if err != nil {
			respond(w, nil, err)
			return
		}
		name := fmt.Sprintf("%s-%s-%s-%s.csv", platform.Name, st.ID, op.From.Format("20060102"), op.To.Format("20060102"))
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Touchpoint-Rows", strconv.Itoa(len(rows)))
		w.Write(reports.OfflineCSV(platform, op, rows))
	}
}
