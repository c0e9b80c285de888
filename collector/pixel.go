package collector

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"touchpoint/collector/enrich"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
)

// transparentGIF is a 1×1 transparent GIF.
var transparentGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// pixelFields are the query parameters of /p.gif copied into the event.
var pixelFields = []string{"id", "type", "vid", "url", "ref", "title", "name", "screen", "lang", "tz"}

// browserGet checks a browser's GET to a public endpoint (allow: the methods to name when
// another is used), the client address's rate and the site of ?site=; it returns the site
// and the address, or nil when it answered the request itself.
func (s *Server) browserGet(ctx *fasthttp.RequestCtx, allow string) (*site.Site, netip.Addr) {
	ip := s.clientIP(ctx)
	if !ctx.IsGet() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, allow)
		s.refuse(ctx, fasthttp.StatusMethodNotAllowed, reasonMethod, "use GET")
		return nil, ip
	}
	if !s.allowIP(ctx, ip) {
		return nil, ip
	}
	st := s.sites.Get(string(ctx.QueryArgs().Peek("site")))
	if st == nil {
		s.refuse(ctx, fasthttp.StatusForbidden, reasonUnknownSite, "unknown site")
	}
	return st, ip
}

// handlePixel is GET /p.gif?site=…&id=…&type=…: one event for pages without JavaScript.
func (s *Server) handlePixel(ctx *fasthttp.RequestCtx) {
	st, ip := s.browserGet(ctx, "GET")
	if st == nil {
		return
	}
	args := ctx.QueryArgs()
	// An image request carries no Origin; its Referer, when sent, must be an allowed page.
	if ref := ctx.Request.Header.Referer(); len(ref) > 0 {
		u, err := url.Parse(string(ref))
		if err != nil || !st.AllowsOrigin(u.Scheme+"://"+u.Host) {
			s.refuse(ctx, fasthttp.StatusForbidden, reasonOrigin, "page not allowed for this site")
			return
		}
	}
	if !s.allowSite(ctx, st) {
		return
	}
	ev := map[string]any{}
	for _, f := range pixelFields {
		if v := args.Peek(f); len(v) > 0 {
			ev[f] = string(v)
		}
	}
	if v := args.Peek("ts"); len(v) > 0 {
		ts, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			ts = -1 // refused by the time step as a bad timestamp
		}
		ev["ts"] = ts
	}
	raw, _ := json.Marshal(ev)
	req := &enrich.Request{Site: st, Origin: event.OriginPixel, Now: time.Now(), IP: ip, UA: string(ctx.UserAgent())}
	out, ok := s.accept(ctx, req, []json.RawMessage{raw})
	if !ok {
		return
	}
	s.setVisitorCookie(ctx, st, out.vid)
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.SetContentType("image/gif")
	ctx.SetBody(transparentGIF)
}
