// Package model holds Touchpoint's attribution models: pure functions that
// split the credit for one conversion over the touchpoints (sessions) that led
// to it. Reading touchpoints and writing attributions is the engine's job.
package model

import (
	"fmt"
	"math"
	"time"
)

// Model names, as the reports API and the analysts' attributions_current view name them.
const (
	FirstClick    = "first_click"
	LastClick     = "last_click"
	LastNonDirect = "last_non_direct"
	Linear        = "linear"
	TimeDecay     = "time_decay"
	PositionBased = "position_based"
	DataDriven    = "data_driven"
)

// Models lists every model name in the order of the specification.
var Models = []string{FirstClick, LastClick, LastNonDirect, Linear, TimeDecay, PositionBased, DataDriven}

// CreditColumn is the touch_credits column holding the credit of model m (a name of
// Models), and "" for any other name, so that a query built with it fails rather than
// reads another column.
func CreditColumn(m string) string {
	for _, x := range Models {
		if x == m {
			return "credit_" + m
		}
	}
	return ""
}

// CreditColumns lists the touch_credits column of each model, in the order of Models.
var CreditColumns = func() []string {
	out := make([]string, len(Models))
	for i, m := range Models {
		out[i] = CreditColumn(m)
	}
	return out
}()

// Direct is the channel of sessions without a source (docs/channels.md, rule 1).
const Direct = "Direct"

// NoTouchpoint is the channel, source, medium, campaign and term of the touch that takes
// the credit of a conversion without any touchpoint in its lookback window: an explicit
// row in every report, never a visit that did not happen.
const NoTouchpoint = "(no touchpoint)"

// TimeDecayHalfLife is the age at which a touch weighs half as much as a
// touch at the moment of conversion in the time_decay model.
const TimeDecayHalfLife = 7 * 24 * time.Hour

// Touch is one touchpoint: a (non-bot) session of the converting person.
type Touch struct {
	SessionID string
	At        time.Time
	Channel   string // channel name of docs/channels.md, Direct for direct sessions
	Source    string
	Medium    string
	Campaign  string
	Term      string
}

// Credit is the share of a conversion given to one touch.
type Credit struct {
	Touch  Touch
	Credit float64
}

// Conversion is what the credit is assigned for.
type Conversion struct {
	ID    string
	At    time.Time
	Value float64
}

// Assign returns the credit per touch for one model. touches are expected in
// the order Window returns them (oldest first). Credits keep that order, are
// > 0, and add up to exactly 1 when summed in order; touches without credit
// are omitted. weights are only read by the data_driven model.
func Assign(model string, touches []Touch, conv Conversion, weights ChannelWeights) ([]Credit, error) {
	return AppendAssign(nil, model, touches, conv, weights)
}

// AppendAssign is Assign appending the credits to dst: a rebuild assigns millions,
// and Assign's results were a third of the bytes it allocated.
func AppendAssign(dst []Credit, model string, touches []Touch, conv Conversion, weights ChannelWeights) ([]Credit, error) {
	switch model {
	case FirstClick, LastClick, LastNonDirect, Linear, TimeDecay, PositionBased, DataDriven:
	default:
		return dst, fmt.Errorf("unknown attribution model %q", model)
	}
	n := len(touches)
	if n == 0 {
		return dst, fmt.Errorf("cannot assign %s credit for conversion %q: no touches", model, conv.ID)
	}

	whole := func(t Touch) []Credit { return append(dst, Credit{Touch: t, Credit: 1}) }
	switch model {
	case FirstClick:
		return whole(touches[0]), nil
	case LastClick:
		return whole(touches[n-1]), nil
	case LastNonDirect:
		for i := n - 1; i >= 0; i-- {
			if touches[i].Channel != Direct {
				return whole(touches[i]), nil
			}
		}
		return whole(touches[n-1]), nil
	}

	// The fractional models write raw weights after dst and normalise in place.
	start := len(dst)
	for i := range touches {
		dst = append(dst, Credit{Touch: touches[i]})
	}
	credits := dst[start:]
	switch model {
	case Linear:
		equal(credits)
	case TimeDecay:
		timeDecay(credits)
	case PositionBased:
		positionBased(credits)
	case DataDriven:
		if !channelWeighted(credits, weights) {
			equal(credits)
		}
	}
	return dst[:start+len(normalise(credits))], nil
}

func equal(credits []Credit) {
	for i := range credits {
		credits[i].Credit = 1
	}
}

// timeDecay weighs each touch 2^(-Δt/7d), Δt = conversion time - touch time.
// Ages are taken relative to the newest touch instead of the conversion: after
// normalisation the result is the same, and a very long lookback cannot
// underflow every weight to zero.
func timeDecay(credits []Credit) {
	newest := credits[0].Touch.At
	for i := 1; i < len(credits); i++ {
		if credits[i].Touch.At.After(newest) {
			newest = credits[i].Touch.At
		}
	}
	for i := range credits {
		age := newest.Sub(credits[i].Touch.At)
		credits[i].Credit = math.Exp2(-age.Seconds() / TimeDecayHalfLife.Seconds())
	}
}

// positionBased gives 40% to the first and the last touch and shares 20%
// evenly between the touches in between; one touch gets all, two get half.
func positionBased(credits []Credit) {
	n := len(credits)
	switch n {
	case 1:
		credits[0].Credit = 1
	case 2:
		credits[0].Credit, credits[1].Credit = 0.5, 0.5
	default:
		middle := 0.2 / float64(n-2)
		for i := 1; i < n-1; i++ {
			credits[i].Credit = middle
		}
		credits[0].Credit, credits[n-1].Credit = 0.4, 0.4
	}
}

// channelWeighted gives each touch its channel's data-driven weight. It
// reports false when no touch has a usable (positive, finite) weight.
func channelWeighted(credits []Credit, weights ChannelWeights) bool {
	found := false
	for i := range credits {
		w := weights[credits[i].Touch.Channel]
		if !(w > 0) || math.IsInf(w, 1) {
			w = 0
		}
		credits[i].Credit = w
		found = found || w > 0
	}
	return found
}

// normalise scales the non-negative weights to fractions, makes them add up
// to exactly 1 and drops zero-credit touches.
func normalise(credits []Credit) []Credit {
	total := 0.0
	for i := range credits {
		total += credits[i].Credit
	}
	for i := range credits {
		credits[i].Credit /= total
	}
	settle(credits)
	kept := credits[:0]
	for _, c := range credits {
		if c.Credit > 0 {
			kept = append(kept, c)
		}
	}
	return kept
}

// settle gives the rounding remainder to the last touch with credit, so that
// the in-order float sum is exactly 1 (s + fl(1-s) == 1 for 0 <= s <= 1).
// Should the others already add up to more than 1 (a last share smaller than
// the rounding error), that touch gets nothing and the one before it settles.
func settle(credits []Credit) {
	for last := len(credits) - 1; last >= 0; last-- {
		if credits[last].Credit == 0 {
			continue
		}
		rest := 0.0
		for i := 0; i < last; i++ {
			rest += credits[i].Credit
		}
		if rest <= 1 {
			credits[last].Credit = 1 - rest
			return
		}
		credits[last].Credit = 0
	}
}
