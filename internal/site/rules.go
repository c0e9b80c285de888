package site

import (
	"fmt"
	"strings"

	"touchpoint/internal/referrer"
)

// LeadRule is one entry of a site's lead_forms: a form submit that matches every pattern
// given is a lead of LeadType when Lead is true, and no lead when it is false. Patterns are
// globs ("*" for any characters), compared without regard to case: FormID and FormName
// with the form's id and name attributes, Action with the form's action URL (with the
// action's path when the pattern starts with "/"), Path with the path of the page.
type LeadRule struct {
	FormID   string `json:"form_id,omitempty"`
	FormName string `json:"form_name,omitempty"`
	Action   string `json:"action,omitempty"`
	Path     string `json:"path,omitempty"`
	Lead     bool   `json:"lead"`
	LeadType string `json:"lead_type,omitempty"` // form (the default), call, chat or other
}

// LeadTypes are the lead types a conversion can have.
var LeadTypes = map[string]bool{"form": true, "call": true, "chat": true, "other": true}

// OwnDomains are the domains of the site itself: the hosts of its origins as New read them
// (a "*" label and the port left out), its cookie domain and its domains. A referrer on one
// of them (or on a subdomain) is the same site.
func (s *Site) OwnDomains() []string {
	var out []string
	add := func(d string) {
		d = strings.TrimLeft(strings.ToLower(strings.TrimSpace(d)), ".")
		if d != "" {
			out = append(out, d)
		}
	}
	for _, p := range s.origins {
		labels := p.labels
		for len(labels) > 0 && labels[0] == "*" {
			labels = labels[1:]
		}
		add(strings.Join(labels, "."))
	}
	add(s.CookieDomain)
	for _, d := range s.Domains {
		add(d)
	}
	return out
}

// ExcludedHosts are the site's excluded_referrers, read.
func (s *Site) ExcludedHosts() *referrer.Hosts { return s.excluded }

// checkRules validates domains, excluded_referrers and lead_forms.
func (s *Site) checkRules() error {
	for _, d := range s.Domains {
		if referrer.Domain("http://"+strings.TrimSpace(d)) == "" {
			return fmt.Errorf("domains: %q is not a host name", d)
		}
	}
	h, err := referrer.NewHosts(s.ExcludedReferrers)
	if err != nil {
		return fmt.Errorf("excluded_referrers: %w", err)
	}
	s.excluded = h
	for i := range s.LeadForms {
		r := &s.LeadForms[i]
		if r.FormID == "" && r.FormName == "" && r.Action == "" && r.Path == "" {
			return fmt.Errorf("lead_forms[%d]: give at least one of form_id, form_name, action, path", i)
		}
		if r.LeadType == "" {
			r.LeadType = "form"
		}
		if !LeadTypes[r.LeadType] {
			return fmt.Errorf("lead_forms[%d]: lead_type %q is not form, call, chat or other", i, r.LeadType)
		}
	}
	return nil
}
