package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"slices"
	"strings"

	"touchpoint/internal/apitoken"
	"touchpoint/internal/site"
)

type grantKey struct{}

// grantOf is the grant of the request's token (set by authenticated).
func grantOf(r *http.Request) apitoken.Grant {
	g, _ := r.Context().Value(grantKey{}).(apitoken.Grant)
	return g
}

// authenticated requires a bearer token: the admin token or a site token.
func (s *Server) authenticated(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		token = strings.TrimSpace(token)
		var g apitoken.Grant
		var err error
		if ok {
			if s.Tokens != nil {
				g, ok, err = s.Tokens.Verify(r.Context(), token)
			} else {
				ok = s.Sites.CheckAdmin(token)
				g = apitoken.Grant{TokenID: "admin", Scopes: []apitoken.Scope{apitoken.Admin}}
			}
		}
		if err != nil {
			if s.Unavailable != nil && s.Unavailable() != nil {
				unavailable(w)
				return
			}
			log.Printf("api: cannot check a token: %v", err)
			fail(w, http.StatusServiceUnavailable, "cannot check the token now; try again")
			return
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="touchpoint"`)
			fail(w, http.StatusUnauthorized, "access token required (Authorization: Bearer <token>)")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), grantKey{}, g)))
	})
}

// scoped requires a token that allows scope on the request's site (?site=), and a
// configured site. A site token asking for another site is refused before the site is
// looked up, so it cannot learn which sites exist.
//
// Endpoints that take a JSON body (privacy requests) may name the site there instead.
func (s *Server) scoped(scope apitoken.Scope, h func(w http.ResponseWriter, r *http.Request, st *site.Site)) http.Handler {
	return s.authenticated(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("site")
		if id == "" && r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/privacy/") {
			id = siteInBody(w, r)
		}
		if id == "" {
			fail(w, http.StatusBadRequest, "site is required")
			return
		}
		g := grantOf(r)
		if !g.Allows(id, scope) {
			if g.AllSites() || g.Site == id {
				fail(w, http.StatusForbidden, "this token does not have the "+string(scope)+" scope")
			} else {
				fail(w, http.StatusForbidden, "this token is not for this site")
			}
			return
		}
		st := s.Sites.Get(id)
		if st == nil {
			fail(w, http.StatusNotFound, "unknown site")
			return
		}
		if s.Unavailable != nil && s.Unavailable() != nil {
			unavailable(w)
			return
		}
		h(w, r, st)
	})
}

// siteInBody returns the "site" of a JSON body, leaving the body to be read again.
func siteInBody(w http.ResponseWriter, r *http.Request) string {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	var b struct {
		Site string `json:"site"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	return b.Site
}

// siteList is GET /api/v1/sites: the configured sites the token may use, with its scopes
// there, so the dashboard can offer them.
func (s *Server) siteList(w http.ResponseWriter, r *http.Request) {
	g := grantOf(r)
	type entry struct {
		ID     string           `json:"id"`
		Scopes []apitoken.Scope `json:"scopes"`
	}
	out := []entry{}
	for _, st := range s.Sites.Sites() {
		if g.AllSites() || g.Site == st.ID {
			out = append(out, entry{ID: st.ID, Scopes: slices.Clone(g.Scopes)})
		}
	}
	respond(w, map[string]any{"token": g.TokenID, "sites": out}, nil)
}
