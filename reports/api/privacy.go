package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/google/uuid"

	"touchpoint/internal/site"
	"touchpoint/privacy"
)

// identifier reads the person a privacy request names: from the query string of a GET
// (email_sha256, user_id or visitor_id; an email there ends up in access logs, but is
// still answered), or from a JSON body.
func identifier(w http.ResponseWriter, r *http.Request) (privacy.Identifier, bool) {
	var id privacy.Identifier
	if r.Method != http.MethodPost {
		q := r.URL.Query()
		id = privacy.Identifier{Email: q.Get("email"), EmailSHA256: q.Get("email_sha256"), UserID: q.Get("user_id"), VisitorID: q.Get("visitor_id")}
		return id, true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		fail(w, http.StatusRequestEntityTooLarge, "body over 64 KiB")
		return id, false
	}
	var b struct {
		privacy.Identifier
		Site string `json:"site"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		fail(w, http.StatusBadRequest, `body must be {"email"}, {"email_sha256"}, {"user_id"} or {"visitor_id"}: `+err.Error())
		return id, false
	}
	if b.Site != "" && b.Site != r.URL.Query().Get("site") && r.URL.Query().Get("site") != "" {
		fail(w, http.StatusBadRequest, "the body names another site than the query string")
		return id, false
	}
	return b.Identifier, true
}

// privacyRequest is the service and the person of an erase or export request; ok is
// false when an answer was given already.
func (s *Server) privacyRequest(w http.ResponseWriter, r *http.Request) (*privacy.Service, privacy.Identifier, bool) {
	svc := s.privacyService(w)
	if svc == nil {
		return nil, privacy.Identifier{}, false
	}
	id, ok := identifier(w, r)
	return svc, id, ok
}

func (s *Server) privacyService(w http.ResponseWriter) *privacy.Service {
	if s.Privacy == nil {
		fail(w, http.StatusServiceUnavailable, "privacy requests are not served here")
	}
	return s.Privacy
}

// erase is POST /api/v1/privacy/erase: it starts removing the person and answers 202
// with the erasure, whose status is at GET /api/v1/privacy/erasures/{id}.
func (s *Server) erase(w http.ResponseWriter, r *http.Request, st *site.Site) {
	svc, id, ok := s.privacyRequest(w, r)
	if !ok {
		return
	}
	e, err := svc.StartErase(r.Context(), st.ID, id, grantOf(r).TokenID)
	if isInput(err) {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		respond(w, nil, err)
		return
	}
	status := "/api/v1/privacy/erasures/" + e.ID.String() + "?site=" + st.ID
	w.Header().Set("Location", status)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]any{"erasure": e, "status_url": status})
}

// isInput reports whether a privacy error is about the request rather than the service.
func isInput(err error) bool {
	var in *privacy.InputError
	return errors.As(err, &in)
}

// erasure is GET /api/v1/privacy/erasures/{id}: how an erasure is going.
func (s *Server) erasure(w http.ResponseWriter, r *http.Request, st *site.Site) {
	svc := s.privacyService(w)
	if svc == nil {
		return
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		fail(w, http.StatusBadRequest, "an erasure id is a UUID")
		return
	}
	e, err := svc.Status(r.Context(), st.ID, id)
	if errors.Is(err, privacy.ErrNotFound) {
		fail(w, http.StatusNotFound, "no such erasure for this site")
		return
	}
	respond(w, e, err)
}

// erasures is GET /api/v1/privacy/erasures: the site's erasures, newest first.
func (s *Server) erasures(w http.ResponseWriter, r *http.Request, st *site.Site) {
	svc := s.privacyService(w)
	if svc == nil {
		return
	}
	list, err := svc.Erasures(r.Context(), st.ID)
	respond(w, map[string]any{"site": st.ID, "erasures": list}, err)
}

// export is GET or POST /api/v1/privacy/export: everything stored about the person.
func (s *Server) export(w http.ResponseWriter, r *http.Request, st *site.Site) {
	svc, id, ok := s.privacyRequest(w, r)
	if !ok {
		return
	}
	out, err := svc.Export(r.Context(), st.ID, id)
	if isInput(err) {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	respond(w, out, err)
}
