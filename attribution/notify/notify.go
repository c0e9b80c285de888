// Package notify turns what the attribution engine computed into deliveries: CRM webhooks
// (lead.created, conversion.created, attribution.updated) and Meta Conversions API events.
// It writes them to the delivery queue before the engine writes the credit, so none is
// lost, and hands them to the sender, which sends them in the background.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/attribution/engine"
	"touchpoint/attribution/meta"
	"touchpoint/attribution/webhook"
	"touchpoint/internal/site"
	"touchpoint/scoring/rules"
)

// Notifier makes and queues the deliveries of computed conversions.
type Notifier struct {
	Conn driver.Conn
	DB   string
	// Queue stores the deliveries (webhook.Store in production).
	Queue interface {
		Save(ctx context.Context, ds ...webhook.Delivery) error
		Made(ctx context.Context, site string, conversionIDs []string) ([]webhook.Delivery, error)
	}
	// Sender is handed the saved deliveries; nil leaves them to the sender's poll.
	Sender interface{ Enqueue(ds ...webhook.Delivery) }
	// Meta says where Meta events go (the delivery list shows it).
	Meta *meta.Target
	// Score gives a person's lead score for lead.created; nil sends none.
	Score func(ctx context.Context, st *site.Site, person string) (*rules.Score, error)
	Now   func() time.Time
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// Computed implements engine.Engine.OnComputed.
func (n *Notifier) Computed(ctx context.Context, st *site.Site, cs []engine.Computed) error {
	hook, toMeta := st.WebhookURL != "", st.SendsToMeta()
	if !hook && !toMeta || len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	for i := range cs {
		ids[i] = cs[i].Conversion.ID
	}
	prior, err := n.Queue.Made(ctx, st.ID, ids)
	if err != nil {
		return err
	}
	known := newMade(prior)
	var ds []webhook.Delivery
	if hook {
		hooks, err := n.webhooks(ctx, st, cs, known)
		if err != nil {
			return err
		}
		ds = append(ds, hooks...)
	}
	if toMeta {
		events, err := n.metaEvents(ctx, st, cs, known)
		if err != nil {
			return err
		}
		ds = append(ds, events...)
	}
	if len(ds) == 0 {
		return nil
	}
	if err := n.Queue.Save(ctx, ds...); err != nil {
		return err
	}
	if n.Sender != nil {
		n.Sender.Enqueue(ds...)
	}
	return nil
}

// webhooks makes the CRM webhooks of cs.
func (n *Notifier) webhooks(ctx context.Context, st *site.Site, cs []engine.Computed, known *made) ([]webhook.Delivery, error) {
	var ids []string
	from, to := cs[0].Conversion.At, cs[0].Conversion.At
	for i := range cs {
		c := &cs[i]
		ids = append(ids, c.First.ID, c.Last.ID, c.PrevFirst, c.PrevLast)
		from, to = minTime(from, c.Conversion.At), maxTime(to, c.Conversion.At)
	}
	touches, err := n.touches(ctx, st.ID, ids, from.Add(-time.Duration(st.LookbackDays)*24*time.Hour), to)
	if err != nil {
		return nil, err
	}
	// A conversion without an email hash (a form whose address came in a separate
	// identify) gets the person's latest one.
	var anonymous []string
	for i := range cs {
		if cs[i].Conversion.EmailSHA256 == "" {
			anonymous = append(anonymous, cs[i].Conversion.Person)
		}
	}
	hashes, err := n.emailHashes(ctx, st.ID, anonymous)
	if err != nil {
		return nil, err
	}
	var emails map[string]string
	if st.WebhookIncludeEmail {
		convIDs := make([]string, len(cs))
		for i := range cs {
			convIDs[i] = cs[i].Conversion.ID
		}
		if emails, err = n.emails(ctx, st.ID, convIDs); err != nil {
			return nil, err
		}
	}
	now := n.now().UTC()
	url := webhook.DisplayURL(st.WebhookURL)
	out := make([]webhook.Delivery, 0, len(cs))
	for i := range cs {
		c := &cs[i]
		conv := &c.Conversion
		p := webhook.Payload{Site: st.ID, CreatedAt: now, TouchCount: c.Touches,
			Conversion: webhook.Conversion{ID: conv.ID, Type: conv.Type, LeadType: conv.LeadType, OccurredAt: conv.At.UTC(),
				Value: conv.Value, Currency: conv.Currency},
			Person:     webhook.Person{ID: conv.Person, Email: emails[conv.ID], EmailSHA256: conv.EmailSHA256, UserID: conv.UserID},
			FirstTouch: touches[c.First.ID], LastTouch: touches[c.Last.ID]}
		if p.Conversion.Currency == "" {
			p.Conversion.Currency = st.Currency
		}
		if p.Person.EmailSHA256 == "" && len(hashes[conv.Person]) > 0 {
			p.Person.EmailSHA256 = hashes[conv.Person][0]
		}
		if conv.Type != "lead" {
			p.Conversion.LeadType = ""
		}
		if p.FirstTouch != nil {
			d := math.Round(conv.At.Sub(p.FirstTouch.Time).Hours()/24*100) / 100
			p.DaysToConvert = &d
		}
		var idParts []string
		switch {
		case c.New && conv.Type == "lead":
			p.Event = webhook.LeadCreated
			if n.Score != nil {
				var err error
				if p.Score, err = n.Score(ctx, st, conv.Person); err != nil {
					// The lead still goes out: the CRM sees the score on a later event or in the API.
					log.Printf("notify: cannot score %s for its webhook: %v", conv.ID, err)
				}
			}
		case c.New:
			p.Event = webhook.ConversionCreated
		default:
			p.Event = webhook.AttributionUpdated
			p.Previous = &webhook.Previous{FirstTouch: touches[c.PrevFirst], LastTouch: touches[c.PrevLast]}
			idParts = []string{c.PrevFirst, c.PrevLast, c.First.ID, c.Last.ID}
		}
		id := webhook.DeliveryID(append([]string{st.ID, webhook.TargetWebhook, p.Event, conv.ID}, idParts...)...)
		var fresh bool
		if p.ID, fresh = known.id(id, p.Event == webhook.AttributionUpdated, conv.ID); !fresh {
			continue
		}
		body, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("cannot encode the webhook of %s: %w", conv.ID, err)
		}
		out = append(out, webhook.Delivery{Site: st.ID, ID: p.ID, Target: webhook.TargetWebhook, Event: p.Event, ConversionID: conv.ID,
			URL: url, Payload: body, State: webhook.Pending, NextAttemptAt: now, CreatedAt: now})
	}
	return out, nil
}

// metaEvents makes the Meta events of the conversions credited for the first time whose
// type the site sends to Meta and which are recent enough for Meta to take.
func (n *Notifier) metaEvents(ctx context.Context, st *site.Site, cs []engine.Computed, known *made) ([]webhook.Delivery, error) {
	now := n.now().UTC()
	var todo []*engine.Conversion
	old := 0
	for i := range cs {
		c := &cs[i].Conversion
		if !cs[i].New || st.MetaEvent(c.Type) == "" || known.has(webhook.DeliveryID(st.ID, webhook.TargetMeta, c.ID)) {
			continue
		}
		if now.Sub(c.At) > meta.MaxAge {
			old++
			continue
		}
		todo = append(todo, c)
	}
	if old > 0 {
		log.Printf("notify: %s: %d conversions older than %s not sent to Meta, which refuses them", st.ID, old, meta.MaxAge)
	}
	if len(todo) == 0 {
		return nil, nil
	}
	persons := make([]string, 0, len(todo))
	from, to := todo[0].At, todo[0].At
	for _, c := range todo {
		persons = append(persons, c.Person)
		from, to = minTime(from, c.At), maxTime(to, c.At)
	}
	trail, err := n.browserTrail(ctx, st.ID, persons, from.Add(-90*24*time.Hour), to.Add(time.Minute))
	if err != nil {
		return nil, err
	}
	hashes, err := n.emailHashes(ctx, st.ID, persons)
	if err != nil {
		return nil, err
	}
	url := n.Meta.EventsURL(st)
	out := make([]webhook.Delivery, 0, len(todo))
	for _, c := range todo {
		emails := hashes[c.Person]
		if c.EmailSHA256 != "" {
			emails = append([]string{c.EmailSHA256}, without(emails, c.EmailSHA256)...)
		}
		ev := meta.NewEvent(meta.Conversion{ID: c.ID, EventName: st.MetaEvent(c.Type), OccurredAt: c.At, Value: c.Value,
			Currency: c.Currency, EmailSHA256: emails, UserID: c.UserID}, browserAt(trail[c.Person], c.At), st.Currency)
		body, err := meta.Payload(ev)
		if err != nil {
			return nil, fmt.Errorf("cannot encode the Meta event of %s: %w", c.ID, err)
		}
		id := webhook.DeliveryID(st.ID, webhook.TargetMeta, c.ID)
		out = append(out, webhook.Delivery{Site: st.ID, ID: id, Target: webhook.TargetMeta, Event: ev.EventName, ConversionID: c.ID,
			URL: url, Payload: body, State: webhook.Pending, NextAttemptAt: now, CreatedAt: now})
	}
	return out, nil
}

// made are the deliveries already made of some conversions. A pass of the engine done
// again after a failure (a restart, ClickHouse away while the credit was written) computes
// the same conversions again: their deliveries, perhaps sent meanwhile, are not made twice.
type made struct {
	byID map[string]webhook.Delivery
	// lastUpdate is when the latest attribution.updated of each conversion was made.
	lastUpdate map[string]time.Time
}

func newMade(ds []webhook.Delivery) *made {
	m := &made{byID: map[string]webhook.Delivery{}, lastUpdate: map[string]time.Time{}}
	for _, d := range ds {
		m.byID[d.ID] = d
		if d.Target == webhook.TargetWebhook && d.Event == webhook.AttributionUpdated && d.CreatedAt.After(m.lastUpdate[d.ConversionID]) {
			m.lastUpdate[d.ConversionID] = d.CreatedAt
		}
	}
	return m
}

func (m *made) has(id string) bool {
	_, ok := m.byID[id]
	return ok
}

// id returns the id of a delivery whose parts give id, and whether it is to be made. A
// delivery made already is not, except an attribution.updated whose conversion had
// another change told since (its touches went back and forth): that one is made again
// under a new id, which a receiver deduplicating by id does not take for the first one.
func (m *made) id(id string, update bool, conversionID string) (string, bool) {
	for {
		d, ok := m.byID[id]
		if !ok {
			return id, true
		}
		if !update || !m.lastUpdate[conversionID].After(d.CreatedAt) {
			return id, false
		}
		id = webhook.DeliveryID(id, "again")
	}
}

func without(list []string, s string) []string {
	out := make([]string, 0, len(list))
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
