package stitcher

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
)

// A batch keeps each event id of a site once (however it is spelt), in order, and sets
// aside what cannot be read.
func TestDecodeDropsRepeatsAndPoison(t *testing.T) {
	msg := func(id, site string) kafka.Message {
		e := pageview("v1", time.Minute, "https://shop.example.com/", "")
		e.ID, e.Site = id, site
		v, _ := json.Marshal(&e)
		return kafka.Message{Value: v}
	}
	a, b, c := "0b6c4d2e-7a7e-4a43-9d55-1f1c9a9a2f10", "1b6c4d2e-7a7e-4a43-9d55-1f1c9a9a2f10", "2b6c4d2e-7a7e-4a43-9d55-1f1c9a9a2f10"
	msgs := []kafka.Message{
		msg(a, "demo"), {Value: []byte(`{"id":`)}, msg(b, "demo"), msg(a, "demo"), msg(a, "other"), msg(c, "demo"),
		msg(strings.ToUpper(b), "demo"),
	}
	buf := newBuffers()
	// The second time round the batch is decoded into the buffers of the first.
	for round := range 2 {
		ins, bad := decode(msgs, buf.ins.get(), nil)
		var got []string
		for _, in := range ins {
			got = append(got, in.e.Site+"/"+in.e.ID)
			if in.session != uuid.Nil {
				t.Errorf("round %d: %s has a session before sessionize", round, in.e.ID)
			}
		}
		if want := []string{"demo/" + a, "demo/" + b, "other/" + a, "demo/" + c}; !slices.Equal(got, want) {
			t.Errorf("round %d: decoded %v, want %v", round, got, want)
		}
		if len(bad) != 1 || bad[0].reason == "" {
			t.Errorf("round %d: poison %+v, want the one unreadable message with its reason", round, bad)
		}
		for i := range ins {
			ins[i].session = uuid.New() // as sessionize sets it
		}
		buf.recycle(decodedBatch{msgs: make([]kafka.Message, 0, 1), ins: ins})
	}
}
