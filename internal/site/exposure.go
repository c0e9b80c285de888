package site

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// devSecrets are the server secret and admin token of the development configuration
// (config/dev.json): they are printed in the README, so they protect nothing.
var devSecrets = map[string]string{hashHex("demo-secret"): "demo-secret", hashHex("demo-admin"): "demo-admin"}

// CheckExposure refuses to serve on a non-loopback address while a development secret is
// configured: a stack started with the development file and published on a network would
// let anyone write conversions and read every report. Override the secrets (TP_ADMIN_TOKEN,
// TP_SITE_<ID>_SECRET) or listen on loopback. Reload checks the new configuration against
// the same addresses.
func (r *Registry) CheckExposure(addrs ...string) error {
	r.listen = append(r.listen[:0:0], addrs...)
	var known []string
	cfg := r.cur.Load().cfg
	if cfg.AdminTokenSHA256 != "" {
		if clear, ok := devSecrets[strings.ToLower(cfg.AdminTokenSHA256)]; ok {
			known = append(known, "admin token "+clear)
		}
	}
	for _, s := range cfg.Sites {
		if clear, ok := devSecrets[strings.ToLower(s.SecretSHA256)]; ok {
			known = append(known, fmt.Sprintf("site %s secret %s", s.ID, clear))
		}
	}
	if len(known) == 0 {
		return nil
	}
	for _, a := range addrs {
		if !IsLoopback(a) {
			return fmt.Errorf("refusing to listen on %s with the development %s: set TP_ADMIN_TOKEN and TP_SITE_<ID>_SECRET, or listen on 127.0.0.1",
				a, strings.Join(known, ", "))
		}
	}
	return nil
}

// IsLoopback reports whether a listen address (host:port) accepts connections from this
// machine only. An empty host means every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}
