package stitcher

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"touchpoint/internal/event"
)

// incoming is one decoded message of a batch.
type incoming struct {
	e    event.Enriched
	id   uuid.UUID
	ts   int64 // seconds
	part int   // Kafka partition
}

// poison is a message that can never be written; it goes to the dead-letter topic.
type poison struct {
	msg    kafka.Message
	reason string
}

// decode reads a batch's messages. Messages that cannot become rows are returned as poison;
// a repeated event id (same site) is kept once.
func decode(msgs []kafka.Message) ([]incoming, []poison) {
	out := make([]incoming, 0, len(msgs))
	var bad []poison
	seen := make(map[[2]string]struct{}, len(msgs))
	for i := range msgs {
		var in incoming
		if err := json.Unmarshal(msgs[i].Value, &in.e); err != nil {
			bad = append(bad, poison{msgs[i], "undecodable message: " + err.Error()})
			continue
		}
		id, err := uuid.Parse(in.e.ID)
		if err != nil {
			bad = append(bad, poison{msgs[i], "invalid event id: " + err.Error()})
			continue
		}
		if in.e.Site == "" {
			bad = append(bad, poison{msgs[i], "missing site"})
			continue
		}
		if !event.Types[in.e.Type] {
			bad = append(bad, poison{msgs[i], "unknown event type " + in.e.Type})
			continue
		}
		k := [2]string{in.e.Site, in.e.ID}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		in.id, in.ts, in.part = id, in.e.TS/1000, msgs[i].Partition
		out = append(out, in)
	}
	return out, bad
}

// sessionable reports whether an event belongs to a visit: browser events with a visitor id.
// Server calls (a CRM's conversion days later) are not visits.
func (in *incoming) sessionable() bool {
	return in.e.VID != "" && in.e.Origin != event.OriginServer
}

// emailHash is the event's email hash: traits.email_sha256 as the collector writes it, or the
// hash of traits.email for sites that keep emails.
func emailHash(traits map[string]string) string {
	if h := strings.ToLower(strings.TrimSpace(traits["email_sha256"])); h != "" {
		return h
	}
	if e := strings.ToLower(strings.TrimSpace(traits["email"])); e != "" {
		sum := sha256.Sum256([]byte(e))
		return hex.EncodeToString(sum[:])
	}
	return ""
}
