package dashboard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("cannot read body: %s", err)
	}
	return string(b)
}

// The built index.html and the names of the hashed assets it loads.
func index(t *testing.T, h http.Handler) (string, []string) {
	t.Helper()
	res := get(t, h, http.MethodGet, "/")
	html := body(t, res)
	var assets []string
	for _, m := range regexp.MustCompile(`(?:src|href)="\./(assets/[^"]+)"`).FindAllStringSubmatch(html, -1) {
		assets = append(assets, "/"+m[1])
	}
	if len(assets) < 2 {
		t.Fatalf("index.html loads %d assets, want a script and a stylesheet:\n%s", len(assets), html)
	}
	return html, assets
}

func TestHandlerServesFilesWithTypesAndCaching(t *testing.T) {
	h := Handler()
	_, assets := index(t, h)
	f := func(path string, status int, contentType, cache string) {
		t.Helper()
		res := get(t, h, http.MethodGet, path)
		if res.StatusCode != status {
			t.Fatalf("GET %s: status %d, want %d", path, res.StatusCode, status)
		}
		if status != http.StatusOK {
			return
		}
		if got := res.Header.Get("Content-Type"); got != contentType {
			t.Fatalf("GET %s: Content-Type %q, want %q", path, got, contentType)
		}
		if got := res.Header.Get("Cache-Control"); got != cache {
			t.Fatalf("GET %s: Cache-Control %q, want %q", path, got, cache)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Fatalf("GET %s: X-Content-Type-Options %q", path, got)
		}
		if body(t, res) == "" {
			t.Fatalf("GET %s: empty body", path)
		}
	}
	f("/", 200, "text/html; charset=utf-8", "no-cache")
	f("/index.html", 200, "text/html; charset=utf-8", "no-cache")
	f("/favicon.svg", 200, "image/svg+xml", "no-cache")
	for _, a := range assets {
		switch {
		case strings.HasSuffix(a, ".js"):
			f(a, 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable")
		case strings.HasSuffix(a, ".css"):
			f(a, 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable")
		default:
			t.Fatalf("unexpected asset %s", a)
		}
	}
	f("/assets/", 404, "", "")
	f("/assets", 404, "", "")
	f("/missing.js", 404, "", "")
	f("/../dashboard.go", 404, "", "")
	f("/dist/index.html", 404, "", "")
}

func TestIndexHasStrictCSPAndNoInlineScript(t *testing.T) {
	h := Handler()
	res := get(t, h, http.MethodGet, "/")
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Fatalf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP %q allows unsafe sources", csp)
	}
	html, _ := index(t, h)
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Fatalf("index.html has an inline script: %s", tag)
		}
	}
	if regexp.MustCompile(`(?i)\son\w+=|style=`).MatchString(html) {
		t.Fatalf("index.html has inline handlers or styles:\n%s", html)
	}
}

func TestHandlerRevalidatesAndRefusesWrites(t *testing.T) {
	h := Handler()
	etag := get(t, h, http.MethodGet, "/").Header.Get("ETag")
	if etag == "" {
		t.Fatal("index.html has no ETag")
	}
	f := func(method, path string, status int, header ...string) {
		t.Helper()
		if got := get(t, h, method, path, header...).StatusCode; got != status {
			t.Fatalf("%s %s %v: status %d, want %d", method, path, header, got, status)
		}
	}
	f(http.MethodGet, "/", http.StatusNotModified, "If-None-Match", etag)
	f(http.MethodGet, "/", http.StatusOK, "If-None-Match", `"stale"`)
	f(http.MethodHead, "/", http.StatusOK)
	f(http.MethodPost, "/", http.StatusMethodNotAllowed)
	f(http.MethodDelete, "/favicon.svg", http.StatusMethodNotAllowed)
}
