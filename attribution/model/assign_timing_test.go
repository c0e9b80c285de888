package model

import (
	"testing"
	"time"
)

func BenchmarkAssign(b *testing.B) {
	channels := []string{"Organic Search", "Direct", "Paid Social", "Email", "Direct"}
	touches := make([]Touch, len(channels))
	for i, ch := range channels {
		touches[i] = Touch{
			SessionID: "0195f3a2-7c1e-7d4b-9a55-3e2f1c0b8a" + string(rune('0'+i)) + "0",
			At:        convAt.Add(-time.Duration(len(channels)-i) * 36 * time.Hour),
			Channel:   ch,
			Source:    "google",
			Medium:    "cpc",
			Campaign:  "spring",
		}
	}
	conv := Conversion{ID: "c1", At: convAt, Value: 100}
	for _, m := range Models {
		b.Run(m, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Assign(m, touches, conv, exampleWeights); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWindow(b *testing.B) {
	touches := journey(b, "s5/Email/-1d, s1/Direct/-100d, s3/Paid Social/-3d, s2/Organic Search/-5d, s4/Direct/+1h, s6/Email/-2d")
	b.ReportAllocs()
	for b.Loop() {
		Window(touches, convAt, DefaultLookback)
	}
}
