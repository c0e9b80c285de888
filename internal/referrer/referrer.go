// Package referrer classifies the page a visitor came from: search engine
// (with the search term when the referrer carries it), social network,
// webmail, AI assistant, ad server, the site itself, or an unknown site.
// The source lists are data files embedded from data/.
package referrer

import (
	"net"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Media returned in Result.Medium.
const (
	MediumSearch   = "search"
	MediumSocial   = "social"
	MediumEmail    = "email"
	MediumChatbot  = "chatbot"
	MediumPaid     = "paid"
	MediumInternal = "internal"
	MediumUnknown  = "unknown"
)

// Result is the classification of one referrer.
type Result struct {
	Medium string // one of the Medium* constants
	Source string // display name from the data, e.g. "Google Images"; "" when unknown or internal
	Term   string // search term, search medium only; "" when the referrer does not carry it
}

// maxTermLen bounds the stored search term; some referrers carry kilobytes.
const maxTermLen = 512

// Parse classifies referrer as seen from a page on pageHost. A referrer on
// the page's own host or a subdomain of it (or the other way round), ignoring
// "www." and the port, is internal. Empty, unparsable and unlisted referrers
// are unknown.
func Parse(referrer, pageHost string) Result {
	u := parseURL(referrer)
	host := hostOf(u)
	if host == "" {
		return Result{Medium: MediumUnknown}
	}
	if sameSite(host, normalizeHost(pageHost)) {
		return Result{Medium: MediumInternal}
	}
	m, _, ok := sources.lookup(host, u.EscapedPath())
	if !ok || m.medium == MediumUnknown {
		return Result{Medium: MediumUnknown}
	}
	r := Result{Medium: m.medium, Source: m.name}
	if len(m.params) > 0 {
		r.Term = term(u, m.params)
	}
	return r
}

// Lookup classifies a bare domain such as "m.facebook.com" and also returns
// the listed domain that decided it ("facebook.com"), or "" when no listed
// domain matched. A domain listed as not being its parent's source
// ("docs.google.com") is unknown but still returned as decisive, so callers
// with lists of their own can tell which entry is the more specific.
func Lookup(domain string) (r Result, listed string) {
	host := normalizeHost(domain)
	m, listed, ok := sources.lookup(host, "")
	if !ok || m.medium == MediumUnknown {
		return Result{Medium: MediumUnknown}, listed
	}
	return Result{Medium: m.medium, Source: m.name}, listed
}

// Domain returns the referrer's domain: the lower-case host without "www."
// and port, or the app id of an android-app:// referrer; "" if there is none.
func Domain(rawURL string) string {
	if host, _, _, ok := SplitURL(strings.TrimSpace(rawURL)); ok {
		return normalizeHost(host)
	}
	return hostOf(parseURL(rawURL))
}

// SplitURL splits a URL of the usual shape, http(s)://host[:port]/path?query#fragment with
// a plain host (letters, digits, '-', '.', '_', '~') and no escapes in path and fragment,
// into what url.Parse would give as Hostname(), Path and RawQuery; ok is false for any other
// URL, which then needs url.Parse. It exists because url.Parse was a large share of the
// stitcher's work per event.
func SplitURL(raw string) (host, path, query string, ok bool) {
	rest, found := strings.CutPrefix(raw, "https://")
	if !found {
		if rest, found = strings.CutPrefix(raw, "http://"); !found {
			return "", "", "", false
		}
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < ' ' || c == 0x7f {
			return "", "", "", false // url.Parse refuses control characters
		}
	}
	rest, frag, _ := strings.Cut(rest, "#")
	rest, query, _ = strings.Cut(rest, "?")
	host = rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	host, port, _ := strings.Cut(host, ":")
	if !plainHost(host) || strings.Trim(port, "0123456789") != "" ||
		strings.IndexByte(path, '%') >= 0 || strings.IndexByte(frag, '%') >= 0 {
		return "", "", "", false
	}
	return host, path, query, true
}

// plainHost reports whether h is a non-empty host name that url.Parse keeps as it is.
func plainHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return h != ""
}

// Internal reports whether a referrer whose Domain is domain comes from the site of
// pageHost, as Parse would classify it (MediumInternal), without parsing it again.
func Internal(domain, pageHost string) bool {
	return domain != "" && sameSite(domain, normalizeHost(pageHost))
}

// Key returns the short lower-case name used as the session source for a
// Result.Source, e.g. "google" for "Google Images", "yahoo" for "Yahoo!".
func Key(source string) string {
	if k, ok := sources.keys[source]; ok {
		return k
	}
	return strings.ToLower(source)
}

func parseURL(raw string) *url.URL {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil
	}
	if !strings.Contains(raw, "://") {
		// Some clients send the referrer without a scheme.
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	return u
}

func hostOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "android-app":
	default:
		return ""
	}
	return normalizeHost(u.Hostname())
}

func normalizeHost(h string) string {
	// Without a colon there is no port, and SplitHostPort would only build an error.
	if strings.IndexByte(h, ':') >= 0 {
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
	}
	h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
	return strings.TrimPrefix(h, "www.")
}

func sameSite(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return a == b || subdomainOf(a, b) || subdomainOf(b, a)
}

// subdomainOf reports whether sub is below parent; a bare top-level label
// ("com") is never a parent.
func subdomainOf(sub, parent string) bool {
	n := len(sub) - len(parent)
	return strings.Contains(parent, ".") && n > 0 && sub[n-1] == '.' && sub[n:] == parent
}

// term returns the first non-empty value of params, looking in the query and
// then in the fragment (some engines put the query after '#').
func term(u *url.URL, params []string) string {
	for _, raw := range []string{u.RawQuery, u.Fragment} {
		for _, p := range params {
			if v := queryValue(raw, p); v != "" {
				return clean(v)
			}
		}
	}
	return ""
}

// queryValue is lenient where url.ParseQuery is strict: a malformed escape
// elsewhere in the query must not hide the term.
func queryValue(rawQuery, name string) string {
	for part := range strings.SplitSeq(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		if k != name || v == "" {
			continue
		}
		if dec, err := url.QueryUnescape(v); err == nil {
			return dec
		}
		return strings.ReplaceAll(v, "+", " ")
	}
	return ""
}

func clean(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	if len(s) > maxTermLen {
		cut := maxTermLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
