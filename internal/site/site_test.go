package site

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configured is the site of a file that holds only s.
func configured(t *testing.T, s Site) *Site {
	t.Helper()
	r, err := New(Config{Sites: []Site{s}})
	if err != nil {
		t.Fatal(err)
	}
	return r.Get(s.ID)
}

func TestAllowsOrigin(t *testing.T) {
	s := configured(t, Site{ID: "a", Origins: []string{"http://localhost:*", "https://*.example.com", "https://example.com"}})
	f := func(origin string, want bool) {
		t.Helper()
		if got := s.AllowsOrigin(origin); got != want {
			t.Fatalf("AllowsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
	f("http://localhost:3000", true)
	f("http://LOCALHOST:3000", true)
	f("https://www.example.com", true)
	f("https://example.com", true)
	f("https://evil.com", false)
	f("https://example.com.evil.com", false)
	f("http://www.example.com", false)
	f("", false)
	// "*" is one label or a port number, never more.
	f("http://localhost", true) // the default port
	f("http://localhost:80", true)
	f("HTTP://LOCALHOST", true)
	f("https://example.com:443", true)
	f("https://example.com:8443", false)
	f("http://localhost:80.evil.example", false)
	f("http://localhost:3000.evil.example", false)
	f("http://localhost:3000/", false)
	f("http://localhost:3000@evil.example", false)
	f("http://localhost:x", false)
	f("http://localhost.evil.example:3000", false)
	f("https://a.b.example.com", false)
	f("https://.example.com", false)
	f("https://www.example.com:443", true) // the default port, written out
	f("https://www.example.com/", false)
	f("https://evil.com#.example.com", false)
	f("https://evil.com?.example.com", false)
	f("https://evil.com/.example.com", false)
	f("https://www.example.com\x00", false)
	f("null", false)

	v6 := configured(t, Site{ID: "b", Origins: []string{"http://[::1]:*", "http://127.0.0.1:*", "http://[::ffff:10.0.0.1]"}})
	for origin, want := range map[string]bool{"http://[::1]:8080": true, "http://[::1]": true, "http://[::2]:8080": false,
		"http://127.0.0.1:8080": true, "http://127.0.0.1:8080.evil.example": false, "http://127.0.0.1.evil.example:8080": false,
		"http://[::ffff:10.0.0.1]": true, "http://[::ffff:10.0.0.2]": false, "http://10.0.0.1": false} {
		if got := v6.AllowsOrigin(origin); got != want {
			t.Fatalf("AllowsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}

	// A label pattern stands for exactly one label: neither none nor two.
	sub := configured(t, Site{ID: "c", Origins: []string{"https://*.example.com", "http://*:*"}})
	for origin, want := range map[string]bool{"https://www.example.com": true, "https://example.com": false,
		"https://a.b.example.com": false, "https://www.example.com.": false, "http://localhost:3000": true,
		"http://[::1]:3000": true, "http://www.example.com": false} {
		if got := sub.AllowsOrigin(origin); got != want {
			t.Fatalf("AllowsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
	// It runs on every browser request: a lower-case origin costs no allocation.
	if n := testing.AllocsPerRun(100, func() { s.AllowsOrigin("https://www.example.com") }); n != 0 {
		t.Fatalf("AllowsOrigin allocates %v times a call", n)
	}
}

func TestSecrets(t *testing.T) {
	r, err := New(Config{
		AdminTokenSHA256: "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c",
		Sites:            []Site{{ID: "demo", SecretSHA256: "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !r.CheckAdmin("demo-admin") || r.CheckAdmin("demo-secret") || r.CheckAdmin("") {
		t.Fatal("admin token check is wrong")
	}
	s := r.Get("demo")
	if !s.CheckSecret("demo-secret") || s.CheckSecret("demo-admin") || s.CheckSecret("") {
		t.Fatal("site secret check is wrong")
	}
	if s.LookbackDays != 90 {
		t.Fatalf("default lookback = %d, want 90", s.LookbackDays)
	}
	if s.Currency != "EUR" {
		t.Fatalf("default currency = %q, want EUR", s.Currency)
	}
	if r.Get("other") != nil {
		t.Fatal("unknown site found")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	f := func(c Config) {
		t.Helper()
		if _, err := New(c); err == nil {
			t.Fatalf("New(%+v) accepted a bad config", c)
		}
	}
	f(Config{Sites: []Site{{ID: ""}}})
	f(Config{Sites: []Site{{ID: "a b"}}})
	f(Config{Sites: []Site{{ID: "a"}, {ID: "a"}}})
	f(Config{AdminTokenSHA256: "abc"})
	f(Config{Sites: []Site{{ID: "a", Origins: []string{"https://example.com/"}}}})
	f(Config{Sites: []Site{{ID: "a", Origins: []string{"*"}}}})
	f(Config{Sites: []Site{{ID: "a", Origins: []string{"https://exa*.com"}}}})
	f(Config{Sites: []Site{{ID: "a", MaxBrowserValue: -1}}})
	f(Config{Sites: []Site{{ID: "a", Currency: "euro"}}})
	f(Config{Sites: []Site{{ID: "a", Currency: "E1R"}}})
	f(Config{Sites: []Site{{ID: "a", Currency: "€"}}})
}

func TestCurrency(t *testing.T) {
	r, err := New(Config{Sites: []Site{{ID: "uk", Currency: " gbp "}, {ID: "us", Currency: "USD"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Get("uk").Currency != "GBP" || r.Get("us").Currency != "USD" {
		t.Fatalf("currencies %q, %q; want GBP, USD", r.Get("uk").Currency, r.Get("us").Currency)
	}
}

func TestApplyEnv(t *testing.T) {
	env := map[string]string{
		"TP_ADMIN_TOKEN":                 "new-admin",
		"TP_SITE_SHOP_EU_SECRET":         "s3cret",
		"TP_SITE_SHOP_EU_ORIGINS":        "https://shop.eu, https://*.shop.eu",
		"TP_SITE_SHOP_EU_KEEP_PII":       "true",
		"TP_SITE_SHOP_EU_COOKIE_DOMAIN":  "shop.eu",
		"TP_SITE_DEMO_LOOKBACK_DAYS":     "30",
		"TP_SITE_DEMO_MAX_BROWSER_VALUE": "2500.5",
	}
	c := Config{Sites: []Site{{ID: "shop-eu"}, {ID: "demo", SecretSHA256: hashHex("demo-secret")}}}
	if err := ApplyEnv(&c, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	shop, demo := r.Get("shop-eu"), r.Get("demo")
	if !r.CheckAdmin("new-admin") || !shop.CheckSecret("s3cret") || !demo.CheckSecret("demo-secret") {
		t.Fatal("secrets from the environment not applied, or applied to the wrong site")
	}
	if shop.SecretSHA256 == "s3cret" {
		t.Fatal("secret stored in clear")
	}
	if !shop.AllowsOrigin("https://www.shop.eu") || !shop.KeepPII || shop.CookieDomain != "shop.eu" || demo.KeepPII {
		t.Fatalf("overrides not applied: %+v", shop)
	}
	if demo.LookbackDays != 30 || shop.LookbackDays != 90 {
		t.Fatalf("lookback = %d/%d, want 30/90", demo.LookbackDays, shop.LookbackDays)
	}
	if demo.MaxBrowserValue != 2500.5 || shop.MaxBrowserValue != DefaultMaxBrowserValue {
		t.Fatalf("max browser value = %v/%v, want 2500.5/%v", demo.MaxBrowserValue, shop.MaxBrowserValue, float64(DefaultMaxBrowserValue))
	}
	bad := func(k, v string) {
		t.Helper()
		if err := ApplyEnv(&c, func(key string) (string, bool) { return v, key == k }); err == nil {
			t.Fatalf("%s=%q was accepted", k, v)
		}
	}
	bad("TP_SITE_DEMO_KEEP_PII", "maybe")
	bad("TP_SITE_DEMO_LOOKBACK_DAYS", "-1")
	bad("TP_SITE_DEMO_MAX_BROWSER_VALUE", "NaN")
	bad("TP_SITE_DEMO_MAX_BROWSER_VALUE", "-5")
	bad("TP_SITE_DEMO_MAX_BROWSER_VALUE", "+Inf")
}

// Every binary loads its sites with Load: a secret or admin token rotated through the
// environment replaces the file's everywhere, and the lookback override holds.
func TestLoadAppliesEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sites.json")
	body := `{"admin_token_sha256": "` + hashHex("file-admin") + `",
		"sites": [{"id": "demo", "secret_sha256": "` + hashHex("file-secret") + `", "origins": ["https://example.com"]}]}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TP_ADMIN_TOKEN", "rotated-admin")
	t.Setenv("TP_SITE_DEMO_SECRET", "rotated-secret")
	t.Setenv("TP_SITE_DEMO_LOOKBACK_DAYS", "14")
	r, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if r.CheckAdmin("file-admin") || !r.CheckAdmin("rotated-admin") {
		t.Fatal("the file's admin token still opens the reports after TP_ADMIN_TOKEN rotated it")
	}
	if d := r.Get("demo"); d.CheckSecret("file-secret") || !d.CheckSecret("rotated-secret") || d.LookbackDays != 14 {
		t.Fatalf("site overrides not applied: %+v", d)
	}
	t.Setenv("TP_SITE_DEMO_LOOKBACK_DAYS", "soon")
	if _, err := Load(file); err == nil {
		t.Fatal("a bad override was ignored")
	}
}

func TestCheckExposure(t *testing.T) {
	dev := Config{AdminTokenSHA256: hashHex("demo-admin"), Sites: []Site{{ID: "demo", SecretSHA256: hashHex("demo-secret")}}}
	f := func(c Config, addr string, ok bool) {
		t.Helper()
		r, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.CheckExposure(addr); (err == nil) != ok {
			t.Fatalf("CheckExposure(%q) = %v, want ok %v", addr, err, ok)
		}
	}
	for _, a := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.2:8080"} {
		f(dev, a, true)
	}
	for _, a := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "192.0.2.1:8080", "example.com:8080"} {
		f(dev, a, false)
	}
	// Only the admin token, or only one site's secret, from the development file: still refused.
	f(Config{AdminTokenSHA256: hashHex("demo-admin")}, "0.0.0.0:8081", false)
	f(Config{AdminTokenSHA256: hashHex("x"), Sites: []Site{{ID: "a", SecretSHA256: hashHex("y")}, {ID: "b", SecretSHA256: strings.ToUpper(hashHex("demo-secret"))}}}, ":8080", false)
	// Overridden secrets may listen anywhere.
	rotated := dev
	if err := ApplyEnv(&rotated, func(k string) (string, bool) {
		v, ok := map[string]string{"TP_ADMIN_TOKEN": "a-long-random-token", "TP_SITE_DEMO_SECRET": "another-one"}[k]
		return v, ok
	}); err != nil {
		t.Fatal(err)
	}
	f(rotated, "0.0.0.0:8080", true)
}

// Reload replaces the configuration whole, with the environment overrides; a file that
// cannot be read or is invalid keeps the previous one and says why. Sites taken before a
// reload keep their settings.
func TestReload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sites.json")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"sites": [{"id": "a", "lookback_days": 10}]}`)
	t.Setenv("TP_SITE_B_RETENTION_DAYS", "30")
	r, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Get("a")
	write(`{"sites": [{"id": "a", "lookback_days": 20}, {"id": "b"}]}`)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if r.Get("a").LookbackDays != 20 || r.Get("b") == nil || r.Get("b").RetentionDays != 30 || len(r.Sites()) != 2 {
		t.Fatalf("not reloaded: %+v", r.Sites())
	}
	if a.LookbackDays != 10 {
		t.Fatal("a site taken before the reload changed under its reader")
	}
	for _, broken := range []string{`{"sites": [{"id": "a"`, `{"sites": [{"id": "a b"}]}`, `{"sites": [{"id": "a", "retention_days": -1}]}`} {
		write(broken)
		if err := r.Reload(); err == nil {
			t.Fatalf("%s was loaded", broken)
		}
		if r.Get("b") == nil || r.Get("a").LookbackDays != 20 {
			t.Fatal("a broken file replaced the configuration")
		}
	}
	os.Remove(file)
	if err := r.Reload(); err == nil || r.Get("b") == nil {
		t.Fatalf("a missing file: %v", err)
	}
	// Development secrets are refused on a reload as at start when served beyond loopback.
	write(`{"sites": [{"id": "a"}]}`)
	if err := r.CheckExposure("0.0.0.0:8081"); err != nil {
		t.Fatal(err)
	}
	write(`{"admin_token_sha256": "` + hashHex("demo-admin") + `", "sites": [{"id": "a"}]}`)
	if err := r.Reload(); err == nil || r.CheckAdmin("demo-admin") {
		t.Fatal("a reload brought the development admin token onto a public address")
	}
	if _, err := New(Config{}); err != nil {
		t.Fatal(err)
	}
	if err := (&Registry{}).Reload(); err == nil {
		t.Fatal("a registry without a file reloaded")
	}
}

// A site's lifecycle has the default stages unless it sets its own; bad stages and bad
// scoring rules make the whole file invalid (a reload keeps the previous one).
func TestLifecycleAndScoring(t *testing.T) {
	read := func(site string) (*Registry, error) {
		var c Config
		if err := json.Unmarshal([]byte(`{"sites": [`+site+`]}`), &c); err != nil {
			return nil, err
		}
		return New(c)
	}
	r, err := read(`{"id": "a"}`)
	if err != nil {
		t.Fatal(err)
	}
	l := r.Get("a").Lifecycle
	if strings.Join(l.Stages, ",") != "lead,mql,sal,sql,opportunity,customer" || strings.Join(l.ExitStages, ",") != "closed_lost,recycled" ||
		l.PipelineStage != "opportunity" || l.StallDays("mql") != 30 {
		t.Fatalf("default lifecycle %+v", l)
	}
	if !r.Get("a").IsStage("recycled") || r.Get("a").IsStage("lead") || r.Get("a").IsStage("sale") {
		t.Fatal("IsStage")
	}
	r, err = read(`{"id": "a", "lifecycle": {"stages": ["lead", "demo", "won"], "exit_stages": [], "stall_after_days": {"lead": 7, "default": 14}}}`)
	if err != nil {
		t.Fatal(err)
	}
	l = r.Get("a").Lifecycle
	if l.StallDays("lead") != 7 || l.StallDays("demo") != 14 || l.PipelineStage != "" || r.Get("a").IsStage("closed_lost") {
		t.Fatalf("custom lifecycle %+v", l)
	}
	f := func(site, want string) {
		t.Helper()
		if _, err := read(site); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v, want an error saying %q", site, err, want)
		}
	}
	f(`{"id": "a", "lifecycle": {"stages": ["mql", "sql"]}}`, "lead first")
	f(`{"id": "a", "lifecycle": {"stages": ["lead", "MQL"]}}`, "is not a name")
	f(`{"id": "a", "lifecycle": {"stages": ["lead", "mql"], "exit_stages": ["mql"]}}`, "listed twice")
	f(`{"id": "a", "lifecycle": {"stall_after_days": {"sqll": 3}}}`, "not one of the stages")
	f(`{"id": "a", "lifecycle": {"stall_after_days": {"mql": 0}}}`, "positive number of days")
	f(`{"id": "a", "lifecycle": {"pipeline_stage": "deal"}}`, "not one of the stages")
	f(`{"id": "a", "scoring": {"engagement": [{"name": "p", "path": "/pricing", "points": 5, "maxx": 10}]}}`, `unknown field "maxx"`)
	f(`{"id": "a", "scoring": {"engagement": [{"name": "p", "points": 5}]}}`, "give at least one of")
}

// A referrer on one of the site's own hosts is no referral: the hosts of its origins
// (without a "*" label or the port), its cookie domain and its domains.
func TestOwnDomains(t *testing.T) {
	s := configured(t, Site{ID: "a", Origins: []string{"https://*.example.com", "http://localhost:*", "https://shop.example.org:8443"},
		CookieDomain: ".Example.com", Domains: []string{"example.net"}})
	if got, want := strings.Join(s.OwnDomains(), " "), "example.com localhost shop.example.org example.com example.net"; got != want {
		t.Fatalf("OwnDomains = %q, want %q", got, want)
	}
}
