package stitcher

import (
	"context"
	"testing"
	"time"

	"touchpoint/internal/event"
	"touchpoint/privacy"
)

func init() { keys["erased_identifiers"] = []string{"site_id", "id_sha256"} }

func (m *memStore) erasedCount(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(len(m.tables["erased_identifiers"])), nil
}

func (m *memStore) erased(context.Context) (map[string]map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]map[string]int64{}
	for _, r := range m.tables["erased_identifiers"] {
		if out[r.str("site_id")] == nil {
			out[r.str("site_id")] = map[string]int64{}
		}
		out[r.str("site_id")][r.str("id_sha256")] = r["erased_at"].(time.Time).UnixMilli()
	}
	return out, nil
}

// erase does what an erasure does to the store: it records the identifiers as erased at
// at, then deletes the person's rows.
func (s *stages) erase(at time.Time, vid, emailHash string) {
	s.store.mu.Lock()
	for _, k := range []struct {
		kind byte
		v    string
	}{{'v', vid}, {'e', emailHash}} {
		s.store.put("erased_identifiers", row{"site_id": site, "id_sha256": privacy.IDSHA256(site, k.kind, k.v), "erased_at": at, "version": uint64(0)})
	}
	for _, t := range s.store.tables {
		for key, r := range t {
			if r.str("site_id") == site && (r.str("visitor_id") == vid || r.str("email_sha256") == emailHash) {
				delete(t, key)
			}
		}
	}
	s.store.mu.Unlock()
	s.st.erased.checked = time.Time{} // as if the stitcher's next look were due
}

// Events of an erased person that the collector received before the erasure (still on
// Kafka, in a spool, replayed) are dropped, by visitor id or by email; events received
// after it are new data and start a new journey: nothing of the erased visits is carried
// over from the stitcher's memory.
func TestErasedPersonsEventsAreDropped(t *testing.T) {
	s := newStages(t)
	hash := event.EmailSHA256("gone@example.com")
	s.write(pageview("v1", 0, "https://shop.example.com/?utm_source=google&utm_medium=cpc", ""), identify("v1", time.Minute, hash))
	if len(s.sessions("v1")) != 1 {
		t.Fatal("no session before the erasure")
	}
	erasedAt := t0.Add(10 * time.Minute).Truncate(time.Second)
	s.erase(erasedAt, "v1", hash)

	late := pageview("v1", 5*time.Minute, "https://shop.example.com/late", "")
	otherDevice := identify("v9", 6*time.Minute, hash)
	sameSecond := pageview("v1", 9*time.Minute, "https://shop.example.com/same-second", "")
	sameSecond.ReceivedAt = erasedAt.UnixMilli() + 900
	bystander := pageview("v2", 7*time.Minute, "https://shop.example.com/", "")
	s.write(late, otherDevice, sameSecond, bystander)
	for _, table := range []string{"events", "sessions", "identities"} {
		for _, r := range s.store.rows(table, site) {
			if r.str("visitor_id") == "v1" || r.str("visitor_id") == "v9" || r.str("email_sha256") == hash {
				t.Fatalf("%s row of the erased person written: %v", table, r)
			}
		}
	}
	if len(s.sessions("v2")) != 1 {
		t.Fatal("another visitor's event was dropped")
	}

	// Twelve minutes after the first visit, within 30 minutes of it: without the erasure
	// it would continue that session.
	back := pageview("v1", 12*time.Minute, "https://shop.example.com/back", "")
	s.write(back)
	ss := s.sessions("v1")
	if len(ss) != 1 || ss[0].str("landing_path") != "/back" || ss[0]["pageviews"].(uint32) != 1 || ss[0].str("source") == "google" {
		t.Fatalf("the visit after the erasure: %v", ss)
	}
}
