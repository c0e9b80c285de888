package enrich

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

// Test databases are written with mmdbwriter in both record layouts the collector reads:
// MaxMind's (GeoIP2, GeoLite2) and ip-location-db's flat one (DB-IP Lite).

func names(en string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(en)} }

// maxmind is a GeoIP2 City record; empty parts are left out, as MaxMind does.
func maxmind(country, region, city string) mmdbtype.Map {
	m := mmdbtype.Map{}
	if country != "" {
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(country), "names": names(country + " (en)")}
	}
	if region != "" {
		m["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("X"), "names": names(region)}}
	}
	if city != "" {
		m["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "names": names(city)}
	}
	return m
}

// flat is a record of ip-location-db's DB-IP Lite city database.
func flat(country, state, city string) mmdbtype.Map {
	return mmdbtype.Map{"country_code": mmdbtype.String(country), "state1": mmdbtype.String(state), "state2": mmdbtype.String(""),
		"city": mmdbtype.String(city), "postcode": mmdbtype.String(""), "latitude": mmdbtype.Float32(1), "longitude": mmdbtype.Float32(2)}
}

// writeDB writes a database with records by network and moves it to file by rename, the
// way a database update replaces a file.
func writeDB(t testing.TB, file, dbType string, ipVersion int, records map[string]mmdbtype.Map) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IPVersion: ipVersion})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range records {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".new-*.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(tmp); err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), file); err != nil {
		t.Fatal(err)
	}
	return file
}

func writeCityDB(t *testing.T) string {
	return writeDB(t, filepath.Join(t.TempDir(), "city.mmdb"), "GeoIP2-City", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24":  maxmind("GB", "England", "London"),
		"2a02:db8::/32": maxmind("DE", "", ""),
	})
}

func TestGeo(t *testing.T) {
	g, err := OpenGeo(writeCityDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	p := New(Options{Geo: g})
	f := func(ip, country, region, city string) {
		t.Helper()
		it := Item{Raw: []byte(`{"id":"` + uuid.NewString() + `","type":"pageview"}`)}
		r := &Request{Site: &site.Site{ID: "s"}, Origin: event.OriginWeb, Now: time.Now(), IP: netip.MustParseAddr(ip), UA: "Mozilla/5.0"}
		if ref := p.Run(r, &it); ref != nil {
			t.Fatal(ref)
		}
		if it.E.Country != country || it.E.Region != region || it.E.City != city {
			t.Fatalf("%s: %q/%q/%q, want %q/%q/%q", ip, it.E.Country, it.E.Region, it.E.City, country, region, city)
		}
	}
	f("81.2.69.160", "GB", "England", "London")
	f("81.2.69.160", "GB", "England", "London") // from the cache
	f("::ffff:81.2.69.1", "GB", "England", "London")
	f("2a02:db8:1::5", "DE", "", "")
	f("192.0.2.1", "", "", "")
	f("2001:db8::1", "", "", "")
}

// DB-IP Lite from ip-location-db comes as an IPv4 and an IPv6 file with flat records.
func TestGeoFlatLayout(t *testing.T) {
	dir := t.TempDir()
	v4 := writeDB(t, filepath.Join(dir, "dbip-city-ipv4.mmdb"), "city ipv4", 4, map[string]mmdbtype.Map{
		"81.2.69.0/24":    flat("GB", "England", "London"),
		"193.99.144.0/24": flat("DE", "Lower Saxony", "Hanover"),
	})
	v6 := writeDB(t, filepath.Join(dir, "dbip-city-ipv6.mmdb"), "city ipv6", 6, map[string]mmdbtype.Map{
		"2001:638::/32": flat("DE", "Berlin", "Berlin"),
	})
	g, err := OpenGeo(v4, v6)
	if err != nil {
		t.Fatal(err)
	}
	f := func(ip string, want Location) {
		t.Helper()
		if got := g.Lookup(netip.MustParseAddr(ip)); got != want {
			t.Fatalf("%s: %+v, want %+v", ip, got, want)
		}
	}
	f("81.2.69.160", Location{"GB", "England", "London"})
	f("::ffff:193.99.144.80", Location{"DE", "Lower Saxony", "Hanover"})
	f("2001:638:1:2::3", Location{"DE", "Berlin", "Berlin"})
	f("2a00:1450::1", Location{})
	f("198.51.100.1", Location{})
}

// The first file that knows an address's country answers: a configured MaxMind file
// before the DB-IP one, which fills in what the first does not know.
func TestGeoFirstFileWins(t *testing.T) {
	dir := t.TempDir()
	mm := writeDB(t, filepath.Join(dir, "GeoLite2-City.mmdb"), "GeoLite2-City", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24": maxmind("GB", "England", "London"),
		"2.16.0.0/16":  maxmind("", "", "Nowhere"), // a record without a country
	})
	db := writeDB(t, filepath.Join(dir, "dbip.mmdb"), "city ipv4", 4, map[string]mmdbtype.Map{
		"81.2.69.0/24":    flat("IE", "Leinster", "Dublin"),
		"2.16.0.0/16":     flat("FR", "Ile-de-France", "Paris"),
		"193.99.144.0/24": flat("DE", "Lower Saxony", "Hanover"),
	})
	g, err := OpenGeo(mm, db)
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{"81.2.69.160": "GB", "2.16.1.1": "FR", "193.99.144.80": "DE", "198.51.100.1": ""} {
		for range 2 { // the second time from the cache
			if got := g.Lookup(netip.MustParseAddr(ip)).Country; got != want {
				t.Fatalf("%s: %q, want %q", ip, got, want)
			}
		}
	}
}

func TestOpenGeoRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := writeCityDB(t)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	asn := writeDB(t, filepath.Join(dir, "asn.mmdb"), "GeoLite2-ASN", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24": {"autonomous_system_number": mmdbtype.Uint32(20712), "autonomous_system_organization": mmdbtype.String("A&A")},
	})
	f := func(file, want string) {
		t.Helper()
		g, err := OpenGeo(good, file)
		if err == nil {
			t.Fatalf("%s opened", file)
		}
		if g != nil {
			t.Fatalf("%s: a Geo returned with the error", file)
		}
		if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %q does not name the file and %q", file, err, want)
		}
	}
	f(filepath.Join(dir, "missing.mmdb"), "no such file")
	f(write("empty.mmdb", nil), "empty")
	f(write("text.mmdb", []byte("<html>Not Found</html>\n")), "invalid MaxMind DB")
	f(write("truncated.mmdb", data[:len(data)/2]), "invalid MaxMind DB")
	f(dir, "directory")
	f(asn, "no country")
	damaged := func(at int) []byte { // 40 bytes overwritten, the metadata intact
		b := append([]byte(nil), data...)
		copy(b[at:], bytes.Repeat([]byte{0xff}, 40))
		return b
	}
	f(write("tree.mmdb", damaged(10)), "corrupt search tree")
	f(write("record.mmdb", damaged(bytes.LastIndex(data, []byte("\xab\xcd\xefMaxMind.com"))-100)), "corrupt record")
	if _, err := OpenGeo(); err == nil {
		t.Fatal("OpenGeo without files succeeded")
	}
}

// A replaced database is used from the reload on; lookups meanwhile never come back empty.
func TestGeoReloadLeavesNoGap(t *testing.T) {
	file := filepath.Join(t.TempDir(), "city.mmdb")
	version := func(country string) {
		writeDB(t, file, "GeoIP2-City", 6, map[string]mmdbtype.Map{"81.2.69.0/24": maxmind(country, "", "")})
	}
	version("GB")
	g, err := OpenGeo(file)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("81.2.69.160")
	var stop atomic.Bool
	var lookups, empty atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if g.Lookup(ip).Country == "" {
					empty.Add(1)
				}
				lookups.Add(1)
			}
		}()
	}
	want := "GB"
	for i := range 40 {
		want = []string{"FR", "GB"}[i%2]
		version(want)
		if err := g.Reload(); err != nil {
			t.Fatal(err)
		}
		if got := g.Lookup(ip).Country; got != want {
			t.Fatalf("after reload %d: %q, want %q", i, got, want)
		}
	}
	// A broken replacement is refused; the database in use stays.
	if err := os.WriteFile(file+".tmp", []byte("partial download"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("reload of a broken file: error %v, want one naming the file", err)
	}
	if got := g.Lookup(ip).Country; got != want {
		t.Fatalf("after a failed reload: %q, want the previous %q", got, want)
	}
	stop.Store(true)
	wg.Wait()
	if lookups.Load() == 0 || empty.Load() != 0 {
		t.Fatalf("%d of %d lookups during reloads came back empty", empty.Load(), lookups.Load())
	}
}

// Watch reloads on its own when the file is replaced, and at once when asked to.
func TestGeoWatch(t *testing.T) {
	file := filepath.Join(t.TempDir(), "city.mmdb")
	version := func(country string) {
		writeDB(t, file, "GeoIP2-City", 6, map[string]mmdbtype.Map{"81.2.69.0/24": maxmind(country, "", "")})
	}
	ip := netip.MustParseAddr("81.2.69.160")
	f := func(every time.Duration, signal bool) {
		t.Helper()
		version("GB")
		g, err := OpenGeo(file)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		reload := make(chan os.Signal, 1)
		go g.Watch(ctx, every, reload)
		if g.Changed() {
			t.Fatal("an unchanged file counts as changed")
		}
		version("FR")
		if !g.Changed() {
			t.Fatal("a replaced file does not count as changed")
		}
		if signal {
			reload <- syscall.SIGHUP
		}
		testenv.Eventually(t, 5*time.Second, "the replaced database in use", func() (bool, error) {
			return g.Lookup(ip).Country == "FR", nil
		})
	}
	f(10*time.Millisecond, false)
	f(0, true)
}

// A cached lookup must not allocate: the collector runs it for every event.
func TestGeoCachedLookupAllocatesNothing(t *testing.T) {
	dir := t.TempDir()
	v4 := writeDB(t, filepath.Join(dir, "v4.mmdb"), "city ipv4", 4, map[string]mmdbtype.Map{"193.99.144.0/24": flat("DE", "Lower Saxony", "Hanover")})
	g, err := OpenGeo(writeCityDB(t), v4)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"81.2.69.160", "193.99.144.80", "2a02:db8:1::5", "198.51.100.1"} {
		it := Item{ip: netip.MustParseAddr(ip)}
		g.step(nil, &it)
		if n := testing.AllocsPerRun(100, func() { g.step(nil, &it) }); n != 0 {
			t.Fatalf("%s: %v allocations per cached lookup", ip, n)
		}
	}
}
