package site

import "strings"

// originParts is a browser origin, or an origin pattern, cut into its parts, lower-cased.
type originParts struct {
	scheme string
	host   string   // a host name, an IPv4 address or a bracketed IPv6 literal
	labels []string // a pattern's host labels, one for an IPv6 literal; nil for an origin
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
		o.host = host
	} else {
		if i := strings.IndexByte(rest, ':'); i >= 0 {
			host, o.port = rest[:i], rest[i+1:]
			if o.port == "" {
				return o, false
			}
		}
		for rest, more := host, true; more; {
			var l string
			l, rest, more = strings.Cut(rest, ".")
			if !(pattern && l == "*") && (l == "" || !isToken(l, "-_")) {
				return o, false
			}
		}
		o.host = host
	}
	if pattern {
		o.labels = hostLabels(o.host)
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

// hostLabels are the labels of a host, an IPv6 literal being one.
func hostLabels(host string) []string {
	if strings.HasPrefix(host, "[") {
		return []string{host}
	}
	return strings.Split(host, ".")
}

// matches reports whether origin o fits pattern p. It walks o's host label by label rather
// than splitting it: it runs on every browser request.
func (p originParts) matches(o originParts) bool {
	if p.scheme != o.scheme || p.port != o.port && p.port != "*" {
		return false
	}
	if strings.HasPrefix(o.host, "[") {
		return len(p.labels) == 1 && (p.labels[0] == "*" || p.labels[0] == o.host)
	}
	rest, more := o.host, true
	for _, l := range p.labels {
		if !more {
			return false // o has fewer labels
		}
		var label string
		label, rest, more = strings.Cut(rest, ".")
		if l != "*" && l != label {
			return false
		}
	}
	return !more // else o has more labels
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
