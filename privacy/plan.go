package privacy

import (
	"strings"
	"time"
)

// column is a column that holds one kind of the person's identifiers.
type column struct {
	name string
	of   func(p *person) set
}

func visitors(p *person) set    { return p.visitors }
func emails(p *person) set      { return p.emails }
func users(p *person) set       { return p.users }
func persons(p *person) set     { return p.persons }
func conversions(p *person) set { return p.conversions }

// table is a table that stores rows about persons, and the columns by which a row
// belongs to one. A row belongs to the person when any of them holds one of theirs.
type table struct {
	name    string
	columns []column
	final   bool // read with FINAL in exports: the current version of each row
	// at is the column with the time of the event a row comes from, when it has one: an
	// erasure removes the rows of events received before it, so a person who comes back
	// while it runs is not erased again and again.
	at string
}

// tables lists every table that holds rows about a person. A table added to the schema
// with one of these columns must be listed here (TestEveryPersonalTableIsErased checks).
var tables = []table{
	{"events", []column{{"visitor_id", visitors}, {"person_id", persons}}, true, "received_at"},
	{"sessions", []column{{"visitor_id", visitors}, {"person_id", persons}}, true, "started_at"},
	{"person_sessions", []column{{"visitor_id", visitors}, {"person_id", persons}}, true, "started_at"},
	{"identities", []column{{"visitor_id", visitors}, {"person_id", persons}, {"email_sha256", emails}, {"user_id", users}}, true, "linked_at"},
	{"server_links", []column{{"visitor_id", visitors}, {"email_sha256", emails}, {"user_id", users}}, true, "linked_at"},
	{"person_aliases", []column{{"person_id", persons}, {"current_person_id", persons}}, true, ""},
	{"person_merges", []column{{"person_id", persons}, {"merged_into", persons}, {"visitor_id", visitors}, {"email_sha256", emails}, {"user_id", users}}, true, "merged_at"},
	{"conversions", []column{{"conversion_id", conversions}, {"visitor_id", visitors}, {"person_id", persons}, {"email_sha256", emails}, {"user_id", users}}, true, "received_at"},
	{"person_conversions", []column{{"conversion_id", conversions}, {"person_id", persons}}, true, "received_at"},
	{"touch_credits", []column{{"conversion_id", conversions}, {"visitor_id", visitors}, {"person_id", persons}}, true, "occurred_at"},
	{"touch_credit_versions", []column{{"conversion_id", conversions}, {"person_id", persons}}, true, "occurred_at"},
	{"webhook_deliveries", []column{{"conversion_id", conversions}}, false, ""},
	{"number_leases", []column{{"visitor_id", visitors}}, true, "leased_from"},
	{"lead_scores", []column{{"person_id", persons}}, true, ""},
	{"lead_score_history", []column{{"person_id", persons}}, false, ""},
	{"delivery_queue", []column{{"conversion_id", conversions}}, true, "created_at"},
}

// where is the condition selecting the person's rows of t in their site, and its
// arguments; ok is false when the person has no identifier t could hold. hashed matches
// sipHash64 of each column instead of its value, for conditions ClickHouse keeps
// (mutations). A non-zero before keeps rows of events received from then on.
func (t table) where(p *person, hashed bool, before time.Time) (cond string, args []any, ok bool) {
	var parts []string
	args = []any{p.site}
	for _, c := range t.columns {
		vals := c.of(p)
		if len(vals) == 0 {
			continue
		}
		if hashed {
			hs := make([]uint64, 0, len(vals))
			for _, v := range vals.list() {
				hs = append(hs, sipHash64(v))
			}
			parts = append(parts, "has(?, sipHash64("+c.name+"))")
			args = append(args, hs)
		} else {
			parts = append(parts, "has(?, "+c.name+")")
			args = append(args, vals.list())
		}
	}
	if len(parts) == 0 {
		return "", nil, false
	}
	cond = "site_id = ? AND (" + strings.Join(parts, " OR ") + ")"
	if t.at != "" && !before.IsZero() {
		cond += " AND " + t.at + " < ?"
		args = append(args, before.UTC())
	}
	return cond, args, true
}
