package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"touchpoint/internal/apidoc"
	"touchpoint/internal/site"
	"touchpoint/reports/dashboard"
)

// docs/api.md lists every route the reports service registers, and each documented
// endpoint exists: without a token an API endpoint answers 401, never 404 or 405.
func TestAPIReferenceMatchesRoutes(t *testing.T) {
	documented, err := apidoc.Endpoints("../../docs/api.md", "Reports service")
	if err != nil {
		t.Fatal(err)
	}
	registered := registeredRoutes(t)
	sites, err := site.New(site.Config{Sites: []site.Site{{ID: "s1"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := (&Server{Sites: sites, Dashboard: dashboard.Handler()}).Handler()
	seen := map[string]bool{}
	for _, e := range documented {
		seen[e.String()] = true
		if !registered[e.String()] {
			t.Errorf("%s is in docs/api.md but not registered", e)
			continue
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(e.Method, e.Path+"?site=s1", nil))
		want := http.StatusUnauthorized
		if !strings.HasPrefix(e.Path, "/api/") {
			want = http.StatusOK
		}
		if rec.Code != want {
			t.Errorf("%s without a token answers %d, want %d", e, rec.Code, want)
		}
	}
	for r := range registered {
		if !seen[r] {
			t.Errorf("%s is registered but docs/api.md does not document it", r)
		}
	}
}

// registeredRoutes reads the patterns Server.Handler gives its mux, "METHOD /path"; a
// pattern without a method serves GET. "/api/" is the fallback answering 404 for unknown
// API paths, not an endpoint.
func registeredRoutes(t *testing.T) map[string]bool {
	f, err := parser.ParseFile(token.NewFileSet(), "api.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		lit, isLit := call.Args[0].(*ast.BasicLit)
		if !ok || !isLit || lit.Kind != token.STRING || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
			return true
		}
		p, _ := strconv.Unquote(lit.Value)
		if p == "/api/" {
			return true
		}
		if !strings.Contains(p, " ") {
			p = "GET " + p
		}
		out[p] = true
		return true
	})
	// The endpoints of a site are registered from Server.routes with their scopes.
	for _, rt := range (&Server{}).routes() {
		out[rt.pattern] = true
	}
	if len(out) == 0 {
		t.Fatal("found no routes in api.go")
	}
	return out
}
