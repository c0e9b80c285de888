package session

import (
	"net/url"
	"strings"

	"touchpoint/internal/channel"
	"touchpoint/internal/referrer"
)

// ClickIDs are the click-id URL parameters in the order they are looked for.
var ClickIDs = [...]string{"gclid", "gbraid", "wbraid", "dclid", "msclkid", "fbclid", "ttclid", "li_fat_id", "twclid"}

// Page is what the stitcher reads from an event's page URL.
type Page struct {
	Host, Path         string
	UTM                [5]string // source, medium, campaign, term, content
	ClickType, ClickID string
}

var utmKeys = [5]string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"}

// ParsePage reads host, path, utm parameters and the first click id of a page URL.
// An unparsable URL yields an empty Page.
func ParsePage(rawURL string) Page {
	if p, ok := parseSimplePage(rawURL); ok {
		return p
	}
	return parsePage(rawURL)
}

// parsePage is ParsePage through url.Parse and url.Values.
func parsePage(rawURL string) Page {
	var p Page
	if rawURL == "" {
		return p
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return p
	}
	p.Host, p.Path = u.Hostname(), u.Path
	if u.RawQuery == "" {
		return p
	}
	q := u.Query()
	for i, k := range utmKeys {
		p.UTM[i] = strings.TrimSpace(q.Get(k))
	}
	for _, k := range ClickIDs {
		if v := q.Get(k); v != "" {
			p.ClickType, p.ClickID = k, v
			break
		}
	}
	return p
}

// parseSimplePage reads URLs that referrer.SplitURL splits, exactly as parsePage would;
// ok is false for any other URL. It exists because url.Parse and url.Values were a large
// share of the stitcher's work per event.
func parseSimplePage(raw string) (p Page, ok bool) {
	host, path, query, ok := referrer.SplitURL(raw)
	if !ok || strings.Count(query, "&") >= 1000 { // url.ParseQuery has a limit of its own
		return p, false
	}
	p.Host, p.Path = host, path
	// The first value of each key, as url.Values.Get gives it: utm keys, then click ids.
	var vals [len(utmKeys) + len(ClickIDs)]string
	var seen [len(vals)]bool
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, ok := unescapeQuery(k)
		i := queryKey(k)
		if !ok || i < 0 || seen[i] {
			continue
		}
		if v, ok = unescapeQuery(v); ok { // a pair whose value cannot be unescaped is no pair
			vals[i], seen[i] = v, true
		}
	}
	for i := range utmKeys {
		p.UTM[i] = strings.TrimSpace(vals[i])
	}
	for i, v := range vals[len(utmKeys):] {
		if v != "" {
			p.ClickType, p.ClickID = ClickIDs[i], v
			break
		}
	}
	return p, true
}

// queryKey is the index of k among utmKeys followed by ClickIDs, or -1.
func queryKey(k string) int {
	for i, u := range utmKeys {
		if k == u {
			return i
		}
	}
	for i, c := range ClickIDs {
		if k == c {
			return len(utmKeys) + i
		}
	}
	return -1
}

func unescapeQuery(s string) (string, bool) {
	if !strings.ContainsAny(s, "%+") {
		return s, true
	}
	v, err := url.QueryUnescape(s)
	return v, err == nil
}

// Touch is how a visitor arrived: campaign parameters, click id and external referrer.
// The zero Touch is an event that says nothing about arrival (an internal page, a reload).
type Touch struct {
	UTM                [5]string
	ClickType, ClickID string
	RefDomain          string // external referrer's domain, "" when none or internal
}

// IsZero reports whether the event carries no arrival information.
func (t Touch) IsZero() bool { return t == Touch{} }

// externalDomain is the domain of referrer ref of page p, or "" when there is none or
// it is p's own site.
func externalDomain(p Page, ref string) string {
	if ref != "" {
		if d := referrer.Domain(ref); d != "" && !referrer.Internal(d, p.Host) {
			return d
		}
	}
	return ""
}

// Attribution is a session's touchpoint as reports show it.
type Attribution struct {
	Source, Medium, Campaign, Term, Content, Channel string
	ReferrerDomain                                   string
}

// Attribute derives source, medium, term and channel of a session that landed on page p
// from referrer ref. When utm_term is empty the search term of the referrer is the term.
func Attribute(p Page, ref string) Attribution {
	res := referrer.Parse(ref, p.Host)
	dom := referrer.Domain(ref)
	src, med := channel.SourceMedium(p.UTM[0], p.UTM[1], p.ClickType, res, dom)
	a := Attribution{Source: src, Medium: med, Campaign: p.UTM[2], Term: p.UTM[3], Content: p.UTM[4], ReferrerDomain: dom}
	if a.Term == "" {
		a.Term = res.Term
	}
	a.Channel = channel.Group(a.Source, a.Medium, a.Campaign)
	return a
}
