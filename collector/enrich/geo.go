package enrich

import (
	"fmt"

	"github.com/oschwald/geoip2-golang/v2"
)

// Geo looks client addresses up in a MaxMind-format city database.
type Geo struct {
	db *geoip2.Reader
}

// OpenGeo opens a GeoIP2/GeoLite2 City database file.
func OpenGeo(file string) (*Geo, error) {
	db, err := geoip2.Open(file)
	if err != nil {
		return nil, fmt.Errorf("cannot open GeoIP database: %w", err)
	}
	return &Geo{db: db}, nil
}

// Close releases the database.
func (g *Geo) Close() error {
	if g == nil {
		return nil
	}
	return g.db.Close()
}

func (g *Geo) step(_ *Request, it *Item) *Refusal {
	if g == nil || !it.ip.IsValid() {
		return nil
	}
	c, err := g.db.City(it.ip.Unmap())
	if err != nil || !c.HasData() {
		return nil // an address the database does not know stays unlocated
	}
	it.E.Country = c.Country.ISOCode
	if len(c.Subdivisions) > 0 {
		it.E.Region = c.Subdivisions[0].Names.English
		if it.E.Region == "" {
			it.E.Region = c.Subdivisions[0].ISOCode
		}
	}
	it.E.City = c.City.Names.English
	return nil
}
