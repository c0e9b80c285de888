package session

import (
	"net/url"
	"strings"

	"touchpoint/internal/channel"
	"touchpoint/internal/referrer"
)

// ClickIDs are the click-id URL parameters in the order they are looked for.
var ClickIDs = []string{"gclid", "gbraid", "wbraid", "dclid", "msclkid", "fbclid", "ttclid", "li_fat_id", "twclid"}

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

// Touch is how a visitor arrived: campaign parameters, click id and external referrer.
// The zero Touch is an event that says nothing about arrival (an internal page, a reload).
type Touch struct {
	UTM                [5]string
	ClickType, ClickID string
	RefDomain          string // external referrer's domain, "" when none or internal
}

// IsZero reports whether the event carries no arrival information.
func (t Touch) IsZero() bool { return t == Touch{} }

// TouchOf is the touch of an event on page p with referrer ref.
func TouchOf(p Page, ref string) Touch {
	t := Touch{UTM: p.UTM, ClickType: p.ClickType, ClickID: p.ClickID}
	if ref != "" {
		if d := referrer.Domain(ref); d != "" && !referrer.Internal(d, p.Host) {
			t.RefDomain = d
		}
	}
	return t
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
