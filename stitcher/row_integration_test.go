package stitcher

import (
	"context"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// The events block goes to ClickHouse in the order of the table's sorting key, so that
// the server need not sort it: ClickHouse itself says what that order is.
func TestStorageOrderIsClickHousesOrder(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	r := rand.New(rand.NewSource(1))
	sites := []string{"demo", "b", "shop"}
	vids := []string{""} // server events have none
	for range 30 {
		vids = append(vids, uuid.NewString())
	}
	midnight := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC).Unix()
	ins := make([]incoming, 600)
	for i := range ins {
		id := uuid.New()
		ts := midnight + r.Int63n(3*86400) - 86400 // three UTC days
		e := event.Enriched{Event: event.Event{VID: vids[r.Intn(len(vids))]}, Site: sites[r.Intn(len(sites))]}
		if i%10 == 1 { // the visitor and second half of the event before: the first half decides
			copy(id[8:], ins[i-1].id[8:])
			ts, e = ins[i-1].ts, ins[i-1].e
		}
		e.ID, e.Type, e.TS = id.String(), event.Pageview, ts*1000
		ins[i] = incoming{id: id, ts: ts, e: e}
	}
	b := newEventBlock(len(ins))
	var want []uuid.UUID
	for _, i := range storageOrder(ins) {
		b.add(&ins[i], "", "", 1)
		want = append(want, ins[i].id)
	}
	ctx := context.Background()
	batch, err := chstore.PrepareBatch(ctx, conn, "INSERT INTO "+db+".events ("+eventColumns+")")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.appendTo(batch, 0, b.len()); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT event_id FROM "+db+".events ORDER BY site_id, toDate(ts), visitor_id, event_id")
	if err != nil {
		t.Fatal(err)
	}
	var got []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("%d events; first difference at %d: ClickHouse has %s, the stitcher %s", len(got), i, got[i], want[i])
			}
		}
		t.Fatalf("ClickHouse has %d events, the stitcher wrote %d", len(got), len(want))
	}
}
