package enrich

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is what a GeoIP database tells about an address.
type Location struct {
	Country string // ISO 3166-1 alpha-2 code
	Region  string // first-level subdivision, English name
	City    string // English name
}

// layout is how a database's records spell a location.
type layout int

const (
	// layoutMaxMind is GeoIP2/GeoLite2 City or Country (and DB-IP's own MMDB files):
	// {"country": {"iso_code"}, "subdivisions": [{"names": {"en"}}], "city": {"names": {"en"}}}.
	layoutMaxMind layout = iota + 1
	// layoutFlat is the ip-location-db packaging of DB-IP Lite and its country databases:
	// {"country_code", "state1", "city"} as plain strings.
	layoutFlat
)

// probeRecords is how many records opening a database decodes to learn its layout and
// to catch a corrupt data section before the first event does.
const probeRecords = 256

// geoFile is one opened database file.
type geoFile struct {
	r      *maxminddb.Reader
	v4only bool // an IPv4 tree cannot look up IPv6 addresses
	layout layout
	stat   os.FileInfo // what the file was when opened, to notice a replacement
}

// openGeoFile opens and checks one MMDB file: the metadata must parse, and its first
// records must decode and carry a country, else the file is refused at start rather
// than leaving the columns silently empty.
func openGeoFile(file string) (*geoFile, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("cannot open GeoIP database: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("cannot open GeoIP database %s: is a directory", file)
	}
	r, err := maxminddb.Open(file)
	if err != nil {
		return nil, fmt.Errorf("cannot open GeoIP database %s: %w", file, err)
	}
	lay, err := probeLayout(r)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("cannot use GeoIP database %s (type %q): %w", file, r.Metadata.DatabaseType, err)
	}
	return &geoFile{r: r, v4only: r.Metadata.IPVersion == 4, layout: lay, stat: st}, nil
}

func probeLayout(r *maxminddb.Reader) (layout, error) {
	n := 0
	for res := range r.Networks() {
		if err := res.Err(); err != nil {
			return 0, fmt.Errorf("corrupt search tree: %w", err)
		}
		var rec map[string]any
		if err := res.Decode(&rec); err != nil {
			return 0, fmt.Errorf("corrupt record for %s: %w", res.Prefix(), err)
		}
		if s, ok := rec["country_code"].(string); ok && s != "" {
			return layoutFlat, nil
		}
		if c, ok := rec["country"].(map[string]any); ok && c["iso_code"] != nil {
			return layoutMaxMind, nil
		}
		if n++; n == probeRecords {
			break
		}
	}
	if n == 0 {
		return 0, errors.New("it has no records")
	}
	return 0, errors.New("its records have no country: use a city or country database")
}

// flatRecord is a record of the ip-location-db layout.
type flatRecord struct {
	CountryCode string `maxminddb:"country_code"`
	State1      string `maxminddb:"state1"`
	City        string `maxminddb:"city"`
}

// decode reads the location of a found record.
func (f *geoFile) decode(res maxminddb.Result) (Location, error) {
	if f.layout == layoutFlat {
		var rec flatRecord
		err := res.Decode(&rec)
		return Location{Country: rec.CountryCode, Region: rec.State1, City: rec.City}, err
	}
	var rec geoip2.City // its generated decoder reads Country databases too
	if err := res.Decode(&rec); err != nil {
		return Location{}, err
	}
	loc := Location{Country: rec.Country.ISOCode, City: rec.City.Names.English}
	if len(rec.Subdivisions) > 0 {
		loc.Region = rec.Subdivisions[0].Names.English
		if loc.Region == "" {
			loc.Region = rec.Subdivisions[0].ISOCode
		}
	}
	return loc, nil
}

// lookup finds ip's record; ok is false when this file cannot know the address.
func (f *geoFile) lookup(ip netip.Addr) (maxminddb.Result, bool) {
	if f.v4only && !ip.Is4() {
		return maxminddb.Result{}, false
	}
	res := f.r.Lookup(ip)
	return res, res.Found()
}

// changed reports whether the file at its path is no longer the one opened: replaced
// (renamed over), rewritten or removed.
func (f *geoFile) changed(file string) bool {
	st, err := os.Stat(file)
	if err != nil {
		return true
	}
	return !os.SameFile(st, f.stat) || st.Size() != f.stat.Size() || !st.ModTime().Equal(f.stat.ModTime())
}
