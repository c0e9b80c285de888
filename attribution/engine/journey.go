package engine

import (
	"context"
	"fmt"
	"sort"
	"time"

	"touchpoint/attribution/model"
)

// JourneyTouch is one touchpoint of a journey with each model's credit for the conversion.
type JourneyTouch struct {
	SessionID   string             `json:"session_id"`
	StartedAt   time.Time          `json:"started_at"`
	Channel     string             `json:"channel"`
	Source      string             `json:"source"`
	Medium      string             `json:"medium"`
	Campaign    string             `json:"campaign"`
	Term        string             `json:"term"`
	LandingPage string             `json:"landing_page"`
	Referrer    string             `json:"referrer"`
	Credits     map[string]float64 `json:"credits"`
}

// JourneyConversion describes a conversion in a journey.
type JourneyConversion struct {
	ConversionID string    `json:"conversion_id"`
	Type         string    `json:"type"`
	LeadType     string    `json:"lead_type"`
	OccurredAt   time.Time `json:"occurred_at"`
	Value        float64   `json:"value"`
	Currency     string    `json:"currency"`
}

// Journey is a person's path to one conversion.
type Journey struct {
	Site        string              `json:"site"`
	PersonID    string              `json:"person_id"`
	Conversion  JourneyConversion   `json:"conversion"`
	Conversions []JourneyConversion `json:"conversions"`
	Touchpoints []JourneyTouch      `json:"touchpoints"`
}

// ErrNotFound is returned when no conversion matches.
var ErrNotFound = fmt.Errorf("no such conversion")

// Journey returns the journey to conversionID, or, when it is empty, to the latest lead
// (else latest conversion) of the person with the email hash.
func (e *Engine) Journey(ctx context.Context, siteID, conversionID, emailSHA256 string) (*Journey, error) {
	st := e.sites.Get(siteID)
	if st == nil {
		return nil, fmt.Errorf("unknown site %q", siteID)
	}
	var target []Conversion
	var err error
	if conversionID != "" {
		target, err = e.store.conversions(ctx, st.ID, "conversion_id = ?", conversionID)
	} else {
		idents := fmt.Sprintf("SELECT person_id FROM %s.identities FINAL WHERE site_id = ? AND email_sha256 = ?", e.store.db)
		target, err = e.store.conversions(ctx, st.ID, fmt.Sprintf(
			"(email_sha256 = ? OR person IN (SELECT person FROM (%s)))", e.store.currentPerson(idents)), emailSHA256, st.ID, st.ID, emailSHA256)
	}
	if err != nil {
		return nil, err
	}
	if len(target) == 0 {
		return nil, ErrNotFound
	}
	conv := pickConversion(target)
	all, err := e.store.conversions(ctx, st.ID, "person = ?", conv.Person)
	if err != nil {
		return nil, err
	}
	j := &Journey{Site: st.ID, PersonID: conv.Person, Conversion: journeyConversion(conv)}
	for _, c := range all {
		j.Conversions = append(j.Conversions, journeyConversion(c))
	}

	credits, err := e.store.credits(ctx, st.ID, conv.ID)
	if err != nil {
		return nil, err
	}
	from := conv.At.Add(-lookback(st))
	err = e.store.sessions(ctx, st.ID, from, conv.At, "person = ?", []any{conv.Person}, func(s *Session) error {
		j.Touchpoints = append(j.Touchpoints, JourneyTouch{SessionID: s.ID, StartedAt: s.At, Channel: s.Channel, Source: s.Source,
			Medium: s.Medium, Campaign: s.Campaign, Term: s.Term, LandingPage: s.LandingPath, Referrer: s.Referer,
			Credits: creditsFor(credits[s.ID])})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c, ok := credits[""]; ok { // no touchpoint in the window: the synthetic Direct touch
		j.Touchpoints = append(j.Touchpoints, JourneyTouch{StartedAt: conv.At, Channel: model.Direct, Source: "(direct)",
			Medium: "(none)", Credits: creditsFor(c)})
	}
	return j, nil
}

func creditsFor(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(model.Models))
	for _, name := range model.Models {
		out[name] = m[name]
	}
	return out
}

// pickConversion prefers the latest lead, then the latest conversion.
func pickConversion(cs []Conversion) Conversion {
	sort.Slice(cs, func(i, j int) bool { return cs[i].At.After(cs[j].At) })
	for _, c := range cs {
		if c.Type == "lead" {
			return c
		}
	}
	return cs[0]
}

func journeyConversion(c Conversion) JourneyConversion {
	return JourneyConversion{ConversionID: c.ID, Type: c.Type, LeadType: c.LeadType, OccurredAt: c.At, Value: c.Value, Currency: c.Currency}
}
