// Package apitoken holds the reports API's access tokens: each is bound to one site and
// some scopes, stored in ClickHouse (api_tokens) as a SHA-256 digest, shown in clear once
// when it is created. The admin token of the site configuration stays a token for every
// site and every scope.
package apitoken

import (
	"fmt"
	"slices"
	"strings"
)

// Scope is what a token may do.
type Scope string

// Scopes of the reports API.
const (
	ReportsRead Scope = "reports:read" // reports, journeys, the site list
	CostsWrite  Scope = "costs:write"  // ad cost import
	Admin       Scope = "admin"        // all of the above, webhook log, privacy (erase, export)
)

// Known lists every scope.
var Known = []Scope{ReportsRead, CostsWrite, Admin}

// ParseScopes reads a comma-separated list of scopes.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(Known, Scope(p)) {
			return nil, fmt.Errorf("unknown scope %q (known: reports:read, costs:write, admin)", p)
		}
		if !slices.Contains(out, Scope(p)) {
			out = append(out, Scope(p))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scope given (reports:read, costs:write or admin)")
	}
	return out, nil
}

// Grant is what one token allows.
type Grant struct {
	TokenID string  // "admin" for the configuration's admin token
	Site    string  // "" for every site (the admin token)
	Scopes  []Scope // Admin includes every other scope
}

// Allows reports whether the grant covers scope on site.
func (g Grant) Allows(site string, scope Scope) bool {
	if g.Site != "" && g.Site != site {
		return false
	}
	return slices.Contains(g.Scopes, Admin) || slices.Contains(g.Scopes, scope)
}

// AllSites reports whether the grant covers every site.
func (g Grant) AllSites() bool { return g.Site == "" }
