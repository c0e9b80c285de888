package rules

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"touchpoint/internal/glob"
)

// Activity is one thing a person did (an event) or a conversion recorded for them.
type Activity struct {
	At         time.Time
	Conversion bool   // a conversion (lead, sale, stage, goal) rather than an event
	Type       string // the event type, or the conversion type
	LeadType   string // of a conversion
	Path       string // of an event: the page's path
	Track      string // of a track event: its name
	FormID     string // of a form_submit
	FormName   string
	Props      string // a flat JSON object of properties, or ""
	Traits     string // a flat JSON object of traits (identify calls, forms), or ""
}

// Event types the rules know.
const (
	pageview   = "pageview"
	formSubmit = "form_submit"
	trackEvent = "track"
	callEvent  = "call"
)

// Kinds of reasons.
const (
	KindEngagement    = "engagement"     // an engagement rule's points
	KindEngagementCap = "engagement_cap" // points over engagement_max, taken away
	KindDecay         = "decay"          // engagement lost to inactivity
	KindFit           = "fit"            // a fit rule's points
	KindFitCap        = "fit_cap"        // points over fit_max, taken away
)

// Reason is one part of a score; the points of a score's reasons add up to it.
type Reason struct {
	Kind   string  `json:"kind"`
	Rule   string  `json:"rule,omitempty"`
	Points float64 `json:"points"`
	// Times is how many activities matched an engagement rule (also those past its cap).
	Times int `json:"times,omitempty"`
	// Value is the trait or property value a fit rule matched.
	Value string `json:"value,omitempty"`
}

// Score is a person's score. Figures and reasons are rounded to cents of a point.
type Score struct {
	Engagement float64  `json:"engagement"`
	Fit        float64  `json:"fit"`
	Score      float64  `json:"score"`
	Reasons    []Reason `json:"reasons"`
	// LastActivity is the time of the person's latest activity; EngagementLast the
	// engagement right after it, which decays from then on.
	LastActivity   time.Time `json:"last_activity"`
	EngagementLast float64   `json:"-"`
	// QualifiedAt is the first time the person was a lead with figures reaching the MQL
	// threshold (zero: never).
	QualifiedAt time.Time `json:"-"`
	// DecaysAt is when decay next lowers the engagement (zero: it does not).
	DecaysAt time.Time `json:"-"`
}

// DecayPeriod is how long without activity it takes engagement to lose DecayPercent.
const DecayPeriod = 30 * 24 * time.Hour

// Evaluator scores people with one set of rules; it reuses its memory from one person to
// the next and is not safe for concurrent use.
type Evaluator struct {
	r             *Rules
	earned        []float64
	times         []int
	traits, props map[string]string // latest values of the keys fit rules read
	parsed        map[string]json.RawMessage
}

// Evaluator returns an evaluator of r (validated).
func (r *Rules) Evaluator() *Evaluator {
	return &Evaluator{r: r, earned: make([]float64, len(r.Engagement)), times: make([]int, len(r.Engagement)),
		traits: map[string]string{}, props: map[string]string{}}
}

// Score scores the activities of one person, in time order (events before conversions
// at the same time), as of now. At each activity, engagement first decays by the whole
// periods of inactivity since the one before, then takes the points of every rule the
// activity matches (within each rule's cap) and is held to engagement_max. The person
// qualifies at the first activity after which they are a lead and their engagement
// and fit reach the MQL threshold.
func (ev *Evaluator) Score(acts []Activity, now time.Time) Score {
	r := ev.r
	clear(ev.earned)
	clear(ev.times)
	clear(ev.traits)
	clear(ev.props)
	var e, capped, fit float64
	var last, qualified time.Time
	lead, fitKnown := false, true
	for i := range acts {
		a := &acts[i]
		if !last.IsZero() {
			e = r.decay(e, a.At.Sub(last))
		}
		last = a.At
		var props map[string]string
		if r.needProps && a.Props != "" && a.Props != "{}" {
			props = ev.flat(a.Props)
			if ev.keep(ev.props, props, r.propKeys) {
				fitKnown = false
			}
		}
		if r.needTraits && a.Traits != "" && a.Traits != "{}" {
			if ev.keep(ev.traits, ev.flat(a.Traits), r.traitKeys) {
				fitKnown = false
			}
		}
		for j := range r.Engagement {
			rule := &r.Engagement[j]
			if !rule.matches(a) || !propsMatch(rule.props, props) {
				continue
			}
			ev.times[j]++
			if rule.Once && ev.times[j] > 1 {
				continue
			}
			pts := rule.Points
			if rule.Max > 0 {
				pts = math.Max(-rule.Max, math.Min(rule.Max, ev.earned[j]+pts)) - ev.earned[j]
			}
			ev.earned[j] += pts
			e += pts
		}
		if r.EngagementMax > 0 && e > r.EngagementMax {
			capped += e - r.EngagementMax
			e = r.EngagementMax
		}
		if a.Conversion && a.Type == "lead" {
			lead = true
		}
		if lead && r.MQL != nil && qualified.IsZero() {
			if !fitKnown {
				fit, fitKnown = ev.fit(nil), true
			}
			if r.MQL.met(round2(e), fit) {
				qualified = a.At
			}
		}
	}
	s := Score{LastActivity: last, EngagementLast: e, QualifiedAt: qualified, Reasons: []Reason{}}
	for j := range r.Engagement {
		if ev.times[j] > 0 {
			s.Reasons = append(s.Reasons, Reason{Kind: KindEngagement, Rule: r.Engagement[j].Name, Points: round2(ev.earned[j]), Times: ev.times[j]})
		}
	}
	if capped > 0 {
		s.Reasons = append(s.Reasons, Reason{Kind: KindEngagementCap, Points: -round2(capped)})
	}
	s.Fit = ev.fit(&s.Reasons)
	return r.Decayed(s, now)
}

// Decayed is s as of now: its engagement decayed by the whole periods of inactivity since
// its last activity, the decay reason and the score with it. It gives what Score gives for
// the same activities at now, without reading them again.
func (r *Rules) Decayed(s Score, now time.Time) Score {
	e := s.EngagementLast
	if !s.LastActivity.IsZero() && now.After(s.LastActivity) {
		e = r.decay(e, now.Sub(s.LastActivity))
	}
	s.Engagement = round2(e)
	// Decay is what the engagement lacks of its other reasons' points; as a difference
	// of rounded figures, the reasons always add up to the score.
	reasons := make([]Reason, 0, len(s.Reasons)+1)
	sum, at := 0.0, 0
	for _, x := range s.Reasons {
		switch x.Kind {
		case KindDecay:
			continue
		case KindEngagement, KindEngagementCap:
			sum += x.Points
			at = len(reasons) + 1
		}
		reasons = append(reasons, x)
	}
	if d := round2(s.Engagement - sum); d != 0 {
		reasons = append(reasons[:at], append([]Reason{{Kind: KindDecay, Points: d}}, reasons[at:]...)...)
	}
	s.Reasons = reasons
	s.Score = round2(s.Engagement + s.Fit)
	s.DecaysAt = time.Time{}
	if r.DecayPercent > 0 && s.EngagementLast != 0 && !s.LastActivity.IsZero() {
		periods := int64(0)
		if now.After(s.LastActivity) {
			periods = int64(now.Sub(s.LastActivity) / DecayPeriod)
		}
		s.DecaysAt = s.LastActivity.Add(time.Duration(periods+1) * DecayPeriod)
	}
	return s
}

// decay is engagement e after gap without activity.
func (r *Rules) decay(e float64, gap time.Duration) float64 {
	periods := gap / DecayPeriod
	if r.DecayPercent == 0 || periods <= 0 || e == 0 {
		return e
	}
	return e * math.Pow(1-r.DecayPercent/100, float64(periods))
}

func (t *Threshold) met(engagement, fit float64) bool {
	return (t.Score == nil || engagement+fit >= *t.Score) && (t.Engagement == nil || engagement >= *t.Engagement) &&
		(t.Fit == nil || fit >= *t.Fit)
}

// fit is the fit points of the latest values; with reasons it appends the reasons.
func (ev *Evaluator) fit(reasons *[]Reason) float64 {
	r := ev.r
	total := 0.0
	for i := range r.Fit {
		f := &r.Fit[i]
		v := ev.traits[f.Trait]
		if f.Prop != "" {
			v = ev.props[f.Prop]
		}
		if v == "" || !f.matches(v) {
			continue
		}
		total += f.Points
		if reasons != nil {
			*reasons = append(*reasons, Reason{Kind: KindFit, Rule: f.Name, Points: round2(f.Points), Value: v})
		}
	}
	if r.FitMax > 0 && total > r.FitMax {
		if reasons != nil {
			sum := 0.0
			for _, x := range *reasons {
				if x.Kind == KindFit {
					sum += x.Points
				}
			}
			*reasons = append(*reasons, Reason{Kind: KindFitCap, Points: round2(r.FitMax - sum)})
		}
		total = r.FitMax
	}
	return round2(total)
}

// matches reports whether the activity meets the rule's conditions but its props.
func (e *EngagementRule) matches(a *Activity) bool {
	if a.Conversion {
		if e.event != "" || e.path != "" || e.form != "" || e.track != "" {
			return false
		}
		return (!e.Call || strings.EqualFold(a.LeadType, "call")) && matchFold(e.conversion, a.Type) && matchFold(e.leadType, a.LeadType)
	}
	if e.conversion != "" || e.leadType != "" || e.Call && a.Type != callEvent {
		return false
	}
	if e.form != "" && (a.Type != formSubmit || !matchFold(e.form, a.FormID) && !matchFold(e.form, a.FormName)) {
		return false
	}
	if e.track != "" && (a.Type != trackEvent || !matchFold(e.track, a.Track)) {
		return false
	}
	// A page alone counts visits of it: its pageviews.
	if e.event == "" && e.path != "" && e.form == "" && e.track == "" && !e.Call && a.Type != pageview {
		return false
	}
	return matchFold(e.event, a.Type) && matchFold(e.path, a.Path)
}

// matchFold matches s against a lower-cased pattern without regard to case; an empty
// pattern matches everything.
func matchFold(p, s string) bool {
	return p == "" || glob.Match(p, strings.ToLower(s))
}

func propsMatch(ps []propPattern, props map[string]string) bool {
	for _, p := range ps {
		v, ok := props[p.key]
		if !ok || !glob.Match(p.pattern, strings.ToLower(v)) {
			return false
		}
	}
	return true
}

// matches reports whether a value meets the rule's condition.
func (f *FitRule) matches(v string) bool {
	switch {
	case len(f.Equals) > 0:
		v = strings.TrimSpace(v)
		for _, x := range f.Equals {
			if strings.EqualFold(v, strings.TrimSpace(x)) {
				return true
			}
		}
		return false
	case f.match != "":
		return glob.Match(f.match, strings.ToLower(v))
	case f.AtLeast != nil || f.AtMost != nil:
		lo, hi, ok := Number(v)
		return ok && (f.AtLeast == nil || lo >= *f.AtLeast) && (f.AtMost == nil || hi <= *f.AtMost)
	}
	return true
}

// Number reads a value as a number or a range of numbers, as forms give them: "25",
// "1,500", "11-50", "11 – 50", "500+" (no upper end). A range meets a condition only
// as a whole.
func Number(v string) (lo, hi float64, ok bool) {
	v = strings.ReplaceAll(strings.TrimSpace(v), ",", "")
	if x, err := strconv.ParseFloat(v, 64); err == nil && finite(x) {
		return x, x, true
	}
	if a, ok := strings.CutSuffix(v, "+"); ok {
		if x, err := strconv.ParseFloat(strings.TrimSpace(a), 64); err == nil && finite(x) {
			return x, math.Inf(1), true
		}
		return 0, 0, false
	}
	for _, sep := range []string{"-", "–", "—", " to "} {
		a, b, found := strings.Cut(v[min(1, len(v)):], sep) // a leading minus is a sign
		if !found {
			continue
		}
		a = v[:min(1, len(v))] + a
		x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
		y, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
		if err1 == nil && err2 == nil && finite(x) && finite(y) && x <= y {
			return x, y, true
		}
	}
	return 0, 0, false
}

// flat reads a flat JSON object into strings: a string as itself, a number or boolean as
// its JSON text; null, objects and arrays are left out. Bad JSON reads as nothing.
func (ev *Evaluator) flat(s string) map[string]string {
	clear(ev.parsed)
	if ev.parsed == nil {
		ev.parsed = map[string]json.RawMessage{}
	}
	if json.Unmarshal([]byte(s), &ev.parsed) != nil {
		return nil
	}
	out := make(map[string]string, len(ev.parsed))
	for k, raw := range ev.parsed {
		if len(raw) == 0 {
			continue
		}
		switch raw[0] {
		case '"':
			var v string
			if json.Unmarshal(raw, &v) == nil {
				out[k] = v
			}
		case '{', '[', 'n':
		default:
			out[k] = string(raw)
		}
	}
	return out
}

// keep copies the values of keys from src into dst; it reports whether any changed.
func (ev *Evaluator) keep(dst, src map[string]string, keys []string) bool {
	changed := false
	for _, k := range keys {
		if v, ok := src[k]; ok && strings.TrimSpace(v) != "" && dst[k] != v {
			dst[k] = v
			changed = true
		}
	}
	return changed
}

func round2(x float64) float64 {
	r := math.Round(x*100) / 100
	if r == 0 {
		return 0
	}
	return r
}
