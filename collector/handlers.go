package collector

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/segmentio/encoding/json"
	"github.com/valyala/fasthttp"

	"touchpoint/collector/enrich"
	"touchpoint/collector/spool"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
)

func (s *Server) route(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if p := s.cfg.PathPrefix; p != "" {
		path = bytes.TrimPrefix(path, []byte(p))
	}
	endpoint := string(path)
	switch endpoint {
	case "/e":
		s.handleEvents(ctx)
	case "/p.gif":
		s.handlePixel(ctx)
	case "/t.js":
		s.tracker.serve(ctx)
	case "/l.js":
		s.linksJS.serve(ctx)
	case "/v1/conversions":
		s.handleConversion(ctx)
	case "/v1/identify":
		s.handleIdentify(ctx)
	case "/v1/import":
		s.handleImport(ctx)
	case "/v1/number":
		s.handleNumber(ctx)
	case "/c.js":
		s.serveCallsScript(ctx)
	case "/v1/calls":
		s.handleCall(ctx)
	case "/v1/calls/twilio":
		s.handleTwilio(ctx)
	case "/v1/calls/callrail":
		s.handleCallRail(ctx)
	case "/healthz":
		ctx.SetBodyString("ok\n")
	case "/readyz":
		s.ready.serve(ctx)
	default:
		endpoint = "other"
		s.refuse(ctx, fasthttp.StatusNotFound, reasonNotFound, "no such endpoint")
	}
	requests.WithLabelValues(endpoint, strconv.Itoa(ctx.Response.StatusCode())).Inc()
}

// refuse answers a request-level refusal and counts it.
func (s *Server) refuse(ctx *fasthttp.RequestCtx, status int, reason enrich.Reason, detail string) {
	refusals.WithLabelValues(string(reason)).Inc()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b, _ := json.Marshal(errorBody{Error: reason, Detail: detail})
	ctx.SetBody(append(b, '\n'))
}

type errorBody struct {
	Error  enrich.Reason  `json:"error"`
	Detail string         `json:"detail,omitempty"`
	Events []eventRefusal `json:"events,omitempty"`
}

type eventRefusal struct {
	Index int `json:"index"`
	enrich.Refusal
}

// outcome is what became of a request's events.
type outcome struct {
	accepted int
	refused  []eventRefusal
	vid      string // the visitor id of the accepted events, for the cookie
}

// ingest runs every event through the pipeline and makes the accepted ones and the
// refused ones (to the dead-letter topic) durable in one write.
func (s *Server) ingest(ctx *fasthttp.RequestCtx, req *enrich.Request, raws []json.RawMessage) (*outcome, error) {
	out := &outcome{}
	msgs := make([]spool.Message, 0, len(raws))
	for i, raw := range raws {
		it := enrich.Item{Raw: raw}
		if ref := s.pipe.Run(req, &it); ref != nil {
			refusals.WithLabelValues(string(ref.Reason)).Inc()
			out.refused = append(out.refused, eventRefusal{Index: i, Refusal: *ref})
			msgs = append(msgs, s.deadLetter(req, raw, ref))
			continue
		}
		v, err := event.AppendJSON(make([]byte, 0, len(raw)+256), &it.E)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, spool.Message{Topic: s.topic, Key: it.E.Key(), Value: v})
		out.accepted++
		if it.E.VID != "" {
			out.vid = it.E.VID
		}
	}
	start := time.Now()
	err := s.sink.Write(ctx, msgs)
	enrich.ObserveProduce(time.Since(start))
	if err != nil {
		return nil, err
	}
	eventsAccepted.WithLabelValues(req.Origin).Add(float64(out.accepted))
	eventsDeadLettered.Add(float64(len(out.refused)))
	return out, nil
}

// deadLetter is the dead-letter message of a refused event: the event as received, with
// emails hashed and the IP anonymised unless the site keeps PII.
func (s *Server) deadLetter(req *enrich.Request, raw []byte, ref *enrich.Refusal) spool.Message {
	if !req.Site.KeepPII {
		raw = redact(raw)
	}
	return spool.Message{
		Topic: s.dlq,
		Key:   []byte(req.Site.ID),
		Value: bytes.Clone(raw), // raw may point into the request buffer, reused after the answer
		Headers: []spool.Header{
			{Key: "reason", Value: []byte(ref.Reason)},
			{Key: "detail", Value: []byte(ref.Detail)},
			{Key: "site", Value: []byte(req.Site.ID)},
			{Key: "origin", Value: []byte(req.Origin)},
			{Key: "received_at", Value: strconv.AppendInt(nil, req.Now.UnixMilli(), 10)},
		},
	}
}

// answerStoreError turns a failed durable write into 503: the client retries later.
func (s *Server) answerStoreError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, errSpoolFull) {
		ctx.Response.Header.Set("Retry-After", "30")
		s.refuse(ctx, fasthttp.StatusServiceUnavailable, reasonSpoolFull, "Kafka is unreachable and the local spool is full; retry later")
		return
	}
	ctx.Response.Header.Set("Retry-After", "5")
	s.refuse(ctx, fasthttp.StatusServiceUnavailable, reasonUnavailable, "events not stored; retry later")
}

// handleEvents is POST /e: a batch of browser events for one site.
func (s *Server) handleEvents(ctx *fasthttp.RequestCtx) {
	origin := string(ctx.Request.Header.Peek(fasthttp.HeaderOrigin))
	if ctx.IsOptions() {
		s.preflight(ctx, origin)
		return
	}
	if !ctx.IsPost() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "POST, OPTIONS")
		s.refuse(ctx, fasthttp.StatusMethodNotAllowed, reasonMethod, "use POST")
		return
	}
	if origin != "" && s.anySiteAllows(origin) {
		// Early, so that the tracker can read refusals such as 429 and their Retry-After.
		setCORS(ctx, origin)
	}
	ip := s.clientIP(ctx)
	if !s.allowIP(ctx, ip) {
		return
	}
	body := ctx.PostBody()
	if len(body) > s.cfg.MaxBodySize {
		s.refuse(ctx, fasthttp.StatusRequestEntityTooLarge, reasonBodyTooLarge, "body larger than "+strconv.Itoa(s.cfg.MaxBodySize)+" bytes")
		return
	}
	b, ref := decodeBatch(body, s.cfg.MaxEvents)
	if ref != nil {
		s.refuse(ctx, statusOf(ref.Reason), ref.Reason, ref.Detail)
		return
	}
	st := s.sites.Get(b.Site)
	if st == nil {
		s.refuse(ctx, fasthttp.StatusForbidden, reasonUnknownSite, "unknown site")
		return
	}
	if origin != "" && !st.AllowsOrigin(origin) {
		s.refuse(ctx, fasthttp.StatusForbidden, reasonOrigin, "origin not allowed for this site")
		return
	}
	if !s.allowSite(ctx, st) {
		return
	}
	req := &enrich.Request{Site: st, Origin: event.OriginWeb, Now: time.Now(), IP: ip, UA: string(ctx.UserAgent())}
	out, ok := s.accept(ctx, req, b.Events)
	if !ok {
		return
	}
	s.setVisitorCookie(ctx, st, out.vid)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// accept ingests a request's events; when none could be accepted or stored it answers
// the request itself and ok is false.
func (s *Server) accept(ctx *fasthttp.RequestCtx, req *enrich.Request, raws []json.RawMessage) (out *outcome, ok bool) {
	out, err := s.ingest(ctx, req, raws)
	if err != nil {
		s.answerStoreError(ctx, err)
		return nil, false
	}
	if out.accepted == 0 {
		s.refuseAll(ctx, out)
		return nil, false
	}
	return out, true
}

// refuseAll answers 400 listing every event's reason (they are in the dead-letter topic).
func (s *Server) refuseAll(ctx *fasthttp.RequestCtx, out *outcome) {
	refusals.WithLabelValues(string(reasonAllEventsWrong)).Inc()
	ctx.SetStatusCode(fasthttp.StatusBadRequest)
	ctx.SetContentType("application/json")
	b, _ := json.Marshal(errorBody{Error: reasonAllEventsWrong, Detail: "no event was valid", Events: out.refused})
	ctx.SetBody(append(b, '\n'))
}

func statusOf(r enrich.Reason) int {
	switch r {
	case reasonUnknownSite:
		return fasthttp.StatusForbidden
	case reasonBodyTooLarge:
		return fasthttp.StatusRequestEntityTooLarge
	}
	return fasthttp.StatusBadRequest
}

// allowIP applies the per-IP rate limit.
func (s *Server) allowIP(ctx *fasthttp.RequestCtx, ip netip.Addr) bool {
	if ok, wait := s.ipRL.allow(addrKey(ip), time.Now()); !ok {
		ctx.Response.Header.Set("Retry-After", retryAfter(wait))
		s.refuse(ctx, fasthttp.StatusTooManyRequests, reasonRateIP, "too many requests from this address")
		return false
	}
	return true
}

// allowSite applies the per-site rate limit.
func (s *Server) allowSite(ctx *fasthttp.RequestCtx, st *site.Site) bool {
	if ok, wait := s.siteRL.allow(st.ID, time.Now()); !ok {
		ctx.Response.Header.Set("Retry-After", retryAfter(wait))
		s.refuse(ctx, fasthttp.StatusTooManyRequests, reasonRateSite, "too many requests for this site")
		return false
	}
	return true
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(max(1, (d+time.Second-1)/time.Second)))
}
