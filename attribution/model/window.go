package model

import (
	"slices"
	"strings"
	"time"
)

// DefaultLookback is the lookback window of a site that has not set its own.
const DefaultLookback = 90 * 24 * time.Hour

// Window returns the touches inside the lookback window (conv-lookback, conv],
// oldest first; equal times are ordered by SessionID so that results do not
// depend on the order the touches were read in. Touches after the conversion
// do not count. When no touch remains, the conversion is credited to one explicit
// NoTouchpoint touch at the conversion time. The input is not modified.
func Window(touches []Touch, conv time.Time, lookback time.Duration) []Touch {
	return AppendWindow(nil, touches, conv, lookback)
}

// AppendWindow is Window appending the touches to dst, for a caller that reuses one
// buffer over millions of conversions.
func AppendWindow(dst, touches []Touch, conv time.Time, lookback time.Duration) []Touch {
	from := conv.Add(-lookback)
	start := len(dst)
	for i := range touches {
		at := touches[i].At
		if at.After(from) && !at.After(conv) {
			dst = append(dst, touches[i])
		}
	}
	if len(dst) == start {
		return append(dst, NoTouch(conv))
	}
	slices.SortStableFunc(dst[start:], func(a, b Touch) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.SessionID, b.SessionID)
	})
	return dst
}

// NoTouch is the touch credited for a conversion at conv without touchpoints.
func NoTouch(conv time.Time) Touch {
	return Touch{At: conv, Channel: NoTouchpoint, Source: NoTouchpoint, Medium: NoTouchpoint, Campaign: NoTouchpoint, Term: NoTouchpoint}
}
