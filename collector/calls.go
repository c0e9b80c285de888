package collector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/valyala/fasthttp"

	"touchpoint/collector/enrich"
	"touchpoint/collector/leases"
	"touchpoint/internal/callsig"
	"touchpoint/internal/event"
	"touchpoint/internal/phone"
	"touchpoint/internal/site"
)

var callsRecorded = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "tp_collector_calls_total",
	Help: "Calls recorded from webhooks, once per call id, by provider and match: session (a visitor held the number), unmatched (a pool number nobody held, an unknown number, or the lease store unreachable), static.",
}, []string{"provider", "match"})

// Call providers, as the props and metrics name them.
const (
	providerTwilio   = "twilio"
	providerCallRail = "callrail"
	providerAPI      = "api"
)

// callReport is what one webhook says about a call.
type callReport struct {
	provider, id string
	to, from     string // the number called and the caller, as the provider wrote them
	start        time.Time
	status       string
	duration     int
	answered     bool
	final        bool // the call has ended: status, duration and answer are its last
	direction    string
}

// Match kinds of a call (props "touch"): the attribution engine credits a session's
// touchpoints, or the fixed touch of an unmatched pool call or a static number.
const (
	touchSession   = "session"
	touchUnmatched = "unmatched"
	touchStatic    = "static"
)

// recordCall matches a call to the visitor holding the number at its start, decides
// whether it is the caller's first, and makes its event durable: a lead (lead_type call)
// for a first call, a call event otherwise. Every webhook about one call gives the same
// event id and conversion id, so replays and status updates count once. It returns false
// when it answered the request itself (the event could not be stored).
func (s *Server) recordCall(ctx *fasthttp.RequestCtx, st *site.Site, r *callReport) bool {
	cc := st.CallTracking.CountryCode
	pool, number := st.PoolOf(r.to)
	if number == "" {
		number = phone.E164(r.to, cc)
	}
	caller := ""
	if !phone.Withheld(r.from) {
		caller = phone.E164(r.from, cc)
	}
	callerKey := ""
	if caller != "" {
		sum := sha256.Sum256([]byte(caller))
		callerKey = hex.EncodeToString(sum[:])
	}
	in := leases.Call{Start: r.start.UnixMilli(), Status: r.status, Duration: r.duration, Answered: r.answered, Final: r.final}
	match := touchUnmatched
	c, isNew, err := in, true, error(nil)
	if s.leases != nil {
		c, isNew, err = s.leases.RecordCall(ctx, st.ID, r.provider+":"+r.id, callerKey, in, func(c context.Context) (*leases.Lease, error) {
			if pool == nil || pool.Static() {
				return nil, nil
			}
			return s.leases.Holder(c, st.ID, number, r.start)
		})
	}
	if err != nil || s.leases == nil {
		// Without the lease store the call is kept, unmatched, rather than lost; a later
		// webhook about it, once the store is back, replaces it matched.
		if err != nil {
			s.leaseStoreAnswered(err)
		}
		c, isNew = in, true
		c.First = true
	} else {
		s.leaseStoreAnswered(nil)
	}
	props := map[string]any{
		"provider": r.provider, "call_id": r.id, "number": number, "duration": c.Duration, "answered": c.Answered,
		"status": c.Status, "first_call": c.First, "ended": c.Final,
	}
	if r.direction != "" {
		props["direction"] = r.direction
	}
	switch {
	case caller == "":
		props["caller"] = "withheld"
	case st.KeepPII:
		props["caller"] = caller
	default:
		props["caller_sha256"] = callerKey
	}
	switch {
	case pool != nil && pool.Static():
		match = touchStatic
		props["pool"], props["source"], props["medium"], props["campaign"], props["channel"] = pool.ID, pool.Source, pool.Medium, pool.Campaign, pool.StaticChannel()
	case c.Visitor != "":
		match = touchSession
		props["pool"], props["lease_id"] = pool.ID, c.LeaseID
	case pool != nil:
		props["pool"] = pool.ID
	}
	props["touch"] = match
	if isNew {
		callsRecorded.WithLabelValues(r.provider, match).Inc()
	}
	typ := event.Call
	conv := &event.ConversionInfo{ID: "call:" + r.provider + ":" + r.id, Type: "call", LeadType: "call"}
	if c.First {
		conv.Type = "lead"
	}
	raw, _ := json.Marshal(props)
	e := &event.Event{
		ID:   uuid.NewSHA1(serverNS, []byte("call\x00"+st.ID+"\x00"+r.provider+"\x00"+r.id)).String(),
		Type: typ, TS: c.Start, VID: c.Visitor, Conversion: conv, Props: raw,
	}
	b, _ := json.Marshal(e)
	req := &enrich.Request{Site: st, Origin: event.OriginServer, Now: time.Now()}
	out, err := s.ingest(ctx, req, []json.RawMessage{b})
	if err != nil {
		s.answerStoreError(ctx, err)
		return false
	}
	if out.accepted == 0 {
		ref := out.refused[0]
		s.refuse(ctx, fasthttp.StatusBadRequest, ref.Reason, ref.Detail)
		return false
	}
	return true
}

// failedAuth counts a failed webhook signature against the client address and answers 401.
func (s *Server) failedAuth(ctx *fasthttp.RequestCtx, client string, detail string) {
	s.authRL.allow(client, time.Now())
	refusals.WithLabelValues(string(reasonUnauthorized)).Inc()
	ctx.SetStatusCode(fasthttp.StatusUnauthorized)
	ctx.SetContentType("application/json")
	b, _ := json.Marshal(errorBody{Error: reasonUnauthorized, Detail: detail})
	ctx.SetBody(append(b, '\n'))
}

// webhookStart checks the method, the failed-authentication limit and the body size of a
// provider webhook; it returns the client's key for the limit, or "" when it answered.
func (s *Server) webhookStart(ctx *fasthttp.RequestCtx) string {
	if !ctx.IsPost() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "POST")
		s.refuse(ctx, fasthttp.StatusMethodNotAllowed, reasonMethod, "use POST")
		return ""
	}
	client := addrKey(s.clientIP(ctx))
	if blocked, wait := s.authRL.blocked(client, time.Now()); blocked {
		ctx.Response.Header.Set("Retry-After", retryAfter(wait))
		s.refuse(ctx, fasthttp.StatusTooManyRequests, reasonRateAuth, "too many failed authentications from this address")
		return ""
	}
	if len(ctx.PostBody()) > s.cfg.MaxServerBody {
		s.refuse(ctx, fasthttp.StatusRequestEntityTooLarge, reasonBodyTooLarge, fmt.Sprintf("body larger than %d bytes", s.cfg.MaxServerBody))
		return ""
	}
	return client
}

// candidates are the sites a webhook may be for: the one its ?site= names, else those
// with the number called, else every site with a key for the provider (an unknown
// number is still recorded, for the site whose key signed it).
func (s *Server) candidates(ctx *fasthttp.RequestCtx, to string, hasKey func(*site.Site) bool) []*site.Site {
	if id := ctx.QueryArgs().Peek("site"); len(id) > 0 {
		if st := s.sites.Get(string(id)); st != nil && hasKey(st) {
			return []*site.Site{st}
		}
		return nil
	}
	var out []*site.Site
	for _, st := range s.sites.SitesWithNumber(to) {
		if hasKey(st) {
			out = append(out, st)
		}
	}
	if len(out) > 0 {
		return out
	}
	all := s.sites.Sites()
	for i := range all {
		if st := s.sites.Get(all[i].ID); st != nil && hasKey(st) {
			out = append(out, st)
		}
	}
	return out
}

// twilioFinal are the CallStatus values of an ended call.
var twilioFinal = map[string]bool{"completed": true, "busy": true, "no-answer": true, "failed": true, "canceled": true}

// handleTwilio is POST /v1/calls/twilio: Twilio's voice request and status callbacks
// (form-encoded), signed with the site's auth token in X-Twilio-Signature. A voice request
// for a pool with forward_to is answered with TwiML that dials it.
func (s *Server) handleTwilio(ctx *fasthttp.RequestCtx) {
	client := s.webhookStart(ctx)
	if client == "" {
		return
	}
	form := ctx.PostArgs()
	get := func(k string) string { return strings.TrimSpace(string(form.Peek(k))) }
	to := get("To")
	if to == "" {
		to = get("Called")
	}
	sig := string(ctx.Request.Header.Peek("X-Twilio-Signature"))
	var st *site.Site
	for _, c := range s.candidates(ctx, to, func(st *site.Site) bool { return st.CallTracking.TwilioAuthToken != "" }) {
		if sig != "" && twilioValid(c.CallTracking.TwilioAuthToken, sig, s.publicURLs(ctx), form) {
			st = c
			break
		}
	}
	if st == nil {
		s.failedAuth(ctx, client, "X-Twilio-Signature missing or not made with the site's Twilio auth token for this URL")
		return
	}
	r := &callReport{provider: providerTwilio, id: get("CallSid"), to: to, from: get("From"), status: strings.ToLower(get("CallStatus")),
		direction: strings.ToLower(get("Direction"))}
	if r.from == "" {
		r.from = get("Caller")
	}
	if r.id == "" || len(r.id) > 64 {
		s.refuse(ctx, fasthttp.StatusBadRequest, enrich.ReasonBadField, "CallSid is required")
		return
	}
	r.final = twilioFinal[r.status]
	r.duration, _ = strconv.Atoi(get("CallDuration"))
	r.answered = r.status == "in-progress" || r.status == "completed" && r.duration > 0
	now := time.Now()
	r.start = now
	if ts, err := time.Parse(time.RFC1123Z, get("Timestamp")); err == nil && ts.Before(now.Add(time.Minute)) {
		// A status callback tells when it was sent; an ended call started its duration before.
		r.start = ts.Add(-time.Duration(r.duration) * time.Second)
	}
	ctx.SetContentType("text/xml; charset=utf-8")
	if strings.HasPrefix(r.direction, "outbound") {
		ctx.SetBodyString(`<?xml version="1.0" encoding="UTF-8"?><Response/>`)
		return // the site's own calls out are no leads
	}
	if !s.recordCall(ctx, st, r) {
		return
	}
	twiml := `<?xml version="1.0" encoding="UTF-8"?><Response/>`
	if p, _ := st.PoolOf(to); p != nil && p.ForwardTo != "" && !r.final {
		twiml = `<?xml version="1.0" encoding="UTF-8"?><Response><Dial>` + html.EscapeString(p.ForwardTo) + `</Dial></Response>`
	}
	ctx.SetContentType("text/xml; charset=utf-8")
	ctx.SetBodyString(twiml)
}

// publicURLs are the addresses Twilio may have signed for this request: the configured
// public base URL (calls.public-url) with the request's path and query, or the one the
// client used (Host, X-Forwarded-Proto from a trusted proxy); each with and without the
// scheme's default port, which Twilio's own validators also accept.
func (s *Server) publicURLs(ctx *fasthttp.RequestCtx) []string {
	uri := string(ctx.RequestURI())
	var u string
	if base := strings.TrimRight(s.cfg.CallsPublicURL, "/"); base != "" {
		u = base + uri
	} else {
		scheme := "http"
		if s.isHTTPS(ctx) {
			scheme = "https"
		}
		u = scheme + "://" + string(ctx.Host()) + uri
	}
	out := []string{u}
	scheme, rest, _ := strings.Cut(u, "://")
	host, path, _ := strings.Cut(rest, "/")
	port := map[string]string{"https": "443", "http": "80"}[scheme]
	if h, p, ok := strings.Cut(host, ":"); ok && p == port {
		out = append(out, scheme+"://"+h+"/"+path)
	} else if !ok && port != "" {
		out = append(out, scheme+"://"+host+":"+port+"/"+path)
	}
	return out
}

// twilioValid checks a Twilio signature against each URL the request may have been sent to.
func twilioValid(token, sig string, urls []string, form *fasthttp.Args) bool {
	params := map[string][]string{}
	for k, v := range form.All() {
		params[string(k)] = append(params[string(k)], string(v))
	}
	for _, u := range urls {
		if callsig.Equal(callsig.Twilio(token, u, params), sig) {
			return true
		}
	}
	return false
}

// callRailBody holds the fields of CallRail's post-call webhook that matter here; older
// webhooks name some of them differently (trackingnum, callernum, datetime).
type callRailBody struct {
	ResourceID  string          `json:"resource_id"`
	ID          json.RawMessage `json:"id"`
	Tracking    string          `json:"tracking_phone_number"`
	TrackingOld string          `json:"trackingnum"`
	Customer    string          `json:"customer_phone_number"`
	CustomerOld string          `json:"callernum"`
	StartTime   string          `json:"start_time"`
	DateTime    string          `json:"datetime"`
	Duration    json.RawMessage `json:"duration"`
	Answered    json.RawMessage `json:"answered"` // true, or "true" in older webhooks
	Direction   string          `json:"direction"`
	CallType    string          `json:"call_type"`
	Voicemail   json.RawMessage `json:"voicemail"`
}

// handleCallRail is POST /v1/calls/callrail: CallRail's post-call webhook (JSON), signed in
// its Signature header: base64 HMAC-SHA1 of the body, keyed with the company's signing key.
func (s *Server) handleCallRail(ctx *fasthttp.RequestCtx) {
	client := s.webhookStart(ctx)
	if client == "" {
		return
	}
	body := ctx.PostBody()
	var b callRailBody
	// Read before the signature only to find the site by its number; nothing is used
	// before the signature is checked.
	parseErr := json.Unmarshal(body, &b)
	to := firstOf(b.Tracking, b.TrackingOld)
	sig := string(ctx.Request.Header.Peek("Signature"))
	var st *site.Site
	for _, c := range s.candidates(ctx, to, func(st *site.Site) bool { return st.CallTracking.CallRailSigningKey != "" }) {
		if sig != "" && callRailValid(c.CallTracking.CallRailSigningKey, sig, body) {
			st = c
			break
		}
	}
	if st == nil {
		s.failedAuth(ctx, client, "Signature missing or not made with the site's CallRail signing key")
		return
	}
	if parseErr != nil {
		s.refuse(ctx, fasthttp.StatusBadRequest, reasonMalformedJSON, parseErr.Error())
		return
	}
	r := &callReport{provider: providerCallRail, id: b.ResourceID, to: to, from: firstOf(b.Customer, b.CustomerOld),
		direction: strings.ToLower(b.Direction), final: true}
	if r.id == "" {
		r.id = strings.Trim(string(b.ID), `"`)
	}
	if r.id == "" || r.id == "null" || len(r.id) > 64 {
		s.refuse(ctx, fasthttp.StatusBadRequest, enrich.ReasonBadField, "resource_id (or id) is required")
		return
	}
	r.duration = jsonInt(b.Duration)
	r.answered = r.duration > 0
	if v, ok := jsonBool(b.Answered); ok {
		r.answered = v
	}
	r.status = "completed"
	if !r.answered {
		r.status = "no-answer"
		if v, _ := jsonBool(b.Voicemail); v {
			r.status = "voicemail"
		}
	}
	r.start = time.Now()
	for _, v := range []string{b.StartTime, b.DateTime} {
		if t, ok := parseCallTime(v); ok {
			r.start = t
			break
		}
	}
	if strings.HasPrefix(r.direction, "outbound") {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	if s.recordCall(ctx, st, r) {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	}
}

// callRailValid checks CallRail's Signature: base64 HMAC-SHA1 of the raw body.
func callRailValid(key, sig string, body []byte) bool {
	return callsig.Equal(callsig.CallRail(key, body), strings.TrimSpace(sig))
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// jsonInt reads a number written as a JSON number or a string ("42"); 0 otherwise.
func jsonInt(raw json.RawMessage) int {
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < 1e7 {
		return int(f)
	}
	return 0
}

// jsonBool reads a flag written as a JSON boolean, a number (1, 0) or a string ("true",
// "false", "1", "0", "yes", "no"); ok is false when raw is absent, null or none of those.
func jsonBool(raw json.RawMessage) (v, ok bool) {
	switch strings.ToLower(strings.Trim(string(bytes.TrimSpace(raw)), `"`)) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}

// parseCallTime reads RFC 3339 (with or without fraction) and CallRail's older
// "2006-01-02 15:04:05" (UTC).
func parseCallTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-07:00", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

type callBody struct {
	Site      string          `json:"site"`
	CallID    string          `json:"call_id"`
	To        string          `json:"to"`
	From      string          `json:"from"`
	StartedAt json.RawMessage `json:"started_at"`
	Duration  int             `json:"duration"`
	Answered  *bool           `json:"answered"`
	Status    string          `json:"status"`
	Direction string          `json:"direction"`
}

// handleCall is POST /v1/calls: a call from the site's own phone system, with its secret.
func (s *Server) handleCall(ctx *fasthttp.RequestCtx) {
	var b callBody
	st := s.serverStart(ctx, &b, func() string { return b.Site })
	if st == nil {
		return
	}
	bad := func(detail string) { s.refuse(ctx, fasthttp.StatusBadRequest, enrich.ReasonBadField, detail) }
	switch {
	case b.CallID == "" || len(b.CallID) > 64:
		bad("call_id is required (at most 64 bytes)")
		return
	case phone.Digits(b.To) == "":
		bad("to (the number called) is required")
		return
	case b.Duration < 0:
		bad("duration is seconds, 0 or more")
		return
	}
	ts, err := parseOccurredAt(b.StartedAt)
	if err != nil {
		s.refuse(ctx, fasthttp.StatusBadRequest, enrich.ReasonBadTimestamp, "started_at must be RFC 3339 or epoch milliseconds")
		return
	}
	r := &callReport{provider: providerAPI, id: b.CallID, to: b.To, from: b.From, duration: b.Duration, status: strings.ToLower(b.Status),
		direction: strings.ToLower(b.Direction), final: true, start: time.Now()}
	if ts > 0 {
		r.start = time.UnixMilli(ts)
	}
	r.answered = b.Duration > 0
	if b.Answered != nil {
		r.answered = *b.Answered
	}
	if r.status == "" {
		r.status = map[bool]string{true: "completed", false: "no-answer"}[r.answered]
	}
	if !s.recordCall(ctx, st, r) {
		return
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]string{"call_id": b.CallID})
}
