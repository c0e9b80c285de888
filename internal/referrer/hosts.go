package referrer

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"strings"

	"touchpoint/internal/glob"
)

//go:embed data/unwanted.txt
var unwantedTxt []byte

// Unwanted are the hosts of data/unwanted.txt: payment, 3-D Secure and sign-in pages that
// send a visitor back to the site they came from. They are never a source.
var Unwanted = mustHosts(unwantedTxt)

// Hosts is a set of host patterns. A plain domain ("paypal.com") matches itself and its
// subdomains; a pattern with "*" matches whole host names, "*" standing for any characters,
// dots included ("acs*.*.*"). Matching never allocates: it runs for every referrer.
type Hosts struct {
	domains map[string]struct{}
	globs   []string
}

// NewHosts reads patterns, lower-casing them and dropping a scheme, "www." and a port,
// as Domain does with referrers.
func NewHosts(patterns []string) (*Hosts, error) {
	h := &Hosts{domains: map[string]struct{}{}}
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if _, rest, ok := strings.Cut(p, "://"); ok {
			p = rest
		}
		if i := strings.IndexAny(p, "/?#"); i >= 0 {
			p = p[:i]
		}
		p = strings.TrimPrefix(p, "www.")
		if strings.Contains(p, "*") {
			if strings.Trim(p, "*.") == "" {
				return nil, fmt.Errorf("host pattern %q matches every host", p)
			}
			h.globs = append(h.globs, p)
			continue
		}
		p = normalizeHost(p)
		if p == "" || !plainHost(p) {
			return nil, fmt.Errorf("host pattern %q is not a host name", p)
		}
		h.domains[p] = struct{}{}
	}
	return h, nil
}

func mustHosts(data []byte) *Hosts {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	h, err := NewHosts(lines)
	if err != nil {
		panic(err)
	}
	return h
}

// Match reports whether domain, a host as Domain returns it, is in the set.
func (h *Hosts) Match(domain string) bool {
	if h == nil || domain == "" {
		return false
	}
	for d := domain; ; {
		if _, ok := h.domains[d]; ok {
			return true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i+1:]
	}
	for _, g := range h.globs {
		if glob.Match(g, domain) {
			return true
		}
	}
	return false
}
