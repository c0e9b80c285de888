package model

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	f := func(touches string, lookback time.Duration, want string) {
		t.Helper()
		in := journey(t, touches)
		before := slices.Clone(in)
		got := Window(in, convAt, lookback)
		if !slices.Equal(in, before) {
			t.Errorf("%q: input modified to %v", touches, in)
		}
		ids := make([]string, len(got))
		for i, tp := range got {
			ids[i] = tp.SessionID
		}
		if s := strings.Join(ids, " "); s != want {
			t.Errorf("%q lookback %v: got %q, want %q", touches, lookback, s, want)
		}
		held := Touch{SessionID: "held"}
		if buf := AppendWindow([]Touch{held}, in, convAt, lookback); buf[0] != held || !slices.Equal(buf[1:], got) {
			t.Errorf("%q lookback %v: appended to a buffer, got %v", touches, lookback, buf)
		}
	}
	f("s1/Email/-3d, s2/Direct/-1d", DefaultLookback, "s1 s2")
	f("s2/Direct/-1d, s1/Email/-3d", DefaultLookback, "s1 s2")
	f("b/Email/-1d, c/Direct/-1d, a/Referral/-1d", DefaultLookback, "a b c")
	f("b/Email/-1d, a/Direct/-2d, b/Direct/-1d", DefaultLookback, "a b b")
	f("s1/Email/-3d, s2/Direct/+1ns, s3/Direct/0s", DefaultLookback, "s1 s3")
	f("s1/Email/-90d, s2/Direct/-89d", DefaultLookback, "s2")
	f("s1/Email/-8d, s2/Direct/-6d", 7*24*time.Hour, "s2")
	f("s1/Email/-8d, s2/Direct/-6d", 30*24*time.Hour, "s1 s2")
}

// Sessions read in any order give the same window.
func TestWindowOrderDoesNotDependOnInput(t *testing.T) {
	touches := journey(t, "c/Email/-2d, a/Direct/-2d, b/Referral/-2d, d/Email/-5d, e/Email/-1d")
	want := Window(touches, convAt, DefaultLookback)
	rng := rand.New(rand.NewPCG(7, 7))
	for range 20 {
		rng.Shuffle(len(touches), func(i, j int) { touches[i], touches[j] = touches[j], touches[i] })
		if got := Window(touches, convAt, DefaultLookback); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

// A conversion without touchpoints in its window is credited to an explicit
// "(no touchpoint)" touch, never to an invented Direct visit.
func TestWindowWithoutTouchesIsNoTouchpoint(t *testing.T) {
	f := func(touches string, lookback time.Duration) {
		t.Helper()
		got := Window(journey(t, touches), convAt, lookback)
		want := []Touch{{At: convAt, Channel: "(no touchpoint)", Source: "(no touchpoint)", Medium: "(no touchpoint)",
			Campaign: "(no touchpoint)", Term: "(no touchpoint)"}}
		if !slices.Equal(got, want) {
			t.Errorf("%q: got %+v, want %+v", touches, got, want)
		}
		held := Touch{SessionID: "held"}
		if buf := AppendWindow([]Touch{held}, journey(t, touches), convAt, lookback); !slices.Equal(buf, append([]Touch{held}, want...)) {
			t.Errorf("%q: appended to a buffer, got %+v", touches, buf)
		}
	}
	f("", DefaultLookback)
	f("s1/Email/-91d", DefaultLookback)
	f("s1/Email/+1s", DefaultLookback)
	f("s1/Email/-2d", 24*time.Hour)
	f("s1/Email/0s", 0)
}
