package model

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// ChannelWeights are the data-driven weights per channel: Markov removal
// effects normalised to add up to 1.
type ChannelWeights map[string]float64

// Journeys counts what Markov needs of a site's journeys: how often each state
// follows another. It keeps no journey, so a site's can be counted as they are read.
type Journeys struct {
	index  map[string]int32 // channel -> its state
	counts [][]float64      // [from+specialStates][to+specialStates] -> transitions; see the states below
}

// The states beside the channels' (0, 1, ...), as Journeys counts them.
const (
	startState int32 = -1 - iota
	conversionState
	nullState
	specialStates = 3 // the states above; counts' rows and columns start with them
)

// Add counts one journey: the channels of its touches, oldest first, and whether it
// ended in a conversion.
func (j *Journeys) Add(channels []string, converted bool) {
	if j.index == nil {
		j.index = map[string]int32{}
	}
	from := startState
	for _, ch := range channels {
		to, ok := j.index[ch]
		if !ok {
			to = int32(len(j.index))
			j.index[ch] = to
		}
		j.count(from, to)
		from = to
	}
	if converted {
		j.count(from, conversionState)
	} else {
		j.count(from, nullState)
	}
}

// count counts one transition. The counts are a table, grown as states appear: a site's
// journeys add tens of millions of transitions between a few dozen states, and adding
// journeys took a half more time with the counts in a map.
func (j *Journeys) count(from, to int32) {
	f, t := int(from)+specialStates, int(to)+specialStates
	if f >= len(j.counts) {
		j.counts = append(j.counts, make([][]float64, f+1-len(j.counts))...)
	}
	if row := j.counts[f]; t >= len(row) {
		j.counts[f] = append(row, make([]float64, t+1-len(row))...)
	}
	j.counts[f][t]++
}

// each calls f with every transition counted and its count.
func (j *Journeys) each(f func(from, to int32, n float64)) {
	for from, row := range j.counts {
		for to, n := range row {
			if n > 0 {
				f(int32(from-specialStates), int32(to-specialStates), n)
			}
		}
	}
}

// String lists the counted transitions, one per line and sorted, as "from > to: count"
// with the states (start), (conversion) and (null) beside the channels.
func (j *Journeys) String() string {
	name := map[int32]string{startState: "(start)", conversionState: "(conversion)", nullState: "(null)"}
	for ch, i := range j.index {
		name[i] = ch
	}
	var lines []string
	j.each(func(from, to int32, n float64) {
		lines = append(lines, fmt.Sprintf("%s > %s: %g", name[from], name[to], n))
	})
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// Markov computes data-driven channel weights from all journeys of a site.
//
// The journeys form a first-order Markov chain over the states start, one per
// channel, conversion and null (no conversion); transition probabilities are
// the observed transition counts divided by the count of leaving the state.
// P(conversion) is the probability of being absorbed in conversion when
// starting at start. The removal effect of a channel is
// 1 - P(conversion with the channel removed) / P(conversion), where removing a
// channel sends every transition into it to null. Effects are normalised to
// add up to 1. Every channel seen in a journey is in the result, possibly with
// weight 0. Without any conversion the result is empty.
//
// Absorption probabilities are exact: the linear system (I - Q) x = r (Q the
// transitions between channels, r the transitions into conversion) is solved
// by Gaussian elimination with partial pivoting, once for the full chain and
// once per removed channel.
func Markov(j *Journeys) ChannelWeights {
	// The states go in the order of the channels' names, whatever order the journeys came
	// in, so the same journeys always give the same weights to the last bit: a rebuild
	// must not change credit that nothing changed.
	names := slices.Sorted(maps.Keys(j.index))
	k := len(names)
	rowOf := make([]int32, k) // a channel's state -> its row
	for r, ch := range names {
		rowOf[j.index[ch]] = int32(r)
	}
	// Rows 0..k-1 are channels, row k is start; columns add conversion and null.
	conv, null := k, k+1
	counts := make([][]float64, k+1)
	for i := range counts {
		counts[i] = make([]float64, k+2)
	}
	state := func(s int32) int32 {
		switch s {
		case startState:
			return int32(k)
		case conversionState:
			return int32(conv)
		case nullState:
			return int32(null)
		}
		return rowOf[s]
	}
	j.each(func(from, to int32, n float64) {
		counts[state(from)][state(to)] += n
	})
	for _, row := range counts {
		total := 0.0
		for _, c := range row {
			total += c
		}
		if total > 0 {
			for j := range row {
				row[j] /= total
			}
		}
	}

	base := conversionProbability(counts, -1)
	if !(base > 0) {
		return ChannelWeights{}
	}
	weights := make(ChannelWeights, k)
	sum := 0.0
	for i, ch := range names {
		effect := 1 - conversionProbability(counts, i)/base
		// Removing a state can only lower the probability; anything below
		// zero or at the level of rounding noise is no effect.
		if effect < 1e-12 {
			effect = 0
		}
		weights[ch] = effect
		sum += effect
	}
	if sum > 0 {
		for ch := range weights {
			weights[ch] /= sum
		}
	}
	return weights
}

// conversionProbability returns the probability of reaching conversion from
// start, with channel state removed (-1: none) redirected to null.
// p holds the transition probabilities as built by Markov.
func conversionProbability(p [][]float64, removed int) float64 {
	k := len(p) - 1
	conv := k
	// x_i = sum_j p[i][j] x_j + p[i][conv] for channel i; x_removed = 0.
	a := make([][]float64, k)
	b := make([]float64, k)
	for i := 0; i < k; i++ {
		a[i] = make([]float64, k)
		if i == removed {
			a[i][i] = 1
			continue
		}
		for j := 0; j < k; j++ {
			if j != removed {
				a[i][j] = -p[i][j]
			}
		}
		a[i][i]++
		b[i] = p[i][conv]
	}
	x := solve(a, b)
	start := p[k]
	prob := start[conv]
	for j := 0; j < k; j++ {
		if j != removed {
			prob += start[j] * x[j]
		}
	}
	return prob
}

// solve solves a x = b in place by Gaussian elimination with partial
// pivoting. a is I - Q of an absorbing chain and so not singular; a zero
// pivot (a state that cannot be left, which journeys cannot produce) is
// treated as a state that never converts.
func solve(a [][]float64, b []float64) []float64 {
	n := len(b)
	for col := 0; col < n; col++ {
		pivot := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[pivot][col]) {
				pivot = r
			}
		}
		a[col], a[pivot] = a[pivot], a[col]
		b[col], b[pivot] = b[pivot], b[col]
		if a[col][col] == 0 {
			continue
		}
		for r := col + 1; r < n; r++ {
			f := a[r][col] / a[col][col]
			if f == 0 {
				continue
			}
			for c := col; c < n; c++ {
				a[r][c] -= f * a[col][c]
			}
			b[r] -= f * b[col]
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		if a[r][r] == 0 {
			continue
		}
		s := b[r]
		for c := r + 1; c < n; c++ {
			s -= a[r][c] * x[c]
		}
		x[r] = s / a[r][r]
	}
	return x
}
