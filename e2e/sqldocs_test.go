package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/internal/demo"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
	"touchpoint/reports"
)

// The queries of docs/sql.md (and of tables.md and identity.md) run on the demo data set, sent through a collector, a
// stitcher and an attribution service of the test's own into a fresh database, and give
// the reports API's figures: the seven everyday questions, and the metrics glossary with
// every model, several groupings and ranges. Every query returns rows on the demo data,
// its example person included.
func TestSQLDocsOnDemoData(t *testing.T) {
	p := startDemo(t)
	doc := readSQLDoc(t, "sql.md")
	today := time.Now().UTC().Truncate(24 * time.Hour)
	day := func(offset int) string { return today.AddDate(0, 0, offset).Format("2006-01-02") }
	last30 := fmt.Sprintf("from=%s&to=%s", day(-29), day(0))
	last90 := fmt.Sprintf("from=%s&to=%s", day(-89), day(0))

	t.Run("sessions and visitors", func(t *testing.T) {
		api := byKey(p.sources(t, "first_click", "channel", last30).Rows)
		for _, h := range []string{"Start with the views", "Visitors and sessions"} {
			rows := p.query(t, doc.sql(t, h))
			c := newCompare(t, h)
			for _, r := range rows {
				k := r.str("channel")
				c.num(k+" visitors", r.num("visitors"), float64(api[k].Visitors))
				c.num(k+" sessions", r.num("sessions"), float64(api[k].Sessions))
			}
			c.num("channels", float64(len(rows)), float64(countIf(api, func(f reports.Figures) bool { return f.Sessions > 0 })))
		}
	})

	t.Run("leads and revenue by channel under two models", func(t *testing.T) {
		h := "Leads and revenue by channel, first click and last click"
		rows := keyed(p.query(t, doc.sql(t, h)), "channel")
		c := newCompare(t, h)
		for _, m := range []string{"first_click", "last_click"} {
			api := byKey(p.sources(t, m, "channel", last30).Rows)
			for k, f := range api {
				if f.Leads != 0 || f.Revenue != 0 {
					c.num(k+" "+m+" leads", rows[k].num(m+"_leads"), f.Leads)
					c.num(k+" "+m+" revenue", rows[k].num(m+"_revenue"), f.Revenue)
				}
			}
			for k := range rows {
				if _, ok := api[k]; !ok {
					c.fail("%s: a row the API does not have", k)
				}
			}
		}
	})

	t.Run("campaign ROI under linear", func(t *testing.T) {
		h := "Campaign ROI under the linear model"
		rows := keyed(p.query(t, doc.sql(t, h)), "key")
		api := byKey(p.sources(t, "linear", "campaign", last30).Rows)
		c := newCompare(t, h)
		for k, f := range api {
			if f.Revenue != 0 || f.Cost != 0 {
				c.num(k+" revenue", rows[k].num("revenue"), f.Revenue)
				c.num(k+" cost", rows[k].num("cost"), f.Cost)
				c.opt(k+" roi", rows[k].opt("roi"), f.ROI)
			}
		}
		for k, r := range rows {
			f, ok := api[k]
			if !ok || r.num("revenue") != f.Revenue || r.num("cost") != f.Cost {
				c.fail("%s: SQL %v, API %+v", k, r, f)
			}
		}
	})

	// The journeys API says which touch was first and which last for each sale of the
	// last 30 days (the demo's example person's latest sale included).
	var sales []demoSale
	for _, s := range demoSales(p.ds) {
		if !s.at.Before(today.AddDate(0, 0, -29)) {
			sales = append(sales, s)
		}
	}
	journeys := p.journeys(t, sales)
	credited := func(j *reports.Journey, model string) *reports.JourneyTouch {
		for i := range j.Touchpoints {
			if j.Touchpoints[i].Credits[model] == 1 {
				return &j.Touchpoints[i]
			}
		}
		return nil
	}

	t.Run("median days from first touch to sale", func(t *testing.T) {
		h := "Median days from first touch to sale, by channel"
		rows := keyed(p.query(t, strings.ReplaceAll(doc.sql(t, h), "today() - 89 AND today()", "today() - 29 AND today()")), "channel")
		days := map[string][]float64{}
		for _, s := range sales {
			j := journeys[s.id]
			if first := credited(j, "first_click"); first != nil && first.SessionID != "" {
				days[first.Channel] = append(days[first.Channel], j.Conversion.OccurredAt.Sub(first.StartedAt).Seconds()/86400)
			}
		}
		c := newCompare(t, h)
		for ch, d := range days {
			sort.Float64s(d)
			median := (d[(len(d)-1)/2] + d[len(d)/2]) / 2
			c.num(ch+" sales", rows[ch].num("sales"), float64(len(d)))
			c.num(ch+" median days", rows[ch].num("median_days"), math.Round(median*10)/10)
		}
		c.num("channels", float64(len(rows)), float64(len(days)))
	})

	t.Run("MQL to SQL rate and stalled MQLs by source", func(t *testing.T) {
		h := "MQL → SQL rate and stalled MQLs, by source"
		rows := keyed(p.query(t, doc.sql(t, h)), "key")
		api := p.lifecycle(t, "source", last90)
		c := newCompare(t, h)
		stalled := 0.0
		for _, r := range api.Rows {
			c.num(r.Key+" mql", rows[r.Key].num("mql"), float64(r.Counts["mql"]))
			c.num(r.Key+" sql", rows[r.Key].num("sql"), float64(r.Counts["sql"]))
			var rate *float64
			if r.Counts["mql"] > 0 {
				x := math.Round(float64(r.Counts["sql"])/float64(r.Counts["mql"])*1e6) / 1e6
				rate = &x
			}
			c.opt(r.Key+" mql_to_sql", rows[r.Key].opt("mql_to_sql"), rate)
			c.num(r.Key+" stalled mql", rows[r.Key].num("stalled_mql"), float64(r.Stalled["mql"]))
			stalled += float64(r.Stalled["mql"])
		}
		if stalled == 0 {
			t.Errorf("no stalled MQL in the demo data: the comparison proves nothing")
		}
	})

	t.Run("one sale's journey with every model's credit", func(t *testing.T) {
		h := "One sale's journey, with every model's credit"
		q := doc.sql(t, h)
		email := regexp.MustCompile(`SHA256\('([^']+)'\)`).FindStringSubmatch(q)[1]
		var latest demoSale
		for _, s := range demoSales(p.ds) {
			if s.email == email && s.at.After(latest.at) {
				latest = s
			}
		}
		if latest.id == "" {
			t.Fatalf("the docs' example %s has no sale in the demo data", email)
		}
		compareJourney(t, p.query(t, q), p.journeys(t, []demoSale{latest})[latest.id])
		// Every third sale of the last 30 days and a form lead, by their conversion id.
		sub := regexp.MustCompile(`(?s)conversion_id =\s*\(.*?\n\)\n`)
		n := 0
		for i := 0; i < len(sales); i += 3 {
			compareJourney(t, p.query(t, sub.ReplaceAllString(q, "conversion_id = '"+sales[i].id+"'\n")), journeys[sales[i].id])
			n++
		}
		lead := demoSale{id: p.ds.EventConversions[len(p.ds.EventConversions)-1]}
		compareJourney(t, p.query(t, sub.ReplaceAllString(q, "conversion_id = '"+lead.id+"'\n")), p.journeys(t, []demoSale{lead})[lead.id])
		if n < 20 {
			t.Errorf("only %d sales compared", n)
		}
	})

	t.Run("weekly new visitors and sessions by channel", func(t *testing.T) {
		h := "New visitors and sessions per week and channel, without gaps"
		rows := p.query(t, doc.sql(t, h))
		weeks := map[string]map[string]sqlRow{}
		channels := map[string]bool{}
		newVisitors := 0.0
		for _, r := range rows {
			w := r.time("week").Format("2006-01-02")
			if weeks[w] == nil {
				weeks[w] = map[string]sqlRow{}
			}
			weeks[w][r.str("channel")] = r
			channels[r.str("channel")] = true
			newVisitors += r.num("new_visitors")
		}
		c := newCompare(t, h)
		c.num("weeks", float64(len(weeks)), 12)
		c.num("rows", float64(len(rows)), float64(12*len(channels)))
		first := ""
		for w, byChannel := range weeks {
			if first == "" || w < first {
				first = w
			}
			from, _ := time.Parse("2006-01-02", w)
			to := from.AddDate(0, 0, 6)
			if to.After(today) {
				to = today
			}
			api := byKey(p.sources(t, "first_click", "channel", "from="+w+"&to="+to.Format("2006-01-02")).Rows)
			for ch, r := range byChannel {
				c.num(w+" "+ch+" sessions", r.num("sessions"), float64(api[ch].Sessions))
			}
		}
		// Each visitor is new once, in the week of their first visit.
		total := p.sources(t, "first_click", "channel", "from="+first+"&to="+day(0)).Totals.Visitors
		c.num("new visitors over all weeks", newVisitors, float64(total))
	})

	t.Run("share of sales whose first and last channel differ", func(t *testing.T) {
		h := "Sales whose first and last channel differ"
		r := p.query(t, doc.sql(t, h))[0]
		n, differ := 0, 0
		for _, s := range sales {
			j := journeys[s.id]
			n++
			if credited(j, "first_click").Channel != credited(j, "last_click").Channel {
				differ++
			}
		}
		c := newCompare(t, h)
		c.num("sales", r.num("sales"), float64(n))
		c.num("first differs from last", r.num("first_differs_from_last"), float64(differ))
		c.num("share", r.num("share"), math.Round(float64(differ)/float64(n)*1e4)/1e4)
	})

	t.Run("source report", func(t *testing.T) {
		q := doc.sql(t, "Source report")
		ranges := map[string][2]string{"last 30 days": {day(-29), day(0)}, "ten weeks ago to six": {day(-70), day(-42)}}
		type variant struct{ by, model, rng string }
		var vs []variant
		for _, m := range []string{"first_click", "last_click", "last_non_direct", "linear", "time_decay", "position_based", "data_driven"} {
			vs = append(vs, variant{"channel", m, "last 30 days"})
		}
		for _, by := range []string{"source", "campaign"} {
			for _, m := range []string{"first_click", "linear", "data_driven"} {
				for rng := range ranges {
					vs = append(vs, variant{by, m, rng})
				}
			}
		}
		for _, v := range vs {
			r := ranges[v.rng]
			sql := strings.ReplaceAll(q, "if(channel = '', '(none)', channel)", fmt.Sprintf("if(%[1]s = '', '(none)', %[1]s)", v.by))
			sql = strings.ReplaceAll(sql, "model = 'first_click'", "model = '"+v.model+"'")
			sql = strings.ReplaceAll(sql, "today() - 29 AND today()", fmt.Sprintf("'%s' AND '%s'", r[0], r[1]))
			rows := keyed(p.query(t, sql), "key")
			api := p.sources(t, v.model, v.by, "from="+r[0]+"&to="+r[1])
			c := newCompare(t, fmt.Sprintf("source report by %s, %s, %s", v.by, v.model, v.rng))
			for _, a := range api.Rows {
				s := rows[a.Key]
				f := a.Figures
				c.num(a.Key+" visitors", s.num("visitors"), float64(f.Visitors))
				c.num(a.Key+" sessions", s.num("sessions"), float64(f.Sessions))
				c.num(a.Key+" leads", s.num("leads"), f.Leads)
				c.num(a.Key+" leads form", s.num("leads_form"), f.LeadsByType.Form)
				c.num(a.Key+" leads call", s.num("leads_call"), f.LeadsByType.Call)
				c.num(a.Key+" leads chat", s.num("leads_chat"), f.LeadsByType.Chat)
				c.num(a.Key+" leads other", s.num("leads_other"), f.LeadsByType.Other)
				c.num(a.Key+" sales", s.num("sales"), f.Sales)
				c.num(a.Key+" revenue", s.num("revenue"), f.Revenue)
				c.num(a.Key+" cost", s.num("cost"), f.Cost)
				c.num(a.Key+" clicks", s.num("clicks"), float64(f.Clicks))
				c.num(a.Key+" impressions", s.num("impressions"), float64(f.Impressions))
				c.opt(a.Key+" cost per lead", s.opt("cost_per_lead"), f.CostPerLead)
				c.opt(a.Key+" cost per sale", s.opt("cost_per_sale"), f.CostPerSale)
				c.opt(a.Key+" roas", s.opt("roas"), f.ROAS)
				c.opt(a.Key+" roi", s.opt("roi"), f.ROI)
			}
			c.num("rows", float64(len(rows)), float64(len(api.Rows)))
		}
	})

	t.Run("cost by keyword", func(t *testing.T) {
		h := "Grouped by keyword"
		rows := keyed(p.query(t, doc.sql(t, h)), "key")
		api := byKey(p.sources(t, "first_click", "keyword", last30).Rows)
		c := newCompare(t, h)
		n := 0
		for k, f := range api {
			if f.Cost == 0 && f.Clicks == 0 && f.Impressions == 0 {
				continue // organic keywords
			}
			n++
			c.num(k+" cost", rows[k].num("cost"), f.Cost)
			c.num(k+" clicks", rows[k].num("clicks"), float64(f.Clicks))
			c.num(k+" impressions", rows[k].num("impressions"), float64(f.Impressions))
		}
		c.num("rows", float64(len(rows)), float64(n))
		if _, ok := api[reports.UnallocatedKey]; !ok {
			t.Errorf("the demo data has no unallocated keyword cost: the comparison proves little")
		}
	})

	t.Run("unconverted revenue", func(t *testing.T) {
		h := "Money: currencies and rates"
		rows := p.query(t, doc.sql(t, h))
		api := byKey(p.sources(t, "first_click", "channel", last90).Rows)
		want := map[string]float64{}
		for k, f := range api {
			for _, u := range f.Unconverted {
				if u.Revenue != 0 {
					want[k+" "+u.Currency] = u.Revenue
				}
			}
		}
		c := newCompare(t, h)
		for _, r := range rows {
			k := r.str("channel") + " " + r.str("currency")
			c.num(k, r.num("unconverted_revenue"), want[k])
		}
		c.num("rows", float64(len(rows)), float64(len(want)))
	})

	t.Run("drilling down", func(t *testing.T) {
		h := "Drilling down and filtering"
		q := doc.sql(t, h)
		for _, v := range []struct{ filter, by, model, api string }{
			{"channel = 'Paid Social'", "source", "linear", "channel=Paid+Social"},
			{"channel = 'Paid Search' AND source = 'google'", "campaign", "data_driven", "channel=Paid+Search&source=google"},
			{"channel = 'Organic Search'", "source", "time_decay", "channel=Organic+Search"},
		} {
			sql := strings.ReplaceAll(q, "channel = 'Paid Social'", v.filter)
			sql = strings.ReplaceAll(sql, "if(source = '', '(none)', source)", fmt.Sprintf("if(%[1]s = '', '(none)', %[1]s)", v.by))
			sql = strings.ReplaceAll(sql, "model = 'linear'", "model = '"+v.model+"'")
			rows := keyed(p.query(t, sql), "key")
			api := p.sources(t, v.model, v.by, last30+"&"+v.api)
			c := newCompare(t, fmt.Sprintf("%s: %s by %s, %s", h, v.filter, v.by, v.model))
			n := 0
			for _, a := range api.Rows {
				if a.Key == reports.UnallocatedKey {
					continue
				}
				n++
				s, f := rows[a.Key], a.Figures
				c.num(a.Key+" visitors", s.num("visitors"), float64(f.Visitors))
				c.num(a.Key+" sessions", s.num("sessions"), float64(f.Sessions))
				c.num(a.Key+" leads", s.num("leads"), f.Leads)
				c.num(a.Key+" sales", s.num("sales"), f.Sales)
				c.num(a.Key+" revenue", s.num("revenue"), f.Revenue)
				c.num(a.Key+" cost", s.num("cost"), f.Cost)
			}
			c.num("rows", float64(len(rows)), float64(n))
			if n < 2 || api.Totals.Leads == 0 {
				t.Errorf("%s: %d rows, %v leads: the comparison proves little", v.filter, n, api.Totals.Leads)
			}
		}
	})

	t.Run("over time beside the previous period", func(t *testing.T) {
		h := "Over time, beside the previous period"
		rows := p.query(t, doc.sql(t, h))
		var api reports.Series
		p.get(t, fmt.Sprintf("/api/v1/reports/series?site=demo&model=first_click&interval=week&from=%s&to=%s", day(-27), day(0)), &api)
		c := newCompare(t, h)
		c.num("points", float64(len(rows)), float64(len(api.Points)))
		for i, pt := range api.Points {
			if i >= len(rows) {
				break
			}
			r := rows[i]
			c.num(pt.From+" week", float64(r.time("week").Unix()), float64(mondayOf(t, pt.From).Unix()))
			for _, x := range []struct {
				prefix string
				f      reports.Figures
			}{{"", pt.Current}, {"previous_", pt.Previous}} {
				c.num(pt.From+" "+x.prefix+"visitors", r.num(x.prefix+"visitors"), float64(x.f.Visitors))
				c.num(pt.From+" "+x.prefix+"sessions", r.num(x.prefix+"sessions"), float64(x.f.Sessions))
				c.num(pt.From+" "+x.prefix+"leads", r.num(x.prefix+"leads"), x.f.Leads)
				c.num(pt.From+" "+x.prefix+"revenue", r.num(x.prefix+"revenue"), x.f.Revenue)
			}
		}
		if api.PreviousTotals.Leads == 0 || api.Totals.Leads == 0 {
			t.Errorf("no leads in one of the periods: the comparison proves little")
		}
	})

	t.Run("lead list", func(t *testing.T) {
		h := "Lead list"
		q := doc.sql(t, h)
		filter := regexp.MustCompile("(?s)`(AND conversion_id IN \\(SELECT .*?\\))`").FindStringSubmatch(docText(t, "sql.md"))
		if filter == nil {
			t.Fatal("no filter in the lead list's text")
		}
		filtered := strings.Replace(q, "AND type = 'lead' AND day BETWEEN today() - 29 AND today()",
			"AND type = 'lead' AND day BETWEEN today() - 29 AND today()\n"+strings.ReplaceAll(filter[1], "\n", " "), 1)
		for _, v := range []struct{ name, sql, api string }{
			{"first page", q, ""},
			{"second page", strings.Replace(q, "LIMIT 50", "LIMIT 50 OFFSET 50", 1), "&offset=50"},
			{"Paid Search", filtered, "&channel=Paid+Search"},
		} {
			rows := p.query(t, v.sql)
			var api reports.Leads
			p.get(t, "/api/v1/leads?site=demo&"+last30+v.api, &api)
			c := newCompare(t, h+", "+v.name)
			c.num("leads", float64(len(rows)), float64(len(api.Leads)))
			explained := false // the first person whose stage differs
			for i, l := range api.Leads {
				if i >= len(rows) {
					break
				}
				r := rows[i]
				if r.str("conversion_id") != l.ConversionID || !r.time("occurred_at").Equal(l.OccurredAt) || r.str("lead_type") != l.LeadType ||
					r.str("person_id") != l.PersonID || r.str("stage") != l.Stage {
					c.fail("lead %d: SQL %v, API %+v", i, r, l)
					if r.str("person_id") == l.PersonID && r.str("stage") != l.Stage && !explained {
						p.explainPerson(t, l.PersonID)
						explained = true
					}
					continue
				}
				c.num(l.ConversionID+" touches", r.num("touches"), float64(l.Touches))
				for _, x := range []struct {
					prefix string
					touch  *reports.LeadTouch
				}{{"first_", l.FirstTouch}, {"last_", l.LastTouch}} {
					if x.touch == nil {
						c.fail("%s: not attributed", l.ConversionID)
						continue
					}
					if r.str(x.prefix+"channel") != x.touch.Channel || r.str(x.prefix+"source") != x.touch.Source ||
						r.str(x.prefix+"campaign") != x.touch.Campaign {
						c.fail("%s %stouch: SQL %v, API %+v", l.ConversionID, x.prefix, r, x.touch)
					}
				}
			}
			stages, touches := map[string]bool{}, map[int]bool{}
			for _, l := range api.Leads {
				stages[l.Stage], touches[l.Touches] = true, true
			}
			if len(api.Leads) < 20 || len(stages) < 2 || len(touches) < 2 {
				t.Errorf("%s: %d leads listed, stages %v, touches %v: the comparison proves little", v.name, len(api.Leads), stages, touches)
			}
		}
	})

	t.Run("what a person did", func(t *testing.T) {
		h := "What a person did"
		q := doc.sql(t, h)
		email := regexp.MustCompile(`SHA256\('([^']+)'\)`).FindStringSubmatch(q)[1]
		var j reports.Journey
		p.get(t, "/api/v1/journeys?site=demo&email_sha256="+sha256Hex(email), &j)
		var want []reports.JourneyEvent
		for _, e := range j.Events {
			if e.Type != "conversion" {
				want = append(want, e)
			}
		}
		var got []sqlRow
		for _, r := range p.query(t, q) {
			if at := r.time("ts"); !at.Before(j.WindowFrom) && !at.After(j.Conversion.OccurredAt) {
				got = append(got, r)
			}
		}
		c := newCompare(t, h)
		c.num("events", float64(len(got)), float64(len(want)))
		for i := range min(len(got), len(want)) {
			r, e := got[i], want[i]
			if !r.time("ts").Equal(e.At) || r.str("event_type") != e.Type || r.str("session_id") != e.SessionID ||
				r.str("path") != e.Path || r.str("title") != e.Title || r.str("event_name") != e.Name || r.str("link") != e.Link ||
				(r.num("is_bot") == 1) != e.Bot {
				c.fail("event %d: SQL %v, API %+v", i, r, e)
			}
		}
		if len(want) < 3 {
			t.Errorf("the example person did %d things: the comparison proves little", len(want))
		}
	})

	t.Run("lifecycle report", func(t *testing.T) {
		q := doc.sql(t, "Lifecycle report")
		for _, by := range []string{"source", "channel", "campaign"} {
			for _, rng := range [][2]string{{day(-89), day(0)}, {day(-29), day(0)}} {
				sql := strings.ReplaceAll(q, "if(source = '', '(none)', source)", fmt.Sprintf("if(%[1]s = '', '(none)', %[1]s)", by))
				sql = strings.ReplaceAll(sql, "today() - 89 AND today()", fmt.Sprintf("'%s' AND '%s'", rng[0], rng[1]))
				rows := keyed(p.query(t, sql), "key")
				api := p.lifecycle(t, by, "from="+rng[0]+"&to="+rng[1])
				c := newCompare(t, fmt.Sprintf("lifecycle by %s from %s", by, rng[0]))
				for _, a := range api.Rows {
					s := rows[a.Key]
					for i, st := range site.DefaultStages {
						col := st
						if st == "lead" {
							col = "leads"
						}
						c.num(a.Key+" "+st, s.num(col), float64(a.Counts[st]))
						if i+1 < len(site.DefaultStages) {
							pair := st + "_" + site.DefaultStages[i+1]
							c.opt(a.Key+" rate "+pair, s.opt(pair), a.Rates[pair])
							c.opt(a.Key+" median days "+pair, s.opt("days_"+pair), a.MedianDays[pair])
							c.num(a.Key+" stalled "+st, s.num("stalled_"+st), float64(a.Stalled[st]))
						}
					}
				}
				// The report also lists keys with visitors but nobody in the funnel; the SQL
				// gives the keys people entered with.
				entered := 0
				for _, a := range api.Rows {
					for _, n := range a.Counts {
						if n != 0 {
							entered++
							break
						}
					}
				}
				c.num("rows", float64(len(rows)), float64(entered))
			}
		}
	})

	t.Run("credit on the table", func(t *testing.T) {
		h := "Credit"
		leads := map[string]float64{}
		for _, r := range p.query(t, doc.sql(t, h)) { // a row per channel and currency
			leads[r.str("channel")] += r.num("leads")
		}
		api := byKey(p.sources(t, "linear", "channel", last30).Rows)
		c := newCompare(t, h)
		n := 0
		for k, f := range api {
			if f.Leads != 0 {
				n++
				c.num(k+" leads", math.Round(leads[k]*1e6)/1e6, f.Leads) // the API's six decimals
			}
		}
		for k, v := range leads {
			if _, ok := api[k]; !ok && v != 0 {
				c.fail("%s: leads the API does not have", k)
			}
		}
		if n < 2 {
			t.Errorf("%d channels with linear leads: the comparison proves little", n)
		}
	})

	t.Run("leads by first touch in both reports", func(t *testing.T) {
		h := "Leads by first touch, as both reports count them"
		rows := keyed(p.query(t, doc.sql(t, h)), "channel")
		sources := byKey(p.sources(t, "first_click", "channel", last30).Rows)
		c := newCompare(t, h)
		for _, r := range p.lifecycle(t, "channel", last30).Rows {
			c.num(r.Key+" lifecycle leads", rows[r.Key].num("leads"), float64(r.Counts["lead"]))
			c.num(r.Key+" source report leads", rows[r.Key].num("leads"), sources[r.Key].Leads)
		}
	})

	// Last: the erasure it asks for first (of an address the demo does not have) gives
	// tables.md's example on privacy_erasures its row.
	t.Run("every query returns rows", func(t *testing.T) {
		var started struct {
			StatusURL string `json:"status_url"`
		}
		if code := adminDo(t, http.MethodPost, p.api+"/api/v1/privacy/erase", map[string]string{"site": "demo", "email": "jane@example.com"},
			&started); code != http.StatusAccepted {
			t.Fatalf("erase: %d", code)
		}
		var status struct {
			Status string `json:"status"`
		}
		testenv.Eventually(t, 90*time.Second, "the erasure", func() (bool, error) {
			adminDo(t, http.MethodGet, p.api+started.StatusURL, nil, &status)
			return status.Status != "running", nil
		})
		if status.Status != "done" {
			t.Fatalf("erasure: %s", status.Status)
		}
		for _, q := range append(append(doc, readSQLDoc(t, "tables.md")...), readSQLDoc(t, "identity.md")...) {
			if rows := p.query(t, q.sql); len(rows) == 0 {
				t.Errorf("%q: no rows on the demo data:\n%s", q.heading, q.sql)
			}
		}
	})
}

// docText is the text of docs/name.
func docText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(testenv.RepoRoot(t) + "/docs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sha256Hex is an email address hashed as the collector hashes it.
func sha256Hex(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

// mondayOf is the Monday of the week of day (YYYY-MM-DD).
func mondayOf(t *testing.T, day string) time.Time {
	t.Helper()
	d, err := time.Parse("2006-01-02", day)
	if err != nil {
		t.Fatal(err)
	}
	return d.AddDate(0, 0, -(int(d.Weekday())+6)%7)
}

// demoRun is the demo data set in the pipeline of a test.
type demoRun struct {
	conn driver.Conn
	db   string
	api  string
	ds   *demo.Dataset
}

// startDemo starts a stitcher, a collector and an attribution service of the test's own
// (own topics, a fresh database, the demo site), sends the demo data set of `make demo`
// through them, and returns once every conversion is credited and the source report's
// rollups are built.
func startDemo(t *testing.T) *demoRun {
	t.Helper()
	kc := testenv.KafkaConfig(t)
	topics := testenv.Topics(t, kc.Brokers, 4)
	conn, db := testenv.FreshDatabase(t)
	sites := filepath.Join(t.TempDir(), "sites.json")
	if err := os.WriteFile(sites, []byte(`{"admin_token_sha256": "cce7a2cf1ae045989cfc914fb95a41526f167a838b3c7d33745143614abace7c",
		"sites": [{"id": "demo", "origins": ["http://127.0.0.1:*"], "lookback_days": 90, "currency": "EUR",
			"secret_sha256": "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	kafka := []string{"-kafka.brokers", topics.Brokers, "-kafka.topic", topics.Topic, "-kafka.dlq", topics.DLQ}
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) }
	stitcher, collector, attribution := addr(), addr(), addr()
	testenv.Start(t, testenv.Binary(t, "./cmd/stitcher"), append(kafka, "-kafka.group", topics.Topic, "-sites", sites,
		"-clickhouse.database", db, "-http.listen", stitcher)...)
	testenv.Start(t, testenv.Binary(t, "./cmd/collector"), append(kafka, "-http.listen", collector, "-metrics.listen", "",
		"-sites", sites, "-spool.dir", t.TempDir())...)
	testenv.Start(t, testenv.Binary(t, "./cmd/attribution"), "-http.listen", attribution, "-metrics.listen", "", "-sites", sites, "-clickhouse.database", db,
		"-poll", "200ms", "-rollup.interval", "1s", "-rollup.margin", "2s")
	for _, a := range []string{stitcher, collector, attribution} {
		waitHealthy(t, "http://"+a+"/healthz")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	ds := demo.Generate(demo.Options{Site: "demo", Visitors: 5000, Weeks: 10, End: time.Now(), Seed: 1})
	c := &demo.Client{Collector: "http://" + collector, Attribution: "http://" + attribution, Site: "demo", Secret: "demo-secret",
		AdminToken: "demo-admin"}
	if err := c.Send(ctx, ds); err != nil {
		t.Fatal(err)
	}
	sent := time.Since(start)
	if err := demo.WaitAttributed(ctx, conn, db, ds); err != nil {
		t.Fatal(err)
	}
	attributed := time.Since(start)
	// The reports read every day from its rollups once built, visitors included: wait for
	// that, so the comparisons cover the rollups (the other way is the same query as the
	// views').
	testenv.Eventually(t, 2*time.Minute, "the rollups of every day", func() (bool, error) {
		var stale, noVisitors uint64
		err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT count() FROM
			(SELECT day, max(changed_at) AS changed FROM %[1]s.report_changes WHERE site_id = 'demo' GROUP BY day) AS changes
			ANY LEFT JOIN (SELECT day, max(built_from) AS built FROM %[1]s.report_builds WHERE site_id = 'demo' GROUP BY day) AS builds
			USING day WHERE built <= changed`, db)).Scan(&stale)
		if err == nil {
			err = conn.QueryRow(ctx, fmt.Sprintf(`SELECT uniqExact(day) FROM %[1]s.report_builds WHERE site_id = 'demo'
				AND day NOT IN (SELECT day FROM %[1]s.report_visit_builds WHERE site_id = 'demo')`, db)).Scan(&noVisitors)
		}
		return err == nil && stale == 0 && noVisitors == 0, fmt.Errorf("%d days to roll up, %d without their visitors' rollups (%v)",
			stale, noVisitors, err)
	})
	t.Logf("demo data sent in %s, attributed after %s, rolled up after %s", sent.Round(time.Millisecond),
		attributed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return &demoRun{conn: conn, db: db, api: "http://" + attribution, ds: ds}
}
