package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"touchpoint/collector/enrich"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
)

// namespace of the deterministic ids of server-side events (UUID v5).
var serverNS = uuid.MustParse("3f1c8d52-6a8e-4b7e-9f0a-6d2b5c1e7a90")

// ConversionEventID is the event id of conversion (site, conversionID): a repeated call
// produces the same id and is counted once downstream.
func ConversionEventID(siteID, conversionID string) string {
	return uuid.NewSHA1(serverNS, []byte("conversion\x00"+siteID+"\x00"+conversionID)).String()
}

var conversionTypeRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// serverStart checks the method and the bearer secret of a server API call, then the body's
// size and JSON shape, decoding it into v, and last that the secret opens the site named
// in the body. The secret comes first: an unauthenticated caller gets no parser, and a
// client address that keeps failing is refused for a while (ratelimit.auth) whatever it
// sends, so secrets cannot be guessed at speed.
func (s *Server) serverStart(ctx *fasthttp.RequestCtx, v any, siteOf func() string) *site.Site {
	if !ctx.IsPost() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "POST")
		s.refuse(ctx, fasthttp.StatusMethodNotAllowed, reasonMethod, "use POST")
		return nil
	}
	client := addrKey(s.clientIP(ctx))
	if blocked, wait := s.authRL.blocked(client, time.Now()); blocked {
		ctx.Response.Header.Set("Retry-After", retryAfter(wait))
		s.refuse(ctx, fasthttp.StatusTooManyRequests, reasonRateAuth, "too many failed authentications from this address")
		return nil
	}
	token, ok := bytes.CutPrefix(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization), []byte("Bearer "))
	var opens []*site.Site
	if ok {
		opens = s.sites.SitesWithSecret(string(bytes.TrimSpace(token)))
	}
	if len(opens) == 0 {
		s.authRL.allow(client, time.Now())
		s.unauthorized(ctx)
		return nil
	}
	body := ctx.PostBody()
	if len(body) > s.cfg.MaxServerBody {
		s.refuse(ctx, fasthttp.StatusRequestEntityTooLarge, reasonBodyTooLarge, fmt.Sprintf("body larger than %d bytes", s.cfg.MaxServerBody))
		return nil
	}
	if ref := checkJSON(body); ref != nil {
		s.refuse(ctx, fasthttp.StatusBadRequest, ref.Reason, ref.Detail)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields() // a misspelt field is an error, not silently ignored
	if err := dec.Decode(v); err != nil {
		s.refuse(ctx, fasthttp.StatusBadRequest, reasonMalformedJSON, err.Error())
		return nil
	}
	st := s.sites.Get(siteOf())
	if st == nil || !slices.Contains(opens, st) {
		// Same answer for an unknown site and another site's: a secret opens its own site only.
		s.unauthorized(ctx)
		return nil
	}
	if !s.allowSite(ctx, st) {
		return nil
	}
	return st
}

func (s *Server) unauthorized(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="touchpoint"`)
	s.refuse(ctx, fasthttp.StatusUnauthorized, reasonUnauthorized, "Authorization: Bearer <site secret> required for this site")
}

// serverOne runs one server-built event through the pipeline and answers 202 with extra,
// or 400 with the refusal (the event is in the dead-letter topic).
func (s *Server) serverOne(ctx *fasthttp.RequestCtx, st *site.Site, e *event.Event, extra map[string]string) {
	raw, err := json.Marshal(e)
	if err != nil {
		s.refuse(ctx, fasthttp.StatusBadRequest, reasonBadRequest, err.Error())
		return
	}
	req := &enrich.Request{Site: st, Origin: event.OriginServer, Now: time.Now()}
	out, err := s.ingest(ctx, req, []json.RawMessage{raw})
	if err != nil {
		s.answerStoreError(ctx, err)
		return
	}
	if out.accepted == 0 {
		r := out.refused[0]
		s.refuse(ctx, fasthttp.StatusBadRequest, r.Reason, r.Detail)
		return
	}
	extra["id"] = e.ID
	writeJSON(ctx, fasthttp.StatusAccepted, extra)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, _ := json.Marshal(v)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}

type conversionBody struct {
	Site         string          `json:"site"`
	ConversionID string          `json:"conversion_id"`
	Type         string          `json:"type"`
	LeadType     string          `json:"lead_type"`
	OccurredAt   json.RawMessage `json:"occurred_at"`
	VisitorID    string          `json:"visitor_id"`
	Email        string          `json:"email"`
	UserID       string          `json:"user_id"`
	Value        float64         `json:"value"`
	Currency     string          `json:"currency"`
	Properties   json.RawMessage `json:"properties"`
}

// handleConversion is POST /v1/conversions: a lead, sale or stage change from a CRM.
func (s *Server) handleConversion(ctx *fasthttp.RequestCtx) {
	var b conversionBody
	st := s.serverStart(ctx, &b, func() string { return b.Site })
	if st == nil {
		return
	}
	bad := func(detail string) { s.refuse(ctx, fasthttp.StatusBadRequest, enrich.ReasonBadField, detail) }
	switch {
	case b.ConversionID == "" || len(b.ConversionID) > 128:
		bad("conversion_id is required (at most 128 bytes)")
		return
	case !conversionTypeRe.MatchString(b.Type):
		bad("type is lead, sale, mql, sal, sql, opportunity, customer or a custom name of [a-z0-9_]")
		return
	case b.VisitorID == "" && b.Email == "" && b.UserID == "":
		bad("one of visitor_id, email or user_id is required")
		return
	}
	ts, err := parseOccurredAt(b.OccurredAt)
	if err != nil {
		s.refuse(ctx, fasthttp.StatusBadRequest, enrich.ReasonBadTimestamp, err.Error())
		return
	}
	if ts == 0 {
		ts = time.Now().UnixMilli()
	}
	e := &event.Event{
		ID: ConversionEventID(st.ID, b.ConversionID), Type: event.Conversion, TS: ts, VID: b.VisitorID,
		Traits:     identityTraits(nil, b.Email, b.UserID),
		Conversion: &event.ConversionInfo{ID: b.ConversionID, Type: b.Type, LeadType: b.LeadType, Value: b.Value, Currency: b.Currency},
		Props:      b.Properties,
	}
	s.serverOne(ctx, st, e, map[string]string{"conversion_id": b.ConversionID})
}

// parseOccurredAt reads RFC 3339 or epoch milliseconds; absent is 0.
func parseOccurredAt(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var ms int64
	if err := json.Unmarshal(raw, &ms); err == nil {
		return ms, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("occurred_at must be RFC 3339 or epoch milliseconds")
}

func identityTraits(traits map[string]string, email, userID string) map[string]string {
	if email == "" && userID == "" {
		return traits
	}
	t := make(map[string]string, len(traits)+2)
	for k, v := range traits {
		t[k] = v
	}
	if email != "" {
		t[event.TraitEmail] = email
	}
	if userID != "" {
		t[event.TraitUserID] = userID
	}
	return t
}

type identifyBody struct {
	Site      string       `json:"site"`
	VisitorID string       `json:"visitor_id"`
	Email     string       `json:"email"`
	UserID    string       `json:"user_id"`
	Traits    event.Traits `json:"traits"`
}

// handleIdentify is POST /v1/identify: links a visitor id to an email or user id.
func (s *Server) handleIdentify(ctx *fasthttp.RequestCtx) {
	var b identifyBody
	st := s.serverStart(ctx, &b, func() string { return b.Site })
	if st == nil {
		return
	}
	if b.VisitorID == "" || (b.Email == "" && b.UserID == "" && len(b.Traits) == 0) {
		s.refuse(ctx, fasthttp.StatusBadRequest, enrich.ReasonBadField, "visitor_id and one of email, user_id or traits are required")
		return
	}
	email := event.NormaliseEmail(b.Email)
	id := uuid.NewSHA1(serverNS, []byte(strings.Join([]string{"identify", st.ID, b.VisitorID, email, b.UserID}, "\x00"))).String()
	e := &event.Event{ID: id, Type: event.Identify, TS: time.Now().UnixMilli(), VID: b.VisitorID, Traits: identityTraits(b.Traits, b.Email, b.UserID)}
	s.serverOne(ctx, st, e, map[string]string{})
}

// handleImport is POST /v1/import: historical events keeping their own time, IP and agent.
func (s *Server) handleImport(ctx *fasthttp.RequestCtx) {
	var b rawBatch
	st := s.serverStart(ctx, &b, func() string { return b.Site })
	if st == nil {
		return
	}
	switch {
	case len(b.Events) == 0:
		s.refuse(ctx, fasthttp.StatusBadRequest, reasonNoEvents, "events is empty")
		return
	case len(b.Events) > s.cfg.MaxImportEvents:
		s.refuse(ctx, fasthttp.StatusBadRequest, reasonTooManyEvents, fmt.Sprintf("a request carries at most %d events", s.cfg.MaxImportEvents))
		return
	}
	req := &enrich.Request{Site: st, Origin: event.OriginImport, Now: time.Now()}
	out, ok := s.accept(ctx, req, b.Events)
	if !ok {
		return
	}
	writeJSON(ctx, fasthttp.StatusAccepted, struct {
		Accepted int            `json:"accepted"`
		Refused  []eventRefusal `json:"refused,omitempty"`
	}{out.accepted, out.refused})
}
