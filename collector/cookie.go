package collector

import (
	"time"

	"github.com/valyala/fasthttp"

	"touchpoint/internal/site"
)

// VisitorCookie is the first-party visitor id cookie (docs/tracker.md).
const VisitorCookie = "_tp_id"

const cookieLifetime = 2 * 365 * 24 * time.Hour

// setVisitorCookie sets or refreshes _tp_id from a server response, which browsers keep
// for its full lifetime (unlike script-written cookies, capped at 7 days by Safari).
// Without a visitor id (consent not given) no cookie is written.
func (s *Server) setVisitorCookie(ctx *fasthttp.RequestCtx, st *site.Site, vid string) {
	if vid == "" {
		return
	}
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(VisitorCookie)
	c.SetValue(vid)
	c.SetPath("/")
	c.SetMaxAge(int(cookieLifetime / time.Second))
	c.SetExpire(time.Now().Add(cookieLifetime))
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	if st.CookieDomain != "" {
		c.SetDomain(st.CookieDomain)
	}
	c.SetSecure(s.isHTTPS(ctx))
	ctx.Response.Header.SetCookie(c)
}
