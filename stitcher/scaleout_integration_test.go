package stitcher

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
	"touchpoint/stitcher/identity"
)

// startStitchers runs n stitcher processes in the harness's consumer group and waits until
// each has partitions of its own.
func (h *harness) startStitchers(n int) {
	h.t.Helper()
	bin := testenv.Binary(h.t, "./cmd/stitcher")
	for range n {
		testenv.Start(h.t, bin, "-kafka.brokers", h.kc.Brokers, "-kafka.topic", h.kc.Topic, "-kafka.dlq", h.kc.DLQ,
			"-kafka.group", h.group, "-clickhouse.addr", testenv.Env("TP_CLICKHOUSE_ADDR", "127.0.0.1:9000"),
			"-clickhouse.database", h.db, "-http.listen", "127.0.0.1:0", "-batch.size", "50", "-batch.flush", "20ms")
	}
	client := &kafka.Client{Addr: kafka.TCP(h.kc.BrokerList()...)}
	testenv.Eventually(h.t, 60*time.Second, fmt.Sprintf("%d stitchers sharing the partitions", n), func() (bool, error) {
		resp, err := client.DescribeGroups(context.Background(), &kafka.DescribeGroupsRequest{GroupIDs: []string{h.group}})
		if err != nil || len(resp.Groups) != 1 {
			return false, err
		}
		g := resp.Groups[0]
		busy := 0
		for _, m := range g.Members {
			for _, a := range m.MemberAssignments.Topics {
				if len(a.Partitions) > 0 {
					busy++
					break
				}
			}
		}
		return g.GroupState == "Stable" && busy == n, fmt.Errorf("group %s, %d members with partitions", g.GroupState, busy)
	})
}

// Two stitcher processes share the partitions; every visitor of a person identifies with
// the same email at the same moment, so the person's links are applied by both at once,
// each seeing only its own partitions' links. Both must end on the same person id, the
// smallest own id of all its identifiers, which every stored person id resolves to in one
// lookup.
func TestTwoStitchersAgreeOnPersons(t *testing.T) {
	h := newHarness(t)
	h.startStitchers(2)

	const persons, devices = 40, 4
	type person struct {
		email string
		vids  []string
	}
	var ps []person
	var evs []event.Enriched
	for i := range persons {
		p := person{email: event.EmailSHA256(fmt.Sprintf("p%d-%s@example.com", i, uuid.NewString()[:8]))}
		for range devices {
			p.vids = append(p.vids, uuid.NewString())
		}
		ps = append(ps, p)
	}
	for d := range devices {
		for _, p := range ps {
			evs = append(evs, pageview(p.vids[d], time.Duration(d)*time.Minute, "https://shop.example.com/", ""),
				identify(p.vids[d], time.Duration(d)*time.Minute+time.Second, p.email))
		}
	}
	h.send(evs...)
	h.waitCount(60*time.Second, `SELECT count() FROM %s.events FINAL`, uint64(len(evs)))
	h.waitCount(60*time.Second, `SELECT count() FROM %s.identities FINAL`, uint64(persons*devices))

	// A stored person id's current person: its alias, or itself.
	resolve := func(ids []string) map[string]string {
		out := map[string]string{}
		rows, err := h.conn.Query(context.Background(), fmt.Sprintf(`SELECT person_id, argMax(current_person_id, version)
			FROM %s.person_aliases WHERE site_id = ? AND person_id IN (SELECT arrayJoin(?)) GROUP BY person_id`, h.db), site, ids)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var from, to string
			if err := rows.Scan(&from, &to); err != nil {
				t.Fatal(err)
			}
			out[from] = to
		}
		for _, id := range ids {
			if out[id] == "" {
				out[id] = id
			}
		}
		return out
	}
	check := func() error {
		for _, p := range ps {
			own := []string{identity.OwnID(site, identity.Key{Kind: identity.Email, Value: p.email})}
			for _, v := range p.vids {
				own = append(own, identity.OwnID(site, identity.Key{Kind: identity.Visitor, Value: v}))
			}
			want := own[0]
			for _, id := range own {
				want = min(want, id)
			}
			// Every identifier's own id, and every person id its events were written with.
			ids := append([]string(nil), own...)
			rows, err := h.conn.Query(context.Background(), fmt.Sprintf(`SELECT DISTINCT person_id FROM %s.events FINAL
				WHERE site_id = ? AND visitor_id IN (SELECT arrayJoin(?))`, h.db), site, p.vids)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
			}
			rows.Close()
			for id, cur := range resolve(ids) {
				if cur != want {
					return fmt.Errorf("person %s resolves to %s, want %s (of %d devices and an email)", id, cur, want, devices)
				}
			}
		}
		return nil
	}
	// The stitchers may still be correcting each other's last batches.
	testenv.Eventually(t, 30*time.Second, "one person per email", func() (bool, error) {
		err := check()
		return err == nil, err
	})
}
