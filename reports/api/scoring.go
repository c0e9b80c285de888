package api

import (
	"bytes"
	"io"
	"net/http"

	"touchpoint/internal/site"
	"touchpoint/scoring/rules"
)

// maxRulesBody is the largest set of scoring rules PUT /api/v1/scoring takes.
const maxRulesBody = 256 << 10

// scoringRules answers the rules the site scores leads with and where they come from.
func (s *Server) scoringRules(w http.ResponseWriter, r *http.Request, st *site.Site) {
	cur, err := s.Scoring.Current(r.Context(), st)
	respond(w, cur, err)
}

// setScoringRules stores the rules of a PUT body (validated as the site file's are) or,
// for DELETE, clears them: the site file's rules apply again. Everyone is rescored at the
// next scoring pass.
func (s *Server) setScoringRules(w http.ResponseWriter, r *http.Request, st *site.Site) {
	if s.Scoring == nil {
		fail(w, http.StatusServiceUnavailable, "scoring rules cannot be stored by this service")
		return
	}
	var rs *rules.Rules
	if r.Method == http.MethodPut {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRulesBody))
		if err != nil {
			fail(w, http.StatusRequestEntityTooLarge, "body over 256 KiB")
			return
		}
		if rs, err = rules.Parse(bytes.TrimSpace(body)); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if err := s.Scoring.Save(r.Context(), st.ID, rs, grantOf(r).TokenID, s.now()); err != nil {
		respond(w, nil, err)
		return
	}
	s.scoringRules(w, r, st)
}

// scored reports whether the site scores leads now.
func (s *Server) scored(r *http.Request, st *site.Site) (bool, error) {
	cur, err := s.Scoring.Current(r.Context(), st)
	return cur.Rules != nil, err
}
