package collector

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
)

func parseCIDRs(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range strings.Split(list, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("cannot parse trusted proxy %q: %w", c, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// isTrusted reports whether a, never an IPv4-mapped IPv6 address (see peerAddr), is in a
// trusted proxy's range.
func (s *Server) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	a, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return a.Unmap()
}

// clientIP is the peer's address, or, when the peer is a trusted proxy, the nearest
// untrusted address in X-Forwarded-For (walking from the right: the left part is
// whatever the client chose to send).
func (s *Server) clientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	peer := peerAddr(ctx)
	if !s.isTrusted(peer) {
		return peer
	}
	xff := ctx.Request.Header.Peek(fasthttp.HeaderXForwardedFor)
	client := peer
	for len(xff) > 0 {
		i := bytes.LastIndexByte(xff, ',')
		part := bytes.TrimSpace(xff[i+1:])
		xff = xff[:max(i, 0)]
		a, err := netip.ParseAddr(string(part))
		if err != nil {
			break
		}
		client = a.Unmap()
		if !s.isTrusted(client) {
			break
		}
	}
	return client
}

// isHTTPS reports whether the browser reached us over TLS, directly or through a trusted proxy.
func (s *Server) isHTTPS(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsTLS() {
		return true
	}
	return s.isTrusted(peerAddr(ctx)) &&
		bytes.EqualFold(ctx.Request.Header.Peek(fasthttp.HeaderXForwardedProto), []byte("https"))
}
