package enrich

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"touchpoint/internal/demo"
	"touchpoint/internal/testenv"
)

// The database installed by scripts/deps.sh (DB-IP Lite city, IPv4 and IPv6 files).
func openDBIP(t testing.TB) *Geo {
	t.Helper()
	g, err := OpenGeo(testenv.GeoIPFiles(t)...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Addresses of well-known networks resolve to their country, with a region and city, and
// so does the address anonymised to its /24 (IPv4) or /48 (IPv6), which is what is stored.
func TestGeoKnownAddresses(t *testing.T) {
	g := openDBIP(t)
	f := func(ip, country, cityPrefix string) {
		t.Helper()
		a := netip.MustParseAddr(ip)
		got := g.Lookup(a)
		if got.Country != country {
			t.Fatalf("%s: country %q, want %q (%+v)", ip, got.Country, country, got)
		}
		if country == "" {
			return
		}
		if got.Region == "" || !strings.HasPrefix(got.City, cityPrefix) {
			t.Fatalf("%s: region %q, city %q, want a region and a city starting %q", ip, got.Region, got.City, cityPrefix)
		}
		anon := netip.MustParseAddr(AnonymiseIP(a))
		if c := g.Lookup(anon).Country; c != country {
			t.Fatalf("%s anonymised to %s: country %q, want %q", ip, anon, c, country)
		}
	}
	f("81.2.69.160", "GB", "London")     // Andrews & Arnold, MaxMind's own test address
	f("86.128.1.1", "GB", "")            // BT
	f("193.99.144.80", "DE", "Hanover")  // heise online
	f("130.149.7.201", "DE", "Berlin")   // TU Berlin
	f("129.132.19.216", "CH", "Zurich")  // ETH Zurich
	f("133.11.0.1", "JP", "")            // University of Tokyo
	f("200.147.67.142", "BR", "")        // UOL
	f("90.1.1.1", "FR", "")              // Orange
	f("77.160.1.1", "NL", "")            // KPN
	f("8.8.8.8", "US", "Mountain View")  // Google DNS
	f("::ffff:193.99.144.80", "DE", "")  // IPv4-mapped
	f("2001:638:1::1", "DE", "")         // DFN, German research network
	f("2001:620:0:1::1", "CH", "Zurich") // SWITCH
	f("2a01:e0a:1::1", "FR", "")         // Free
	f("2003:e1:1::1", "DE", "")          // Deutsche Telekom
	f("2601:1::1", "US", "")             // Comcast
	for _, private := range []string{"10.1.2.3", "192.168.1.10", "127.0.0.1", "100.64.0.1", "::1", "fe80::1", "fd00::1", "2001:db8::1"} {
		f(private, "", "")
	}
}

// BenchmarkGeo is the geo step for the demo's visitors (a few thousand addresses in six
// countries, a third of them IPv6) once their places are cached: the collector's steady
// state.
func BenchmarkGeo(b *testing.B) {
	g := openDBIP(b)
	ds := demo.Generate(demo.Options{Site: "demo", Visitors: 3000, Weeks: 4, End: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), Seed: 1})
	var ips []netip.Addr
	seen := map[string]bool{}
	for _, e := range ds.Events {
		if !seen[e.IP] {
			seen[e.IP] = true
			ips = append(ips, netip.MustParseAddr(e.IP))
			g.Lookup(ips[len(ips)-1]) // caches its place
		}
	}
	var it Item
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		it.ip = ips[i%len(ips)]
		g.step(nil, &it)
		i++
	}
	b.ReportMetric(float64(len(ips)), "addresses")
	if it.E.Country == "" {
		b.Fatalf("%s: not located", it.ip)
	}
}
