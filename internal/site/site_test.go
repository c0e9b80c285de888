package site

import "testing"

func TestAllowsOrigin(t *testing.T) {
	s := &Site{Origins: []string{"http://localhost:*", "https://*.example.com", "https://example.com"}}
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
		"TP_ADMIN_TOKEN":                "new-admin",
		"TP_SITE_SHOP_EU_SECRET":        "s3cret",
		"TP_SITE_SHOP_EU_ORIGINS":       "https://shop.eu, https://*.shop.eu",
		"TP_SITE_SHOP_EU_KEEP_PII":      "true",
		"TP_SITE_SHOP_EU_COOKIE_DOMAIN": "shop.eu",
		"TP_SITE_DEMO_LOOKBACK_DAYS":    "30",
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
	bad := map[string]string{"TP_SITE_DEMO_KEEP_PII": "maybe"}
	if err := ApplyEnv(&c, func(k string) (string, bool) { v, ok := bad[k]; return v, ok }); err == nil {
		t.Fatal("a bad KEEP_PII was accepted")
	}
}
