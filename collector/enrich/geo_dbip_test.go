package enrich

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

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

// BenchmarkGeo is the geo step for visitors from a few thousand addresses in networks
// whose records are cached: the collector's steady state.
func BenchmarkGeo(b *testing.B) {
	g := openDBIP(b)
	r := rand.New(rand.NewPCG(1, 2))
	nets := []netip.Prefix{}
	for _, p := range []string{"81.2.69.0/24", "86.128.0.0/16", "79.192.0.0/16", "91.0.0.0/16", "90.1.0.0/16", "82.64.0.0/16",
		"77.160.0.0/16", "73.0.0.0/16", "193.99.144.0/24", "130.149.0.0/16", "2a01:e0a::/32", "2003:e1::/32"} {
		nets = append(nets, netip.MustParsePrefix(p))
	}
	items := make([]Item, 4096)
	for i := range items {
		items[i].ip = randomIn(r, nets[r.IntN(len(nets))])
		g.step(nil, &items[i]) // warm the cache
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		g.step(nil, &items[i%len(items)])
		i++
	}
	if items[0].E.Country == "" {
		b.Fatalf("%s: not located", items[0].ip)
	}
}

// randomIn is a random address in p.
func randomIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	a := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		if r.IntN(2) == 1 {
			a[i/8] |= 0x80 >> (i % 8)
		}
	}
	addr := netip.AddrFrom16(a)
	if p.Addr().Is4() {
		return addr.Unmap()
	}
	return addr
}
