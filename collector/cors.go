package collector

import (
	"github.com/valyala/fasthttp"
)

// preflight answers a CORS preflight for /e. The body (and so the site) is not known yet:
// an origin allowed by any site passes here, and the POST itself is checked against its site.
func (s *Server) preflight(ctx *fasthttp.RequestCtx, origin string) {
	if origin == "" || !s.anySiteAllows(origin) {
		s.refuse(ctx, fasthttp.StatusForbidden, reasonOrigin, "origin not allowed")
		return
	}
	setCORS(ctx, origin)
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderAccessControlAllowMethods, "POST, OPTIONS")
	h.Set(fasthttp.HeaderAccessControlAllowHeaders, "Content-Type")
	h.Set(fasthttp.HeaderAccessControlMaxAge, "86400")
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func (s *Server) anySiteAllows(origin string) bool {
	for _, st := range s.sites.Sites() {
		if st.AllowsOrigin(origin) {
			return true
		}
	}
	return false
}

// setCORS echoes an allowed origin with credentials, so the cookie travels with beacons.
// The names are given canonical: every request to /e sets them, and Set would normalise
// each name again.
func setCORS(ctx *fasthttp.RequestCtx, origin string) {
	h := &ctx.Response.Header
	h.SetCanonical(corsAllowOrigin, []byte(origin))
	h.SetCanonical(corsAllowCredentials, corsTrue)
	h.SetCanonical(corsExposeHeaders, corsRetryAfter)
	h.Add(fasthttp.HeaderVary, "Origin")
}

var (
	corsAllowOrigin      = []byte(fasthttp.HeaderAccessControlAllowOrigin)
	corsAllowCredentials = []byte(fasthttp.HeaderAccessControlAllowCredentials)
	corsExposeHeaders    = []byte(fasthttp.HeaderAccessControlExposeHeaders)
	corsTrue             = []byte("true")
	corsRetryAfter       = []byte("Retry-After")
)
