// Package api is the HTTP face of the attribution service: the reports API behind access
// tokens, ad cost and exchange rate imports, offline conversion exports, the webhook and
// Meta deliveries, privacy requests, and the dashboard.
package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"touchpoint/attribution/model"
	"touchpoint/attribution/webhook"
	"touchpoint/internal/apitoken"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/privacy"
	"touchpoint/reports"
	"touchpoint/scoring"
)

// Server serves the API.
type Server struct {
	Sites   *site.Registry
	Reports *reports.Store
	Tokens  *apitoken.Store  // site tokens; nil accepts the admin token only
	Privacy *privacy.Service // erasure and export; nil answers 503 there
	Scoring *scoring.Store   // lead scoring rules set through the API; nil: the site file's only
	// Deliveries is the webhook and Meta delivery queue; nil answers 503 there.
	Deliveries *webhook.Store
	// Resent is told of a delivery made pending again ("send again"), so a sender in
	// this process tries it at once; nil leaves it to the sender's poll.
	Resent    func(ds ...webhook.Delivery)
	Dashboard http.Handler // served at /; nil serves nothing there
	Now       func() time.Time
	// Unavailable says why ClickHouse cannot answer now (nil: it can); queries then get 503.
	Unavailable func() error
}

// route is one endpoint of a site and the scope a token needs for it.
type route struct {
	pattern string
	scope   apitoken.Scope
	handle  func(w http.ResponseWriter, r *http.Request, st *site.Site)
}

// routes lists every endpoint that works on one site (?site=).
func (s *Server) routes() []route {
	return []route{
		{"GET /api/v1/reports/sources", apitoken.ReportsRead, s.sources},
		{"GET /api/v1/reports/series", apitoken.ReportsRead, s.series},
		{"GET /api/v1/reports/lifecycle", apitoken.ReportsRead, s.lifecycle},
		{"GET /api/v1/reports/calls", apitoken.ReportsRead, s.calls},
		{"GET /api/v1/leads", apitoken.ReportsRead, s.leads},
		{"GET /api/v1/scoring", apitoken.ReportsRead, s.scoringRules},
		{"PUT /api/v1/scoring", apitoken.Admin, s.setScoringRules},
		{"DELETE /api/v1/scoring", apitoken.Admin, s.setScoringRules},
		{"GET /api/v1/journeys", apitoken.ReportsRead, s.journey},
		{"POST /api/v1/journeys", apitoken.ReportsRead, s.journey},
		{"POST /api/v1/costs", apitoken.CostsWrite, s.costs},
		{"POST /api/v1/fx-rates", apitoken.CostsWrite, s.importRates},
		{"GET /api/v1/fx-rates", apitoken.ReportsRead, s.rates},
		{"GET /api/v1/webhooks/deliveries", apitoken.Admin, s.deliveries},
		{"GET /api/v1/webhooks/deliveries/{id}", apitoken.Admin, s.delivery},
		{"POST /api/v1/webhooks/deliveries/{id}/retry", apitoken.Admin, s.resend},
		{"GET /api/v1/exports/google-ads", apitoken.ReportsRead, s.exportFor(reports.GoogleAds)},
		{"GET /api/v1/exports/microsoft-ads", apitoken.ReportsRead, s.exportFor(reports.MicrosoftAds)},
		{"POST /api/v1/privacy/erase", apitoken.Admin, s.erase},
		{"GET /api/v1/privacy/erasures", apitoken.Admin, s.erasures},
		{"GET /api/v1/privacy/erasures/{id}", apitoken.Admin, s.erasure},
		{"GET /api/v1/privacy/export", apitoken.Admin, s.export},
		{"POST /api/v1/privacy/export", apitoken.Admin, s.export},
	}
}

// Handler routes every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.scoped(rt.scope, rt.handle))
	}
	mux.Handle("GET /api/v1/sites", s.authenticated(s.siteList))
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such endpoint")
	}))
	if s.Dashboard != nil {
		mux.Handle("/", s.Dashboard)
	}
	return mux
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) sources(w http.ResponseWriter, r *http.Request, st *site.Site) {
	p, err := reports.ParseParams(r.URL.Query(), s.now())
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	p.Currency = st.Currency
	out, err := s.Reports.Sources(r.Context(), p)
	respond(w, out, err)
}

// series is the source report's totals per day, week or month, beside the previous period.
func (s *Server) series(w http.ResponseWriter, r *http.Request, st *site.Site) {
	p, err := reports.ParseParams(r.URL.Query(), s.now())
	var interval string
	if err == nil {
		interval, err = reports.ParseInterval(r.URL.Query(), p)
	}
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	p.Currency = st.Currency
	out, err := s.Reports.Series(r.Context(), p, interval)
	respond(w, out, err)
}

func (s *Server) lifecycle(w http.ResponseWriter, r *http.Request, st *site.Site) {
	p, err := reports.ParseParams(r.URL.Query(), s.now())
	if err == nil && r.URL.Query().Get("by") == "" {
		p.By, _ = reports.LookupGroupBy("source")
	}
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	p.Currency = st.Currency
	out, err := s.Reports.Lifecycle(r.Context(), p, st.Lifecycle, s.now())
	respond(w, out, err)
}

// calls is GET /api/v1/reports/calls: the calls report, by channel (default), source,
// campaign or keyword under a model (default last_click: the session that held the number).
func (s *Server) calls(w http.ResponseWriter, r *http.Request, st *site.Site) {
	q := r.URL.Query()
	p, err := reports.ParseParams(q, s.now())
	if err == nil && q.Get("model") == "" {
		p.Model = model.LastClick
	}
	if err == nil && !slices.Contains(reports.CallGroupBys, p.By.Name) {
		err = fmt.Errorf("calls are grouped by %s", strings.Join(reports.CallGroupBys, ", "))
	}
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	out, err := s.Reports.Calls(r.Context(), p)
	respond(w, out, err)
}

// leads is the lead list: the leads of a date range, newest (or best scored) first, a
// page at a time.
func (s *Server) leads(w http.ResponseWriter, r *http.Request, st *site.Site) {
	q, err := reports.ParseLeadQuery(r.URL.Query(), s.now())
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	q.Stages = st.Lifecycle.Stages
	if q.Scored, err = s.scored(r, st); err != nil {
		respond(w, nil, err)
		return
	}
	out, err := s.Reports.Leads(r.Context(), q)
	respond(w, out, err)
}

// journey is GET or POST /api/v1/journeys: the journey to a conversion (conversion_id), or
// to the latest lead of the person with an email. A GET names it in the query string, a
// POST in its body (JSON or a form). An email is sent in a POST body, or hashed
// (email_sha256): query strings end up in access logs. A GET with ?email= is still
// answered, for clients that send it.
func (s *Server) journey(w http.ResponseWriter, r *http.Request, st *site.Site) {
	var by struct {
		ConversionID string `json:"conversion_id"`
		Email        string `json:"email"`
		EmailSHA256  string `json:"email_sha256"`
	}
	if r.Method != http.MethodPost {
		q := r.URL.Query()
		by.ConversionID, by.Email, by.EmailSHA256 = q.Get("conversion_id"), q.Get("email"), q.Get("email_sha256")
	} else {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			fail(w, http.StatusRequestEntityTooLarge, "body over 64 KiB")
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			f, err := url.ParseQuery(string(body))
			if err != nil {
				fail(w, http.StatusBadRequest, "cannot parse the form: "+err.Error())
				return
			}
			by.ConversionID, by.Email, by.EmailSHA256 = f.Get("conversion_id"), f.Get("email"), f.Get("email_sha256")
		} else if len(bytes.TrimSpace(body)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&by); err != nil {
				fail(w, http.StatusBadRequest, `body must be {"email"} or {"conversion_id"} or {"email_sha256"}: `+err.Error())
				return
			}
		}
	}
	id, email, hash := by.ConversionID, strings.TrimSpace(by.Email), strings.ToLower(strings.TrimSpace(by.EmailSHA256))
	given := 0
	for _, v := range []string{id, email, hash} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		fail(w, http.StatusBadRequest, "give one of conversion_id, email (in a POST body) or email_sha256")
		return
	}
	if email != "" {
		hash = event.EmailSHA256(email)
	} else if _, err := hex.DecodeString(hash); hash != "" && (err != nil || len(hash) != 64) {
		fail(w, http.StatusBadRequest, "email_sha256 is 64 hex digits: the SHA-256 of the trimmed, lower-cased address")
		return
	}
	j, err := s.Reports.Journey(r.Context(), st, id, hash)
	if errors.Is(err, reports.ErrNotFound) {
		fail(w, http.StatusNotFound, "no conversion found")
		return
	}
	respond(w, j, err)
}

// costs imports ad costs: JSON, Touchpoint's CSV, or a Google Ads, Microsoft Advertising
// or Meta export. ?source= and ?medium= name the rows' source and medium when the file
// has none; ?currency= the currency of rows without one (default: the site's).
func (s *Server) costs(w http.ResponseWriter, r *http.Request, st *site.Site) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	def := reports.CostDefaults{Source: q.Get("source"), Medium: q.Get("medium"), Currency: st.Currency}
	if c := q.Get("currency"); c != "" {
		def.Currency = strings.ToUpper(c)
	}
	costs, err := reports.ParseCosts(r.Header.Get("Content-Type"), body, def)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.Reports.ImportCosts(r.Context(), st.ID, costs); err != nil {
		respond(w, nil, err)
		return
	}
	respond(w, map[string]any{"site": st.ID, "imported": len(costs)}, nil)
}

// importRates loads exchange rates against the site's currency: an ECB reference file
// (CSV or its zip) or a CSV of date,currency,rate.
func (s *Server) importRates(w http.ResponseWriter, r *http.Request, st *site.Site) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	rates, err := reports.ParseRates(body, st.Currency)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.Reports.ImportRates(r.Context(), st.ID, rates); err != nil {
		respond(w, nil, err)
		return
	}
	first, last := rates[0].Date, rates[0].Date
	currencies := map[string]bool{}
	for _, x := range rates {
		first, last = min(first, x.Date), max(last, x.Date)
		currencies[x.Currency] = true
	}
	respond(w, map[string]any{"site": st.ID, "base": st.Currency, "imported": len(rates), "currencies": len(currencies),
		"from": first, "to": last}, nil)
}

// rates lists the loaded rates against the site's currency in a date range.
func (s *Server) rates(w http.ResponseWriter, r *http.Request, st *site.Site) {
	p, err := reports.ParseParams(r.URL.Query(), s.now())
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	rates, err := s.Reports.Rates(r.Context(), st.ID, st.Currency, p.From, p.To)
	if rates == nil {
		rates = []reports.Rate{}
	}
	respond(w, map[string]any{"site": st.ID, "base": st.Currency, "from": p.From.Format("2006-01-02"), "to": p.To.Format("2006-01-02"),
		"rates": rates}, err)
}

// readBody reads an upload of at most 32 MiB, or answers 413.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<20))
	if err != nil {
		fail(w, http.StatusRequestEntityTooLarge, "body over 32 MiB")
		return nil, false
	}
	return body, true
}

// respond writes v as JSON, or the reason it could not be computed: the dashboard shows
// it to the admin, who can act on "ClickHouse cannot be reached" but not on a pointer to
// a log they may not read.
func respond(w http.ResponseWriter, v any, err error) {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		log.Printf("api: %v", err)
		status, reason := failure(err)
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "10")
		}
		fail(w, status, reason)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("api: cannot write response: %v", err)
	}
}

// unavailable answers a request that needs ClickHouse while it is away.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "10")
	fail(w, http.StatusServiceUnavailable, "ClickHouse is unavailable; the service waits for it, try again shortly")
}

// unreachable reports whether err is a failure to reach ClickHouse rather than a query
// it refused.
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// failure is the status and the sentence of an error computing an answer.
func failure(err error) (int, string) {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return http.StatusGatewayTimeout, "ClickHouse did not answer in time: " + brief(err)
	case unreachable(err):
		return http.StatusServiceUnavailable, "ClickHouse cannot be reached: " + brief(err)
	}
	return http.StatusInternalServerError, "the report could not be computed: " + brief(err)
}

// brief is an error's first line, at most 300 bytes: ClickHouse's exceptions can carry
// a stack trace.
func brief(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

func fail(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"error\":%q}\n", reason)
}
