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
func setCORS(ctx *fasthttp.RequestCtx, origin string) {
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderAccessControlAllowOrigin, origin)
	h.Set(fasthttp.HeaderAccessControlAllowCredentials, "true")
	h.Set(fasthttp.HeaderAccessControlExposeHeaders, "Retry-After")
	h.Add(fasthttp.HeaderVary, "Origin")
}
