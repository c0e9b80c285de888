package model

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// Weights of the worked Markov example (see TestMarkovWorkedExample).
var exampleWeights = ChannelWeights{"Organic Search": 1.0 / 6, "Paid Social": 1.0 / 3, "Email": 1.0 / 2}

func TestAssign(t *testing.T) {
	f := func(model, touches, want string) {
		t.Helper()
		window := Window(journey(t, touches), convAt, DefaultLookback)
		got, err := Assign(model, window, Conversion{ID: "c1", At: convAt, Value: 100}, exampleWeights)
		if err != nil {
			t.Fatalf("%s %q: %v", model, touches, err)
		}
		if s := creditsString(got); s != want {
			t.Errorf("%s %q: got %s, want %s", model, touches, s, want)
		}
	}

	f(FirstClick, "s1/Email/-1d", "s1=1")
	f(FirstClick, "s1/Email/-3d, s2/Direct/-1d", "s1=1")
	f(FirstClick, "s2/Direct/-1d, s1/Email/-3d", "s1=1")               // read out of order
	f(FirstClick, "s2/Email/-1d, s1/Direct/-1d", "s1=1")               // same time: session id decides
	f(FirstClick, "s1/Email/+1h, s2/Direct/-1d", "s2=1")               // after the conversion
	f(FirstClick, "s1/Email/-91d, s2/Direct/-1d", "s2=1")              // before the window
	f(FirstClick, "s1/Email/-90d, s2/Direct/-1d", "s2=1")              // window start is excluded
	f(FirstClick, "s1/Email/-2159h59m, s2/Direct/-1d", "s1=1")         // just inside
	f(FirstClick, "s1/Email/0s", "s1=1")                               // at the conversion counts
	f(FirstClick, "s1/Email/-100d, s2/Email/+1s", "(no touchpoint)=1") // none in window
	f(FirstClick, "", "(no touchpoint)=1")                             // no touch at all

	f(LastClick, "s1/Email/-1d", "s1=1")
	f(LastClick, "s1/Email/-3d, s2/Direct/-1d", "s2=1")
	f(LastClick, "s2/Direct/-1d, s1/Email/-3d", "s2=1")
	f(LastClick, "s1/Email/-1d, s2/Direct/-1d", "s2=1")
	f(LastClick, "s1/Email/-3d, s2/Direct/+1h", "s1=1")
	f(LastClick, "s1/Email/-3d, s2/Direct/-95d", "s1=1")
	f(LastClick, "s1/Email/-95d", "(no touchpoint)=1")

	f(LastNonDirect, "s1/Email/-1d", "s1=1")
	f(LastNonDirect, "s1/Email/-3d, s2/Direct/-1d", "s1=1")
	f(LastNonDirect, "s1/Email/-3d, s2/Paid Social/-2d, s3/Direct/-1d", "s2=1")
	f(LastNonDirect, "s1/Direct/-3d, s2/Direct/-1d", "s2=1") // all direct: last
	f(LastNonDirect, "s2/Email/-1d, s1/Referral/-1d", "s2=1")
	f(LastNonDirect, "s1/Email/-3d, s2/Referral/+1h, s3/Direct/-1d", "s1=1")
	f(LastNonDirect, "s1/Email/-120d, s2/Direct/-1d", "s2=1")
	f(LastNonDirect, "s1/Email/-120d", "(no touchpoint)=1")

	f(Linear, "s1/Email/-1d", "s1=1")
	f(Linear, "s1/Email/-3d, s2/Direct/-1d", "s1=0.5 s2=0.5")
	f(Linear, "s1/Email/-3d, s2/Direct/-1d, s3/Referral/-1h", "s1=0.333333 s2=0.333333 s3=0.333333")
	f(Linear, "s1/Direct/-3d, s2/Direct/-1d, s3/Direct/-1h, s4/Direct/0s", "s1=0.25 s2=0.25 s3=0.25 s4=0.25")
	f(Linear, "s1/Email/-1d, s2/Direct/-1d", "s1=0.5 s2=0.5")
	f(Linear, "s1/Email/-3d, s2/Direct/+1d, s3/Referral/-100d", "s1=1")
	f(Linear, "s1/Email/-300d", "(no touchpoint)=1")

	// 2^(-Δt/7d): a week older weighs half.
	f(TimeDecay, "s1/Email/-1d", "s1=1")
	f(TimeDecay, "s1/Email/-7d, s2/Direct/0s", "s1=0.333333 s2=0.666667")                                  // 0.5 : 1
	f(TimeDecay, "s1/Email/-8d, s2/Direct/-1d", "s1=0.333333 s2=0.666667")                                 // only the gap matters
	f(TimeDecay, "s1/Email/-14d, s2/Paid Social/-7d, s3/Direct/0s", "s1=0.142857 s2=0.285714 s3=0.571429") // 1:2:4
	f(TimeDecay, "s1/Direct/-3d, s2/Direct/-3d", "s1=0.5 s2=0.5")
	f(TimeDecay, "s1/Email/-3d, s2/Email/-3d, s3/Direct/+2d", "s1=0.5 s2=0.5")
	f(TimeDecay, "s1/Email/-91d, s2/Email/-7d, s3/Direct/0s", "s2=0.333333 s3=0.666667")
	f(TimeDecay, "s1/Email/+7d", "(no touchpoint)=1")

	f(PositionBased, "s1/Email/-1d", "s1=1")
	f(PositionBased, "s1/Email/-3d, s2/Direct/-1d", "s1=0.5 s2=0.5")
	f(PositionBased, "s1/Email/-3d, s2/Direct/-2d, s3/Referral/-1d", "s1=0.4 s2=0.2 s3=0.4")
	f(PositionBased, "s1/Email/-4d, s2/Direct/-3d, s3/Referral/-2d, s4/Direct/-1d", "s1=0.4 s2=0.1 s3=0.1 s4=0.4")
	f(PositionBased, "s5/Direct/-1d, s4/Direct/-1d, s3/Direct/-1d, s2/Direct/-1d, s1/Direct/-1d",
		"s1=0.4 s2=0.0666667 s3=0.0666667 s4=0.0666667 s5=0.4")
	f(PositionBased, "s1/Email/-93d, s2/Direct/-3d, s3/Referral/-1d, s4/Email/+1m", "s2=0.5 s3=0.5")
	f(PositionBased, "s1/Email/-93d", "(no touchpoint)=1")

	// Weights Organic Search 1/6, Paid Social 1/3, Email 1/2; Referral and Direct have none.
	f(DataDriven, "s1/Email/-1d", "s1=1")
	f(DataDriven, "s1/Organic Search/-3d, s2/Email/-1d", "s1=0.25 s2=0.75")
	f(DataDriven, "s1/Organic Search/-3d, s2/Paid Social/-2d, s3/Email/-1d", "s1=0.166667 s2=0.333333 s3=0.5")
	f(DataDriven, "s1/Email/-3d, s2/Email/-3d", "s1=0.5 s2=0.5")
	f(DataDriven, "s1/Referral/-3d, s2/Paid Social/-1d", "s2=1")     // no weight: no credit
	f(DataDriven, "s1/Referral/-3d, s2/Direct/-1d", "s1=0.5 s2=0.5") // no weights at all: linear
	f(DataDriven, "s1/Organic Search/-99d, s2/Paid Social/-1d, s3/Email/+1h", "s2=1")
	f(DataDriven, "s1/Organic Search/-99d", "(no touchpoint)=1")
}

func TestAssignDataDrivenIgnoresUnusableWeights(t *testing.T) {
	f := func(weights ChannelWeights, want string) {
		t.Helper()
		touches := journey(t, "s1/Email/-2d, s2/Referral/-1d")
		got, err := Assign(DataDriven, touches, Conversion{At: convAt}, weights)
		if err != nil {
			t.Fatal(err)
		}
		if s := creditsString(got); s != want {
			t.Errorf("weights %v: got %s, want %s", weights, s, want)
		}
	}
	f(nil, "s1=0.5 s2=0.5")
	f(ChannelWeights{}, "s1=0.5 s2=0.5")
	f(ChannelWeights{"Email": 0, "Referral": 0}, "s1=0.5 s2=0.5")
	f(ChannelWeights{"Email": -1, "Referral": 0.2}, "s2=1")
	f(ChannelWeights{"Email": math.NaN(), "Referral": 0.2}, "s2=1")
	f(ChannelWeights{"Email": math.Inf(1), "Referral": 0.2}, "s2=1")
	f(ChannelWeights{"Email": 0.3, "Referral": 0.1}, "s1=0.75 s2=0.25")
}

// A share smaller than the rounding error of the others cannot take the
// remainder (it would turn negative): it is dropped and the touch before it
// settles the sum.
func TestAssignDropsShareBelowRoundingError(t *testing.T) {
	weights := ChannelWeights{"A": 0.4, "B": 0.9, "C": 0.6, "D": 0.9, "E": 0.8, "F": 1e-300}
	touches := journey(t, "s1/A/-6d, s2/B/-5d, s3/C/-4d, s4/D/-3d, s5/E/-2d, s6/F/-1d")
	got, err := Assign(DataDriven, touches, Conversion{At: convAt}, weights)
	if err != nil {
		t.Fatal(err)
	}
	// Weights over a total of 3.6.
	want := "s1=0.111111 s2=0.25 s3=0.166667 s4=0.25 s5=0.222222"
	if s := creditsString(got); s != want {
		t.Errorf("got %s, want %s", s, want)
	}
	sum := 0.0
	for _, c := range got {
		sum += c.Credit
	}
	if sum != 1 {
		t.Errorf("credits add up to %.17g, want 1", sum)
	}
}

func TestAssignErrors(t *testing.T) {
	f := func(model string, touches []Touch) {
		t.Helper()
		if got, err := Assign(model, touches, Conversion{ID: "c1", At: convAt}, nil); err == nil {
			t.Errorf("%q with %d touches: got %v, want an error", model, len(touches), got)
		}
	}
	one := journey(t, "s1/Email/-1d")
	f("", one)
	f("shapley", one)
	f("First_Click", one)
	for _, m := range Models {
		f(m, nil)
	}
}

func TestModelsAreAllAssignable(t *testing.T) {
	if len(Models) != 7 {
		t.Fatalf("got %d models, want 7: %v", len(Models), Models)
	}
	seen := map[string]bool{}
	for _, m := range Models {
		if seen[m] {
			t.Errorf("model %q listed twice", m)
		}
		seen[m] = true
		if _, err := Assign(m, journey(t, "s1/Email/-1d"), Conversion{At: convAt}, nil); err != nil {
			t.Errorf("model %q: %v", m, err)
		}
	}
}

// TestAssignCreditsAddUpToOne checks, for random journeys and every model,
// that credits are positive, keep the window's order and add up to exactly 1.
func TestAssignCreditsAddUpToOne(t *testing.T) {
	channels := []string{"Direct", "Organic Search", "Paid Search", "Email", "Referral", "Organic Social", "AI Assistant"}
	for seed := uint64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		var journeys Journeys
		type conversion struct {
			touches []Touch
			at      time.Time
		}
		var convs []conversion
		for range 1000 {
			n := rng.IntN(12)
			touches := make([]Touch, n)
			var visited []string
			for i := range touches {
				// Offsets from 100 days before to 2 days after, often on the same second.
				off := time.Duration(rng.IntN(102*24)-100*24) * time.Hour
				if rng.IntN(4) == 0 {
					off = -time.Hour
				}
				ch := channels[rng.IntN(len(channels))]
				touches[i] = Touch{SessionID: string(rune('a' + rng.IntN(26))), Channel: ch, At: convAt.Add(off)}
				visited = append(visited, ch)
			}
			journeys.Add(visited, rng.IntN(3) == 0)
			convs = append(convs, conversion{touches, convAt})
		}
		weights := []ChannelWeights{nil, Markov(&journeys), {"Email": 1e-300, "Direct": 1}, {"Referral": 1e-17, "Email": 1}}
		for i, c := range convs {
			window := Window(c.touches, c.at, time.Duration(1+rng.IntN(120))*24*time.Hour)
			for _, m := range Models {
				credits, err := Assign(m, window, Conversion{At: c.at}, weights[i%len(weights)])
				if err != nil {
					t.Fatalf("seed %d journey %d %s: %v", seed, i, m, err)
				}
				sum, next := 0.0, 0
				for _, cr := range credits {
					if !(cr.Credit > 0) || cr.Credit > 1 {
						t.Fatalf("seed %d journey %d %s: credit %v out of (0, 1]", seed, i, m, cr.Credit)
					}
					// Credits follow the window's order, each touch at most once.
					for next < len(window) && window[next] != cr.Touch {
						next++
					}
					if next == len(window) {
						t.Fatalf("seed %d journey %d %s: credits %v not in window order %v", seed, i, m, credits, window)
					}
					next++
					sum += cr.Credit
				}
				if sum != 1 { // exactly, not just within rounding error
					t.Fatalf("seed %d journey %d %s: credits add up to %.17g", seed, i, m, sum)
				}
			}
		}
	}
}

// TestAppendAssignKeepsWhatItAppendsTo: one buffer reused across models and conversions
// gives each the credits Assign gives, after what the buffer already holds.
func TestAppendAssignKeepsWhatItAppendsTo(t *testing.T) {
	touches := journey(t, "s1/Email/-3d, s2/Direct/-2d, s3/Referral/-1d")
	weights := ChannelWeights{"Email": 0.5, "Direct": 0, "Referral": 0.25}
	buf := make([]Credit, 0, 2) // too small: appending must grow it
	for _, m := range Models {
		before := creditsString(buf)
		var err error
		buf, err = AppendAssign(buf, m, touches, Conversion{At: convAt}, weights)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Assign(m, touches, Conversion{At: convAt}, weights)
		n := len(buf) - len(want)
		if got := creditsString(buf[:n]); got != before {
			t.Errorf("%s: what the buffer held became %s, was %s", m, got, before)
		}
		if got, w := creditsString(buf[n:]), creditsString(want); got != w {
			t.Errorf("%s: appended %s, Assign gives %s", m, got, w)
		}
	}
	if _, err := AppendAssign(buf, "nope", touches, Conversion{}, nil); err == nil {
		t.Error("an unknown model was accepted")
	}
}
