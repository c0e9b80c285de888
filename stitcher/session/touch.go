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
	Hop                bool // the URL carries a visitor id handed over by a link from another of the site's domains
}

// HopParam is the URL parameter with which the tracker hands the visitor id over to
// another of the site's domains.
const HopParam = "_tp_vid"

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
	p.Hop = q.Has(HopParam)
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
		if ok && k == HopParam {
			if _, ok := unescapeQuery(v); ok {
				p.Hop = true
			}
			continue
		}
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

// Referrals are one site's rules on referrers that never start a visit: the site's own
// domains (besides the page's own host and its subdomains), the hosts of
// referrer.Unwanted (payment, 3-D Secure and sign-in pages) and the site's excluded
// referrers. A landing that carries the visitor id of a cross-domain link (HopParam) is no
// arrival either, whatever its referrer. A nil *Referrals has the default rules only.
type Referrals struct {
	own      []string
	excluded *referrer.Hosts
}

// NewReferrals builds the rules of a site with domains own (host names) and excluded
// referrers excluded (nil for none).
func NewReferrals(own []string, excluded *referrer.Hosts) *Referrals {
	r := &Referrals{excluded: excluded}
	for _, d := range own {
		if d = referrer.Domain("http://" + strings.TrimLeft(d, "*.")); d != "" {
			r.own = append(r.own, d)
		}
	}
	return r
}

// arrival returns the domain of referrer ref of page p when it is an arrival from another
// site, else "". noArrival reports a referrer that is from another host but never starts a
// visit.
func (r *Referrals) arrival(p *Page, ref string) (domain string, noArrival bool) {
	if ref == "" {
		return "", false
	}
	d := referrer.Domain(ref)
	if d == "" || referrer.Internal(d, p.Host) {
		return "", false
	}
	if p.Hop || r.Excludes(d) {
		return "", true
	}
	return d, false
}

// Excludes reports whether a referrer whose Domain is d never starts a visit on the site.
func (r *Referrals) Excludes(d string) bool {
	if referrer.Unwanted.Match(d) {
		return true
	}
	if r == nil {
		return false
	}
	for _, o := range r.own {
		if referrer.Internal(d, o) {
			return true
		}
	}
	return r.excluded.Match(d)
}

// Attribution is a session's touchpoint as reports show it.
type Attribution struct {
	Source, Medium, Campaign, Term, Content, Channel string
	ReferrerDomain                                   string
}

// Detach gives a copies of its strings, which may point into a Kafka message (see
// Event.Detach).
func (a *Attribution) Detach() {
	for _, s := range []*string{&a.Source, &a.Medium, &a.Campaign, &a.Term, &a.Content, &a.Channel, &a.ReferrerDomain} {
		*s = strings.Clone(*s)
	}
}

// Attribute derives source, medium, term and channel of a session whose first event is e.
// When utm_term is empty the search term of the referrer is the term. A referrer that is no
// arrival counts as none: the session is direct unless its URL says otherwise.
func Attribute(e *Event) Attribution {
	ref := e.Ref
	if e.NoArrival {
		ref = ""
	}
	return attribute(e.Page, ref)
}

func attribute(p Page, ref string) Attribution {
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
