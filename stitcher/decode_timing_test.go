package stitcher

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"touchpoint/internal/event"
)

func BenchmarkDecode(b *testing.B) {
	e := pageview("9b2f3c1e-2a4d-4c8e-9f10-123456789abc", time.Minute,
		"https://www.example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=Cj0KCQiA", "https://www.google.com/")
	e.Title, e.Screen, e.Lang, e.TZ, e.Props = "Pricing — Example", "1920x1080", "en-GB", "Europe/London", json.RawMessage(`{"plan":"pro"}`)
	e.Region, e.City, e.OS, e.Device, e.Type = "ENG", "London", "Windows", "desktop", event.Pageview
	v, _ := json.Marshal(&e)
	msgs := make([]kafka.Message, 1000)
	for i := range msgs {
		msgs[i] = kafka.Message{Value: v}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(v) * len(msgs)))
	for b.Loop() {
		decode(msgs, nil, nil)
	}
}
