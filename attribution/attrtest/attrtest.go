// Package attrtest writes stitcher-shaped rows (sessions, conversions, person merges)
// straight into a test database, so attribution and report tests control their journeys
// exactly.
package attrtest

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
)

// DB is a test database.
type DB struct {
	T    testing.TB
	Conn driver.Conn
	Name string
}

// Session is a session row; zero fields get plausible values.
type Session struct {
	ID                                               string // a new one when empty
	Site, Visitor, Person                            string
	At                                               time.Time
	Channel, Source, Medium, Campaign, Term, Landing string
	Country, Device                                  string
	ClickType, ClickID                               string // a click id of the landing URL
	Bot, Deleted                                     bool
}

// Session inserts s and returns its session id.
func (d *DB) Session(s Session) string {
	d.T.Helper()
	return d.Sessions([]Session{s})[0]
}

// Sessions inserts ss in one batch and returns their session ids.
func (d *DB) Sessions(ss []Session) []string {
	d.T.Helper()
	b, err := chstore.PrepareBatch(context.Background(), d.Conn, "INSERT INTO "+d.Name+`.sessions (site_id, session_id, visitor_id,
		person_id, started_at, ended_at, landing_url, landing_path, referrer, referrer_domain, source, medium, campaign, term, content,
		click_id_type, click_id, channel, pageviews, events, is_bot, first_event_id, deleted, version, country, device)`)
	if err != nil {
		d.T.Fatal(err)
	}
	defer b.Abort()
	ids := make([]string, len(ss))
	for i, s := range ss {
		id, vals := sessionRow(s)
		ids[i] = id.String()
		if err := b.Append(vals...); err != nil {
			d.T.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		d.T.Fatal(err)
	}
	return ids
}

// sessionRow is the id and column values of a session row.
func sessionRow(s Session) (uuid.UUID, []any) {
	id := uuid.New()
	if s.ID != "" {
		id = uuid.MustParse(s.ID)
	}
	if s.Visitor == "" {
		s.Visitor = "v-" + s.Person
	}
	if s.Landing == "" {
		s.Landing = "/"
	}
	landingURL := "https://www.example.com" + s.Landing
	if s.ClickType != "" {
		landingURL += "?" + s.ClickType + "=" + s.ClickID
	}
	return id, []any{s.Site, id, s.Visitor, s.Person, s.At, s.At.Add(5 * time.Minute), landingURL, s.Landing, "", "",
		s.Source, s.Medium, s.Campaign, s.Term, "", s.ClickType, s.ClickID, s.Channel, uint32(1), uint32(1), flag(s.Bot), uuid.New(), flag(s.Deleted),
		uint64(time.Now().UnixNano()), s.Country, s.Device}
}

// Conversion is a conversions row; Currency defaults to EUR.
type Conversion struct {
	Site, ID, Type, LeadType, Person string
	At                               time.Time
	Value                            float64
	Currency                         string
	EmailSHA256                      string
	Email                            string // the address itself, kept for some sites
	UserID                           string
	Origin                           string // event.OriginServer when empty
	Props                            string // "{}" when empty
	Bot                              bool   // sent by a known crawler or a headless browser
}

// Conversion inserts c, its version ranked by origin as the stitcher does.
func (d *DB) Conversion(c Conversion) {
	d.T.Helper()
	if c.Origin == "" {
		c.Origin = event.OriginServer
	}
	if c.Currency == "" {
		c.Currency = "EUR"
	}
	if c.Props == "" {
		c.Props = "{}"
	}
	version := uint64(time.Now().UnixNano())
	if (&event.Enriched{Origin: c.Origin}).Trusted() {
		version += event.ServerRank
	}
	d.insert("conversions", `site_id, conversion_id, type, lead_type, occurred_at, received_at, visitor_id, person_id,
		email_sha256, user_id, session_id, value, currency, props, event_id, origin, version, email, is_bot`,
		c.Site, c.ID, c.Type, c.LeadType, c.At, c.At, "v-"+c.Person, c.Person, c.EmailSHA256, c.UserID, "", c.Value, c.Currency, c.Props,
		uuid.New(), c.Origin, version, c.Email, flag(c.Bot))
}

// Identity links person to an email hash.
func (d *DB) Identity(site, person, emailSHA256 string, at time.Time) {
	d.T.Helper()
	d.insert("identities", "site_id, visitor_id, person_id, email_sha256, user_id, linked_at, event_id, version",
		site, "v-"+person, person, emailSHA256, "", at, uuid.New(), uint64(time.Now().UnixNano()))
}

// Event is an events row; Visitor defaults to the person's visitor as Session has it, Type
// to a pageview, URL to the path on www.example.com, Origin to web.
type Event struct {
	Site, Visitor, Person, Session, Type string
	At                                   time.Time
	Path, Title, Name, Props             string
	URL                                  string
	IP, UA, Fbc, Fbp                     string
	ClickType, ClickID                   string
	Origin                               string
	Bot                                  bool
}

// Event inserts e.
func (d *DB) Event(e Event) {
	d.T.Helper()
	if e.Visitor == "" {
		e.Visitor = "v-" + e.Person
	}
	if e.Props == "" {
		e.Props = "{}"
	}
	if e.Type == "" {
		e.Type = event.Pageview
	}
	if e.URL == "" {
		e.URL = "https://www.example.com" + e.Path
	}
	if e.Origin == "" {
		e.Origin = event.OriginWeb
	}
	d.insert("events", `site_id, event_id, event_type, visitor_id, person_id, session_id, ts, received_at, url, path, title, event_name,
		props, is_bot, click_id_type, click_id, ip, origin, fbc, fbp, user_agent, version`,
		e.Site, uuid.New(), e.Type, e.Visitor, e.Person, e.Session, e.At, e.At, e.URL, e.Path, e.Title, e.Name,
		e.Props, flag(e.Bot), e.ClickType, e.ClickID, e.IP, e.Origin, e.Fbc, e.Fbp, e.UA, uint64(time.Now().UnixNano()))
}

// Alias records that person now belongs to current.
func (d *DB) Alias(site, person, current string) {
	d.T.Helper()
	d.insert("person_aliases", "site_id, person_id, current_person_id, updated_at, version",
		site, person, current, time.Now(), uint64(time.Now().UnixNano()))
}

func (d *DB) insert(table, cols string, vals ...any) {
	d.T.Helper()
	b, err := chstore.PrepareBatch(context.Background(), d.Conn, "INSERT INTO "+d.Name+"."+table+" ("+cols+")")
	if err != nil {
		d.T.Fatal(err)
	}
	defer b.Abort()
	if err := b.Append(vals...); err != nil {
		d.T.Fatal(err)
	}
	if err := b.Send(); err != nil {
		d.T.Fatal(err)
	}
}

// flag is a UInt8 column's value of b.
func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
