package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var convAt = time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)

// journey builds touches from "session/channel/offset, ...", the offset being
// relative to convAt: a Go duration ("-2h", "+30m", "0s") or days ("-3d").
func journey(t testing.TB, s string) []Touch {
	t.Helper()
	var touches []Touch
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, "/")
		if len(f) != 3 {
			t.Fatalf("bad touch %q", part)
		}
		var off time.Duration
		if days, ok := strings.CutSuffix(f[2], "d"); ok {
			d, err := strconv.ParseFloat(days, 64)
			if err != nil {
				t.Fatalf("bad offset %q: %v", f[2], err)
			}
			off = time.Duration(d * float64(24*time.Hour))
		} else {
			d, err := time.ParseDuration(f[2])
			if err != nil {
				t.Fatalf("bad offset %q: %v", f[2], err)
			}
			off = d
		}
		touches = append(touches, Touch{SessionID: f[0], Channel: f[1], At: convAt.Add(off)})
	}
	return touches
}

// creditsString renders credits as "session=credit ...", the touch of a conversion
// without touchpoints as "(no touchpoint)".
func creditsString(credits []Credit) string {
	parts := make([]string, len(credits))
	for i, c := range credits {
		id := c.Touch.SessionID
		if id == "" {
			id = c.Touch.Source
		}
		parts[i] = fmt.Sprintf("%s=%.6g", id, c.Credit)
	}
	return strings.Join(parts, " ")
}

// weightsString renders weights sorted by channel.
func weightsString(w ChannelWeights) string {
	channels := make([]string, 0, len(w))
	for ch := range w {
		channels = append(channels, ch)
	}
	slices.Sort(channels)
	parts := make([]string, len(channels))
	for i, ch := range channels {
		parts[i] = fmt.Sprintf("%s=%.6g", ch, w[ch])
	}
	return strings.Join(parts, " ")
}
