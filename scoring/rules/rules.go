// Package rules holds a site's lead scoring rules and scores one person with them: points
// for what the person did (engagement, which fades while they are inactive) and for who
// they are (fit), the reasons behind the score, and when the score first qualified them as
// a marketing-qualified lead. Rules are data: the site file or PUT /api/v1/scoring gives
// them, nothing here is specific to one site.
package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Rules are a site's scoring rules.
type Rules struct {
	Engagement []EngagementRule `json:"engagement,omitempty"`
	// EngagementMax caps the engagement points in total (0: no cap).
	EngagementMax float64   `json:"engagement_max,omitempty"`
	Fit           []FitRule `json:"fit,omitempty"`
	// FitMax caps the fit points in total (0: no cap).
	FitMax float64 `json:"fit_max,omitempty"`
	// DecayPercent is the share of its engagement a person loses per 30 days without
	// activity.
	DecayPercent float64 `json:"decay_percent,omitempty"`
	// MQL is the threshold that qualifies a lead; nil records no MQL.
	MQL *Threshold `json:"mql,omitempty"`

	needProps, needTraits bool
	traitKeys, propKeys   []string // read by fit rules
}

// EngagementRule gives points for an activity that matches every condition it sets.
// String conditions are patterns ("*" for any characters) compared without regard to case.
type EngagementRule struct {
	Name string `json:"name"`
	// Of events: the event type, the page's path, the form (id or name) of a form_submit,
	// the name of a track event.
	Event string `json:"event,omitempty"`
	Path  string `json:"path,omitempty"`
	Form  string `json:"form,omitempty"`
	Track string `json:"track,omitempty"`
	// Call matches a call: a lead of lead_type call, or a call event.
	Call bool `json:"call,omitempty"`
	// Of conversions: the conversion type (lead, sale, a stage, a custom goal) and lead type.
	Conversion string `json:"conversion,omitempty"`
	LeadType   string `json:"lead_type,omitempty"`
	// Props are patterns for properties of the event or conversion.
	Props map[string]string `json:"props,omitempty"`
	// Points may be negative. Once counts only the first match; Max caps the points the
	// rule gives in total (0: no cap), on either side of zero.
	Points float64 `json:"points"`
	Once   bool    `json:"once,omitempty"`
	Max    float64 `json:"max,omitempty"`

	event, path, form, track, conversion, leadType string // lower-cased
	props                                          []propPattern
}

type propPattern struct{ key, pattern string }

// FitRule gives points when the latest value of a trait (identify calls and forms) or of
// a property (of events and conversions, e.g. a CRM's) meets its condition: one of
// Equals, a Match pattern, a number within AtLeast and AtMost, or, without any, any value.
type FitRule struct {
	Name    string   `json:"name"`
	Trait   string   `json:"trait,omitempty"`
	Prop    string   `json:"prop,omitempty"`
	Equals  Strings  `json:"equals,omitempty"`
	Match   string   `json:"match,omitempty"`
	AtLeast *float64 `json:"at_least,omitempty"`
	AtMost  *float64 `json:"at_most,omitempty"`
	Points  float64  `json:"points"`

	match string // lower-cased
}

// Threshold qualifies a lead whose figures reach every value it sets.
type Threshold struct {
	Score      *float64 `json:"score,omitempty"`
	Engagement *float64 `json:"engagement,omitempty"`
	Fit        *float64 `json:"fit,omitempty"`
}

// Strings is a list of strings that may be written as one string.
type Strings []string

// UnmarshalJSON reads "a" as ["a"].
func (s *Strings) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Strings{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("a string or a list of strings")
	}
	*s = many
	return nil
}

// Limits of a set of rules.
const (
	MaxRules       = 200
	maxPattern     = 1000
	maxName        = 100
	maxPoints      = 1e6
	maxProps       = 20
	eventSide      = "event, path, form, track"
	conversionSide = "conversion, lead_type"
)

// Parse reads rules from JSON and validates them.
func Parse(data []byte) (*Rules, error) {
	var r Rules
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("cannot read the scoring rules: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// UnmarshalJSON reads rules, refusing unknown fields (in the site file too): a misspelt
// condition would otherwise match every activity, a misspelt cap cap nothing.
func (r *Rules) UnmarshalJSON(data []byte) error {
	type plain Rules
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(r))
}

// Validate checks r and prepares it for scoring. A site file's rules are validated when
// the file is loaded, so a reload with bad rules keeps the old configuration.
func (r *Rules) Validate() error {
	if len(r.Engagement)+len(r.Fit) == 0 {
		return errors.New("scoring: give at least one engagement or fit rule")
	}
	if len(r.Engagement)+len(r.Fit) > MaxRules {
		return fmt.Errorf("scoring: at most %d rules", MaxRules)
	}
	names := map[string]bool{}
	name := func(kind string, i int, n string) error {
		switch {
		case strings.TrimSpace(n) == "":
			return fmt.Errorf("scoring: %s[%d]: a name is required (it is the reason shown with the score)", kind, i)
		case len(n) > maxName || !utf8.ValidString(n):
			return fmt.Errorf("scoring: %s[%d]: the name is valid UTF-8 of at most %d bytes", kind, i, maxName)
		case names[n]:
			return fmt.Errorf("scoring: %s[%d]: the name %q is used twice", kind, i, n)
		}
		names[n] = true
		return nil
	}
	r.needProps, r.needTraits, r.traitKeys, r.propKeys = false, false, nil, nil
	for i := range r.Engagement {
		e := &r.Engagement[i]
		if err := name("engagement", i, e.Name); err != nil {
			return err
		}
		if err := e.prepare(); err != nil {
			return fmt.Errorf("scoring: engagement rule %q: %w", e.Name, err)
		}
		if len(e.props) > 0 {
			r.needProps = true
		}
	}
	for i := range r.Fit {
		f := &r.Fit[i]
		if err := name("fit", i, f.Name); err != nil {
			return err
		}
		if err := f.prepare(); err != nil {
			return fmt.Errorf("scoring: fit rule %q: %w", f.Name, err)
		}
		if f.Trait != "" {
			r.needTraits = true
			r.traitKeys = appendNew(r.traitKeys, f.Trait)
		} else {
			r.needProps = true
			r.propKeys = appendNew(r.propKeys, f.Prop)
		}
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"engagement_max", r.EngagementMax}, {"fit_max", r.FitMax}} {
		if !finite(c.v) || c.v < 0 || c.v > maxPoints {
			return fmt.Errorf("scoring: %s is a number of points from 0 (no cap) to %g", c.name, float64(maxPoints))
		}
	}
	if !finite(r.DecayPercent) || r.DecayPercent < 0 || r.DecayPercent > 100 {
		return errors.New("scoring: decay_percent is from 0 (no decay) to 100")
	}
	if m := r.MQL; m != nil {
		if m.Score == nil && m.Engagement == nil && m.Fit == nil {
			return errors.New("scoring: mql sets at least one of score, engagement, fit")
		}
		for _, v := range []*float64{m.Score, m.Engagement, m.Fit} {
			if v != nil && (!finite(*v) || math.Abs(*v) > maxPoints) {
				return fmt.Errorf("scoring: mql thresholds are numbers of points up to %g", float64(maxPoints))
			}
		}
	}
	return nil
}

func appendNew(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// pattern checks one condition's pattern and returns it lower-cased.
func pattern(field, p string) (string, error) {
	if len(p) > maxPattern || !utf8.ValidString(p) {
		return "", fmt.Errorf("%s is valid UTF-8 of at most %d bytes", field, maxPattern)
	}
	return strings.ToLower(p), nil
}

func (e *EngagementRule) prepare() error {
	var err error
	for _, f := range []struct {
		name, in string
		out      *string
	}{{"event", e.Event, &e.event}, {"path", e.Path, &e.path}, {"form", e.Form, &e.form}, {"track", e.Track, &e.track},
		{"conversion", e.Conversion, &e.conversion}, {"lead_type", e.LeadType, &e.leadType}} {
		if *f.out, err = pattern(f.name, f.in); err != nil {
			return err
		}
	}
	events := e.event != "" || e.path != "" || e.form != "" || e.track != ""
	conversions := e.conversion != "" || e.leadType != ""
	switch {
	case !events && !conversions && !e.Call && len(e.Props) == 0:
		return fmt.Errorf("give at least one of %s, call, %s, props", eventSide, conversionSide)
	case events && conversions:
		return fmt.Errorf("%s are about events and %s about conversions: one rule cannot match both (use two rules)", eventSide, conversionSide)
	case e.form != "" && e.event != "" && !matchFold(e.event, formSubmit):
		return errors.New("form matches form_submit events: leave event out or make it form_submit")
	case e.track != "" && e.event != "" && !matchFold(e.event, trackEvent):
		return errors.New("track matches track events: leave event out or make it track")
	case e.form != "" && e.track != "":
		return errors.New("form and track match different events: use two rules")
	case e.event == "conversion":
		return errors.New(`conversions are matched with "conversion" (their type), not "event"`)
	}
	if len(e.Props) > maxProps {
		return fmt.Errorf("at most %d props", maxProps)
	}
	e.props = e.props[:0]
	for k, v := range e.Props {
		if k == "" || len(k) > maxName || !utf8.ValidString(k) {
			return fmt.Errorf("props: a property name is valid UTF-8 of 1 to %d bytes", maxName)
		}
		p, err := pattern("props."+k, v)
		if err != nil {
			return err
		}
		e.props = append(e.props, propPattern{k, p})
	}
	if !finite(e.Points) || e.Points == 0 || math.Abs(e.Points) > maxPoints {
		return fmt.Errorf("points is a number other than 0 (negative takes points away), at most %g either way", float64(maxPoints))
	}
	if !finite(e.Max) || e.Max < 0 || e.Max > maxPoints {
		return fmt.Errorf("max is a number of points from 0 (no cap) to %g", float64(maxPoints))
	}
	return nil
}

func (f *FitRule) prepare() error {
	if (f.Trait == "") == (f.Prop == "") {
		return errors.New("give one of trait or prop")
	}
	if k := f.Trait + f.Prop; len(k) > maxName || !utf8.ValidString(k) {
		return fmt.Errorf("a trait or property name is valid UTF-8 of at most %d bytes", maxName)
	}
	conditions := 0
	if len(f.Equals) > 0 {
		conditions++
		if len(f.Equals) > 100 {
			return errors.New("equals lists at most 100 values")
		}
		for _, v := range f.Equals {
			if len(v) > maxPattern || !utf8.ValidString(v) {
				return fmt.Errorf("an equals value is valid UTF-8 of at most %d bytes", maxPattern)
			}
		}
	}
	var err error
	if f.match, err = pattern("match", f.Match); err != nil {
		return err
	}
	if f.match != "" {
		conditions++
	}
	if f.AtLeast != nil || f.AtMost != nil {
		conditions++
		for _, v := range []*float64{f.AtLeast, f.AtMost} {
			if v != nil && !finite(*v) {
				return errors.New("at_least and at_most are numbers")
			}
		}
		if f.AtLeast != nil && f.AtMost != nil && *f.AtLeast > *f.AtMost {
			return errors.New("at_least is above at_most")
		}
	}
	if conditions > 1 {
		return errors.New("give one condition: equals, match, or at_least and at_most (none: any value)")
	}
	if !finite(f.Points) || f.Points == 0 || math.Abs(f.Points) > maxPoints {
		return fmt.Errorf("points is a number other than 0 (negative takes points away), at most %g either way", float64(maxPoints))
	}
	return nil
}

// JSON is the rules as stored and shown, in a canonical form: the same rules always give
// the same bytes.
func (r *Rules) JSON() []byte {
	b, err := json.Marshal(r)
	if err != nil { // only plain values: cannot happen
		panic(err)
	}
	return b
}
