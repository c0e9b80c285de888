package collector

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"

	"touchpoint/internal/apidoc"
)

// docs/api.md lists every path the collector routes, and each documented endpoint answers
// its method (anything but 404 and 405: without a body or a secret it may well refuse).
func TestAPIReferenceMatchesRoutes(t *testing.T) {
	documented, err := apidoc.Endpoints("../docs/api.md", "Collector")
	if err != nil {
		t.Fatal(err)
	}
	routed := routedPaths(t)
	ts := newTestServer(t, nil)
	seen := map[string]bool{}
	for _, e := range documented {
		seen[e.Path] = true
		if !routed[e.Path] {
			t.Errorf("%s is in docs/api.md but the collector does not route %s", e, e.Path)
			continue
		}
		if code := ts.do(t, req{method: e.Method, path: e.Path}).StatusCode(); code == 404 || code == 405 {
			t.Errorf("%s answers %d", e, code)
		}
	}
	for p := range routed {
		if !seen[p] {
			t.Errorf("the collector routes %s, which docs/api.md does not document", p)
		}
	}
}

// routedPaths reads the paths of the switch in Server.route.
func routedPaths(t *testing.T) map[string]bool {
	f, err := parser.ParseFile(token.NewFileSet(), "handlers.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "route" {
			ast.Inspect(fn, func(n ast.Node) bool {
				if cc, ok := n.(*ast.CaseClause); ok {
					for _, e := range cc.List {
						if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							p, _ := strconv.Unquote(lit.Value)
							out[p] = true
						}
					}
				}
				return true
			})
		}
	}
	if len(out) == 0 {
		t.Fatal("found no routes in Server.route")
	}
	return out
}
