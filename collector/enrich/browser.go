package enrich

import (
	"regexp"
	"strings"

	"touchpoint/internal/event"
	"touchpoint/internal/site"
)

// serverTypes are the default lifecycle stages (a site may add its own): a lead becomes an
// MQL, a customer, … in the CRM, and only the site's servers may say so. Browsers record
// leads, sales and custom goals.
var serverTypes = map[string]bool{
	"mql": true, "sal": true, "sql": true, "opportunity": true, "customer": true, "closed_lost": true, "recycled": true,
}

var conversionTypeRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// limitBrowser bounds what an event anyone can send (/e, /p.gif) may claim. Its id must be
// random: name-based UUIDs (versions 3 and 5) are how the collector derives the ids of
// server calls, and a browser event taking one would stand in for a CRM's conversion. A
// conversion is a lead, a sale or a custom goal, never a lifecycle stage, and its value lies
// between 0 and the site's max_browser_value. Server calls and imports carry the site
// secret and are not limited here.
func limitBrowser(r *Request, it *Item) *Refusal {
	if r.Origin != event.OriginWeb && r.Origin != event.OriginPixel {
		return nil
	}
	e := &it.E
	if v := e.ID[14]; v == '3' || v == '5' { // validate made the id a canonical, lower-case UUID
		return refuse(ReasonBadID, "a browser event id is a random UUID (version 4 or 7), not a name-based one")
	}
	c := e.Conversion
	if c == nil {
		return nil
	}
	if c.Type != "" {
		c.Type = strings.ToLower(strings.TrimSpace(c.Type))
		if !conversionTypeRe.MatchString(c.Type) {
			return refuse(ReasonBadField, "conversion type is lead, sale or a custom name of [a-z0-9_]")
		}
		if serverTypes[c.Type] || r.Site != nil && r.Site.IsStage(c.Type) {
			return refuse(ReasonBadField, "conversion type %s is a lifecycle stage: record it from your server (/v1/conversions)", c.Type)
		}
	}
	limit := float64(site.DefaultMaxBrowserValue)
	if r.Site != nil && r.Site.MaxBrowserValue > 0 {
		limit = r.Site.MaxBrowserValue
	}
	if c.Value < 0 || c.Value > limit {
		return refuse(ReasonBadField, "a browser conversion's value is between 0 and %g (the site's max_browser_value); send larger ones from your server", limit)
	}
	return nil
}
