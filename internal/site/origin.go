package site

import "strings"

// originParts is a browser origin, or an origin pattern, cut into its parts, lower-cased.
type originParts struct {
	scheme string
	labels []string // host labels; one element for an IPv6 literal
	port   string   // "" for the scheme's default port
}

// parseOrigin reads scheme://host[:port]. A pattern may use "*" for a whole host label or
// for the port; anything else that is not a plain host name, IP literal or port number
// makes the string invalid.
func parseOrigin(s string, pattern bool) (originParts, bool) {
	var o originParts
	scheme, rest, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "://")
	if !ok || scheme == "" || !isToken(scheme, "+-.") || rest == "" {
		return o, false
	}
	o.scheme = scheme
	host := rest
	if strings.HasPrefix(rest, "[") { // IPv6 literal
		end := strings.IndexByte(rest, ']')
		if end < 0 || !isToken(rest[1:end], ":.") {
			return o, false
		}
		host, rest = rest[:end+1], rest[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return o, false
			}
			o.port = rest[1:]
			if o.port == "" {
				return o, false
			}
		}
		o.labels = []string{host}
	} else {
		if i := strings.IndexByte(rest, ':'); i >= 0 {
			host, o.port = rest[:i], rest[i+1:]
			if o.port == "" {
				return o, false
			}
		}
		o.labels = strings.Split(host, ".")
		for _, l := range o.labels {
			if !(pattern && l == "*") && (l == "" || !isToken(l, "-_")) {
				return o, false
			}
		}
	}
	if o.port != "" && !(pattern && o.port == "*") && (len(o.port) > 5 || !isToken(o.port, "") || strings.Trim(o.port, "0123456789") != "") {
		return o, false
	}
	// A browser never sends the scheme's default port, but other clients may: it is the
	// same origin as none.
	if o.scheme == "http" && o.port == "80" || o.scheme == "https" && o.port == "443" {
		o.port = ""
	}
	return o, true
}

// matches reports whether origin o fits pattern p.
func (p originParts) matches(o originParts) bool {
	if p.scheme != o.scheme || len(p.labels) != len(o.labels) {
		return false
	}
	for i, l := range p.labels {
		if l != "*" && l != o.labels[i] {
			return false
		}
	}
	return p.port == o.port || p.port == "*"
}

// isToken reports whether s is made of ASCII letters, digits and the bytes of extra only.
func isToken(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return s != ""
}
