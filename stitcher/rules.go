package stitcher

import (
	siteconf "touchpoint/internal/site"
	"touchpoint/stitcher/lead"
	"touchpoint/stitcher/session"
)

// siteRules are a site's rules on incoming data: which referrers start a visit and which
// form submits are leads.
type siteRules struct {
	referrals *session.Referrals
	leads     lead.Rules
}

// defaultRules apply to sites missing from the site configuration.
var defaultRules = &siteRules{}

// rulebook holds every configured site's rules. It is built once and only read after, by
// many goroutines; looking a site up costs one map access and no allocation.
type rulebook map[string]*siteRules

func newRulebook(sites *siteconf.Registry) rulebook {
	b := rulebook{}
	if sites == nil {
		return b
	}
	for i := range sites.Sites() {
		s := &sites.Sites()[i]
		b[s.ID] = &siteRules{referrals: session.NewReferrals(s.OwnDomains(), s.ExcludedHosts()), leads: lead.Rules(s.LeadForms)}
	}
	return b
}

// of returns the rules of site id.
func (b rulebook) of(id string) *siteRules {
	if r := b[id]; r != nil {
		return r
	}
	return defaultRules
}
