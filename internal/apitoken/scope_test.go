package apitoken

import (
	"slices"
	"testing"
)

func TestParseScopes(t *testing.T) {
	f := func(in string, want ...Scope) {
		t.Helper()
		got, err := ParseScopes(in)
		if want == nil {
			if err == nil {
				t.Fatalf("ParseScopes(%q) = %v, want an error", in, got)
			}
			return
		}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("ParseScopes(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	f("reports:read", ReportsRead)
	f(" reports:read , costs:write,reports:read", ReportsRead, CostsWrite)
	f("admin", Admin)
	f("")
	f(",")
	f("reports:write")
	f("ADMIN")
}

func TestGrantAllows(t *testing.T) {
	f := func(g Grant, site string, scope Scope, want bool) {
		t.Helper()
		if got := g.Allows(site, scope); got != want {
			t.Fatalf("%+v.Allows(%q, %q) = %v", g, site, scope, got)
		}
	}
	admin := Grant{TokenID: "admin", Scopes: []Scope{Admin}}
	f(admin, "any", Admin, true)
	f(admin, "any", CostsWrite, true)
	siteAdmin := Grant{Site: "a", Scopes: []Scope{Admin}}
	f(siteAdmin, "a", ReportsRead, true)
	f(siteAdmin, "b", ReportsRead, false)
	read := Grant{Site: "a", Scopes: []Scope{ReportsRead}}
	f(read, "a", ReportsRead, true)
	f(read, "a", CostsWrite, false)
	f(read, "a", Admin, false)
	f(read, "", ReportsRead, false)
	f(Grant{Site: "a"}, "a", ReportsRead, false)
}
