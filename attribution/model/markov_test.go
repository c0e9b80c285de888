package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// path is one journey as a test writes it: its channels, oldest first, and whether
// it ended in a conversion.
type path struct {
	Channels  []string
	Converted bool
}

// counted is Journeys with ps added.
func counted(ps []path) *Journeys {
	var j Journeys
	for _, p := range ps {
		j.Add(p.Channels, p.Converted)
	}
	return &j
}

// paths builds journeys from "A > B > conv; B > null; ...".
func paths(t testing.TB, s string) []path {
	t.Helper()
	var ps []path
	for _, j := range strings.Split(s, ";") {
		steps := strings.Split(j, ">")
		var p path
		for i, st := range steps {
			st = strings.TrimSpace(st)
			if i == len(steps)-1 {
				switch st {
				case "conv":
					p.Converted = true
				case "null":
				default:
					t.Fatalf("journey %q must end in conv or null", j)
				}
				continue
			}
			p.Channels = append(p.Channels, st)
		}
		ps = append(ps, p)
	}
	return ps
}

func TestMarkov(t *testing.T) {
	f := func(journeys, want string) {
		t.Helper()
		if got := weightsString(Markov(counted(paths(t, journeys)))); got != want {
			t.Errorf("%q: got %s, want %s", journeys, got, want)
		}
	}

	// The worked example of docs/attribution.md.
	// Transitions: start -> Organic Search 2/4, Paid Social 1/4, Email 1/4;
	// Organic Search -> Paid Social 1/2, null 1/2; Paid Social -> Email 1;
	// Email -> conv 2/3, null 1/3.
	// Conversion probability from each state: Email 2/3, Paid Social 2/3,
	// Organic Search 1/2 * 2/3 = 1/3; start 1/2*1/3 + 1/4*2/3 + 1/4*2/3 = 1/2.
	// Without Organic Search: 0 + 1/6 + 1/6 = 1/3, effect 1 - (1/3)/(1/2) = 1/3.
	// Without Paid Social: Organic Search 0, start 0 + 0 + 1/6, effect 1 - 1/3 = 2/3.
	// Without Email: nothing converts, effect 1.
	// Effects add up to 2: weights 1/6, 1/3, 1/2.
	f("Organic Search > Paid Social > Email > conv; Organic Search > null; Paid Social > Email > null; Email > conv",
		"Email=0.5 Organic Search=0.166667 Paid Social=0.333333")

	// A loop: start -> A 1/2, B 1/2; A -> B 1/2, conv 1/2; B -> A 1/2, null 1/2.
	// x_A = 1/2 x_B + 1/2, x_B = 1/2 x_A: x_A = 2/3, x_B = 1/3, start 1/2.
	// Without A: 0, effect 1. Without B: x_A = 1/2, start 1/4, effect 1/2.
	f("A > B > A > conv; B > null", "A=0.666667 B=0.333333")

	// Repeating a channel (a self-loop) changes nothing.
	f("A > A > A > conv; B > null", "A=1 B=0")
	f("A > conv; B > null", "A=1 B=0")

	// A channel that never leads to a conversion gets weight 0 but is listed.
	f("A > conv; A > B > null; B > null", "A=1 B=0")

	// Two channels on every converting path, in either order, weigh the same.
	f("A > B > conv; B > A > conv", "A=0.5 B=0.5")

	// Adding "A > null": start -> A 2/3, B 1/3; A -> B, conv, null 1/3 each;
	// B -> conv 1/2, A 1/2. x_A = 1/3 x_B + 1/3, x_B = 1/2 + 1/2 x_A:
	// x_A = 3/5, x_B = 4/5, start 2/3*3/5 + 1/3*4/5 = 2/3.
	// Without A: x_B = 1/2, start 1/6, effect 3/4.
	// Without B: x_A = 1/3, start 2/9, effect 2/3. Weights 9/17 and 8/17.
	f("A > B > conv; B > A > conv; A > null", "A=0.529412 B=0.470588")

	// A journey without touches converts without any channel.
	// start -> conv 1/2, A 1/2; A -> conv 1. Without A: 1/2, effect 1/2: normalised 1.
	f("conv; A > conv", "A=1")

	// Nothing converted: no weights.
	f("A > null; B > A > null", "")
	f("null", "")
}

// TestMarkovAgreesWithIteration compares the eliminated solution with the
// absorption probabilities found by iterating the chain to convergence.
func TestMarkovAgreesWithIteration(t *testing.T) {
	channels := []string{"A", "B", "C", "D", "E"}
	for seed := uint64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		var ps []path
		for range 1 + rng.IntN(40) {
			var p path
			for range rng.IntN(6) {
				p.Channels = append(p.Channels, channels[rng.IntN(len(channels))])
			}
			p.Converted = rng.IntN(2) == 0
			ps = append(ps, p)
		}
		got := Markov(counted(ps))
		want := iteratedWeights(ps)
		if len(got) != len(want) {
			t.Fatalf("seed %d: got %v, want %v", seed, got, want)
		}
		for ch, w := range want {
			if math.Abs(got[ch]-w) > 1e-9 {
				t.Fatalf("seed %d channel %s: got %v, want %v (all: %v vs %v)", seed, ch, got[ch], w, got, want)
			}
		}
	}
}

// TestMarkovIsExactlyRepeatable: the same journeys give the same weights to the last
// bit, in whatever order they are counted, so that a rebuild over unchanged data writes
// unchanged credit.
func TestMarkovIsExactlyRepeatable(t *testing.T) {
	channels := []string{"direct", "organic_search", "paid_search", "email", "organic_social", "referral", "display", "affiliates"}
	rng := rand.New(rand.NewPCG(7, 7))
	var ps []path
	for range 5000 {
		var p path
		for range 1 + rng.IntN(5) {
			p.Channels = append(p.Channels, channels[rng.IntN(len(channels))])
		}
		p.Converted = rng.IntN(3) == 0
		ps = append(ps, p)
	}
	want := Markov(counted(ps))
	for try := range 50 {
		rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		got := Markov(counted(ps))
		for ch, w := range want {
			if got[ch] != w {
				t.Fatalf("try %d: channel %s weighs %v, first %v", try, ch, got[ch], w)
			}
		}
	}
}

// iteratedWeights is Markov computed the slow way: x <- Qx + r until it
// stops changing, once per removed channel.
func iteratedWeights(ps []path) ChannelWeights {
	const start, conv, null = "(start)", "(conv)", "(null)"
	next := map[string]map[string]float64{}
	out := map[string]float64{}
	for _, p := range ps {
		steps := append(append([]string{start}, p.Channels...), null)
		if p.Converted {
			steps[len(steps)-1] = conv
		}
		for i := 0; i+1 < len(steps); i++ {
			if next[steps[i]] == nil {
				next[steps[i]] = map[string]float64{}
			}
			next[steps[i]][steps[i+1]]++
			out[steps[i]]++
		}
	}
	prob := func(removed string) float64 {
		x := map[string]float64{conv: 1}
		for range 100000 {
			changed := 0.0
			for s, to := range next {
				if s == removed {
					continue
				}
				v := 0.0
				for t, c := range to {
					if t != removed {
						v += c / out[s] * x[t]
					}
				}
				changed = math.Max(changed, math.Abs(v-x[s]))
				x[s] = v
			}
			if changed < 1e-15 {
				break
			}
		}
		return x[start]
	}
	base := prob("")
	w := ChannelWeights{}
	if base == 0 {
		return w
	}
	sum := 0.0
	for s := range out {
		if s == start {
			continue
		}
		e := math.Max(0, 1-prob(s)/base)
		w[s] = e
		sum += e
	}
	for s := range w {
		if sum > 0 {
			w[s] /= sum
		}
	}
	return w
}

func ExampleMarkov() {
	var journeys Journeys
	journeys.Add([]string{"Organic Search", "Paid Social", "Email"}, true)
	journeys.Add([]string{"Organic Search"}, false)
	journeys.Add([]string{"Paid Social", "Email"}, false)
	journeys.Add([]string{"Email"}, true)
	weights := Markov(&journeys)
	fmt.Println(weightsString(weights))

	touches := []Touch{
		{SessionID: "s1", Channel: "Organic Search", At: convAt.AddDate(0, 0, -3)},
		{SessionID: "s2", Channel: "Email", At: convAt.AddDate(0, 0, -1)},
	}
	credits, _ := Assign(DataDriven, touches, Conversion{ID: "c1", At: convAt, Value: 200}, weights)
	for _, c := range credits {
		fmt.Printf("%s %s credit %.2f revenue %.2f\n", c.Touch.SessionID, c.Touch.Channel, c.Credit, 200*c.Credit)
	}
	// Output:
	// Email=0.5 Organic Search=0.166667 Paid Social=0.333333
	// s1 Organic Search credit 0.25 revenue 50.00
	// s2 Email credit 0.75 revenue 150.00
}
