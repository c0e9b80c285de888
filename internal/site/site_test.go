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
}
