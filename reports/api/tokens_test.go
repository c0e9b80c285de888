package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/apitoken"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
	"touchpoint/privacy"
	"touchpoint/reports"
)

// tokenServer serves sites s1 and s2 with site tokens stored in a fresh database.
func tokenServer(t *testing.T) (*Server, *httptest.Server, *apitoken.Store) {
	conn, db := testenv.FreshDatabase(t)
	sites, err := site.New(site.Config{AdminTokenSHA256: "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c", // demo-admin
		Sites: []site.Site{{ID: "s1"}, {ID: "s2"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tokens := &apitoken.Store{Conn: conn, DB: db, Sites: sites}
	s := &Server{Sites: sites, Reports: &reports.Store{Conn: conn, DB: db}, Tokens: tokens,
		Privacy: &privacy.Service{Conn: conn, DB: db, Grace: time.Millisecond, Ctx: ctx}}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv, tokens
}

func newToken(t *testing.T, store *apitoken.Store, siteID string, scopes ...apitoken.Scope) string {
	t.Helper()
	_, secret, err := store.Create(context.Background(), siteID, scopes, "test")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// call sends one request of route pattern for site (in the query string) with token.
func call(t *testing.T, base, pattern, siteID, token string) int {
	t.Helper()
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{id}", uuid.NewString())
	body := map[string]string{
		"/api/v1/journeys":       `{"conversion_id": "c1"}`,
		"/api/v1/costs":          "date,source,medium,campaign,cost\n2026-10-01,google,cpc,brand,1\n",
		"/api/v1/privacy/erase":  `{"email": "someone@example.com"}`,
		"/api/v1/privacy/export": `{"user_id": "u1"}`,
	}[path]
	q := "?site=" + siteID
	if method == http.MethodGet && path == "/api/v1/journeys" {
		q += "&conversion_id=c1"
	}
	if method == http.MethodGet && path == "/api/v1/privacy/export" {
		q += "&user_id=u1"
	}
	var req *http.Request
	if method == http.MethodPost {
		req, _ = http.NewRequest(method, base+path+q, strings.NewReader(body))
		if strings.HasPrefix(body, "{") {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "text/csv")
		}
	} else {
		req, _ = http.NewRequest(method, base+path+q, nil)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Every endpoint of a site declares a scope; a token of one site is refused on every
// endpoint of another site (and on sites that do not exist), whatever its scopes; on its
// own site it reaches exactly the endpoints of its scopes. The admin token reaches all.
func TestSiteTokenNeverReachesAnotherSite(t *testing.T) {
	s, srv, store := tokenServer(t)
	admin1 := newToken(t, store, "s1", apitoken.Admin)
	read1 := newToken(t, store, "s1", apitoken.ReportsRead)
	costs1 := newToken(t, store, "s1", apitoken.CostsWrite)
	both1 := newToken(t, store, "s1", apitoken.ReportsRead, apitoken.CostsWrite)
	refused := func(code int) bool { return code == http.StatusUnauthorized || code == http.StatusForbidden }
	routes := s.routes()
	if len(routes) < 11 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		if rt.scope == "" {
			t.Fatalf("%s declares no scope", rt.pattern)
		}
		for _, tok := range []string{admin1, read1, costs1, both1} {
			for _, other := range []string{"s2", "nope"} {
				if code := call(t, srv.URL, rt.pattern, other, tok); code != http.StatusForbidden {
					t.Fatalf("%s on site %s with a token of s1: %d, want 403", rt.pattern, other, code)
				}
			}
		}
		for tok, scopes := range map[string][]apitoken.Scope{admin1: {apitoken.Admin}, read1: {apitoken.ReportsRead},
			costs1: {apitoken.CostsWrite}, both1: {apitoken.ReportsRead, apitoken.CostsWrite}} {
			g := apitoken.Grant{Site: "s1", Scopes: scopes}
			code := call(t, srv.URL, rt.pattern, "s1", tok)
			if want := g.Allows("s1", rt.scope); refused(code) == want {
				t.Fatalf("%s on s1 with scopes %v: %d (allowed: %v)", rt.pattern, scopes, code, want)
			}
		}
		for _, siteID := range []string{"s1", "s2"} {
			if code := call(t, srv.URL, rt.pattern, siteID, "demo-admin"); refused(code) {
				t.Fatalf("%s on %s with the admin token: %d", rt.pattern, siteID, code)
			}
		}
		if code := call(t, srv.URL, rt.pattern, "s1", ""); code != http.StatusUnauthorized {
			t.Fatalf("%s without a token: %d", rt.pattern, code)
		}
		if code := call(t, srv.URL, rt.pattern, "s1", "tpk_not-a-token"); code != http.StatusUnauthorized {
			t.Fatalf("%s with an unknown token: %d", rt.pattern, code)
		}
	}
	// A site named in a privacy request's body is held to the same rule.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/privacy/erase", strings.NewReader(`{"site": "s2", "email": "a@b.c"}`))
	req.Header.Set("Authorization", "Bearer "+admin1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("erasure on s2 named in the body with a token of s1: %d", resp.StatusCode)
	}
}

// The site list shows a token its own site only; a revoked token stops working.
func TestSiteListAndRevocation(t *testing.T) {
	_, srv, store := tokenServer(t)
	tok, secret, err := store.Create(context.Background(), "s1", []apitoken.Scope{apitoken.ReportsRead}, "dashboard")
	if err != nil {
		t.Fatal(err)
	}
	list := func(token string) (int, []string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/sites", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Token string `json:"token"`
			Sites []struct {
				ID string `json:"id"`
			} `json:"sites"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		var ids []string
		for _, s := range out.Sites {
			ids = append(ids, s.ID)
		}
		return resp.StatusCode, ids
	}
	if code, ids := list(secret); code != 200 || strings.Join(ids, ",") != "s1" {
		t.Fatalf("site token sees %d %v", code, ids)
	}
	if code, ids := list("demo-admin"); code != 200 || strings.Join(ids, ",") != "s1,s2" {
		t.Fatalf("admin token sees %d %v", code, ids)
	}
	if _, err := store.Revoke(context.Background(), tok.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := list(secret); code != http.StatusUnauthorized {
		t.Fatalf("revoked token answered %d", code)
	}
	ts, err := store.List(context.Background(), "s1")
	if err != nil || len(ts) != 1 || !ts[0].Revoked || ts[0].Name != "dashboard" {
		t.Fatalf("list after revoke: %+v %v", ts, err)
	}
	var stored uint64
	if err := store.Conn.QueryRow(context.Background(), "SELECT count() FROM "+store.DB+".api_tokens WHERE position(token_sha256, ?) > 0 OR position(name, ?) > 0",
		secret, secret).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("the token is stored in clear (%d rows, %v)", stored, err)
	}
}
