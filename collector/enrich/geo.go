package enrich

import (
	"context"
	"errors"
	"log"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Geo looks client addresses up in one or more MaxMind-format (MMDB) databases: the
// first file that knows an address's country answers. A replaced file is picked up by
// Reload (on SIGHUP, or by Watch noticing it) without a moment without lookups.
type Geo struct {
	files []string
	cur   atomic.Pointer[geoSet]
	mu    sync.Mutex // serialises reloads
}

// geoSet is one generation of opened files with its cache. Lookups load it once and use
// it to the end, so a reload swaps whole generations. An old generation is never closed
// explicitly: the reader unmaps its file when the garbage collector finds it unreachable,
// that is once no lookup still uses it (the runtime collects at least every two minutes).
type geoSet struct {
	files []*geoFile
	cache [geoCacheSize]atomic.Pointer[geoEntry]
}

// The cache has 2^geoCacheBits slots for records: a record is one place (a city), and a
// site's visitors come from far fewer places than that.
const (
	geoCacheBits = 14
	geoCacheSize = 1 << geoCacheBits
)

// geoEntry is a decoded record; entries are never modified once stored.
type geoEntry struct {
	file   int
	offset uintptr
	loc    Location
}

var (
	geoReloads = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "tp_collector_geoip_reloads_total",
		Help: "GeoIP database reloads, by result (ok, error: the previous database stays in use).",
	}, []string{"result"})
	geoBuild = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tp_collector_geoip_build_timestamp_seconds",
		Help: "Build time of each GeoIP database file in use.",
	}, []string{"file"})
	geoDecodeErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_collector_geoip_decode_errors_total",
		Help: "GeoIP records that could not be decoded; their addresses stay unlocated.",
	})
)

// OpenGeo opens the database files, in the order they are asked for an address. A file
// that is missing, unreadable, corrupt or without countries is an error.
func OpenGeo(files ...string) (*Geo, error) {
	if len(files) == 0 {
		return nil, errors.New("cannot open GeoIP: no database file given")
	}
	g := &Geo{files: files}
	if err := g.Reload(); err != nil {
		return nil, err
	}
	return g, nil
}

// Reload opens the files again and switches lookups to them at once. When a file cannot
// be opened, the databases in use stay in use and the error is returned.
func (g *Geo) Reload() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	set := &geoSet{}
	for _, name := range g.files {
		f, err := openGeoFile(name)
		if err != nil {
			for _, o := range set.files {
				o.r.Close() // never published: no lookup uses it
			}
			geoReloads.WithLabelValues("error").Inc()
			return err
		}
		set.files = append(set.files, f)
	}
	g.cur.Store(set)
	geoReloads.WithLabelValues("ok").Inc()
	for i, f := range set.files {
		geoBuild.WithLabelValues(g.files[i]).Set(float64(f.r.Metadata.BuildEpoch))
	}
	return nil
}

// Changed reports whether a file was replaced, rewritten or removed since it was opened.
func (g *Geo) Changed() bool {
	for i, f := range g.cur.Load().files {
		if f.changed(g.files[i]) {
			return true
		}
	}
	return false
}

// Watch reloads the databases when a file changes (checked every interval; never when
// it is not positive) or when a signal arrives on reload. It logs a failed reload once
// per distinct error and returns when ctx ends.
func (g *Geo) Watch(ctx context.Context, every time.Duration, reload <-chan os.Signal) {
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	lastErr := ""
	for {
		forced := false
		select {
		case <-ctx.Done():
			return
		case <-reload:
			forced = true
		case <-tick:
			if !g.Changed() {
				continue
			}
		}
		if err := g.Reload(); err != nil {
			if forced || err.Error() != lastErr {
				log.Printf("collector: GeoIP reload failed, still using the previous database: %v", err)
			}
			lastErr = err.Error()
			continue
		}
		lastErr = ""
		log.Printf("collector: GeoIP databases reloaded: %s", g.Describe())
	}
}

// Describe names each file with its type and build date, for the start-up log.
func (g *Geo) Describe() string {
	s := ""
	for i, f := range g.cur.Load().files {
		if i > 0 {
			s += ", "
		}
		m := f.r.Metadata
		s += g.files[i] + " (" + m.DatabaseType + ", built " + time.Unix(int64(m.BuildEpoch), 0).UTC().Format("2006-01-02") + ")"
	}
	return s
}

// Close releases the databases; no lookup may run during or after it.
func (g *Geo) Close() error {
	if g == nil {
		return nil
	}
	var errs []error
	for _, f := range g.cur.Load().files {
		errs = append(errs, f.r.Close())
	}
	return errors.Join(errs...)
}

// Lookup returns the location of ip, or the zero Location when no database knows it.
// A record seen before costs one tree walk and no allocation.
func (g *Geo) Lookup(ip netip.Addr) Location {
	set := g.cur.Load()
	ip = ip.Unmap()
	for i, f := range set.files {
		res, ok := f.lookup(ip)
		if !ok {
			continue
		}
		off := res.Offset()
		e := set.cached(i, off)
		if e == nil {
			loc, err := f.decode(res)
			if err != nil {
				geoDecodeErrors.Inc()
				continue
			}
			e = &geoEntry{file: i, offset: off, loc: loc}
			set.store(e)
		}
		if e.loc.Country != "" {
			return e.loc
		}
	}
	return Location{}
}

// The cache is two-way set-associative: a record may sit in either slot of its pair, and
// a new one replaces a random one of the two, so two hot records that hash alike do not
// keep evicting each other.
func (s *geoSet) cached(file int, off uintptr) *geoEntry {
	i := cacheSlot(file, off)
	for _, j := range [2]uint64{i, i ^ 1} {
		if e := s.cache[j].Load(); e != nil && e.offset == off && e.file == file {
			return e
		}
	}
	return nil
}

func (s *geoSet) store(e *geoEntry) {
	i := cacheSlot(e.file, e.offset)
	switch {
	case s.cache[i].Load() == nil:
	case s.cache[i^1].Load() == nil:
		i ^= 1
	default:
		i ^= uint64(rand.N(2))
	}
	s.cache[i].Store(e)
}

func cacheSlot(file int, off uintptr) uint64 {
	h := (uint64(off) ^ uint64(file)<<56) * 0x9e3779b97f4a7c15 // Fibonacci hashing
	return h >> (64 - geoCacheBits)
}

func (g *Geo) step(_ *Request, it *Item) *Refusal {
	if g == nil || !it.ip.IsValid() {
		return nil
	}
	loc := g.Lookup(it.ip)
	it.E.Country, it.E.Region, it.E.City = loc.Country, loc.Region, loc.City
	return nil
}
