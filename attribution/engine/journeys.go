package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"touchpoint/attribution/model"
	"touchpoint/internal/chstore"
)

// journeys counts, for the data-driven model, the journey of every person (channels in
// time order over the sessions started in [from, to]) and whether they converted.
//
// ClickHouse sends one number per session row, beside its person's hash, neither sorted
// nor grouped; the paths are put together here by sorting the pairs. Grouping them by
// person in ClickHouse (collecting each person's numbers, then sorting them and turning
// them into channel names there) took it 6-7.5 s of CPU over a year of the bench's 10
// million sessions, where sending the pairs takes 3.5 s; the service's CPU stayed about
// 2 s, the sort here replacing the reading of the paths' names.
//
// Persons are their current id's hash (chstore.CurrentPersonHash), which is all a path
// needs: two persons would share a path only if their ids shared a hash. It reads every
// row version instead of FINAL (much cheaper over a whole site), as querySessions does:
// versions of one session share its id, start and channel, so they give equal numbers,
// which count once.
//
// The pairs take 16 bytes per row: a range with more rows than s.pathLimit (or
// defaultPathRows) is read in passes, each over the persons whose hash falls in its share,
// so the memory held stays bounded whatever the site's size.
func (s *store) journeys(ctx context.Context, site string, from, to time.Time) (*model.Journeys, error) {
	var j model.Journeys
	// The range's channel names come first, bound to the paths' query as a constant:
	// transform looks a constant list up in a hash table, where indexOf over the list a
	// subquery gave took ClickHouse 3 s of CPU over a year of the bench's 10 million
	// sessions (9.5 s in all).
	var names []string
	var rows uint64
	err := s.conn.QueryRow(ctx, fmt.Sprintf(`SELECT arraySort(groupUniqArray(channel)), count() FROM %s.sessions
		WHERE site_id = ? AND started_at >= ? AND started_at <= ?`, s.db), site, from, to).Scan(&names, &rows)
	if err != nil {
		return nil, fmt.Errorf("cannot read paths: %w", err)
	}
	if len(names) == 0 {
		return &j, nil
	}
	if len(names) > maxPathChannel {
		return nil, fmt.Errorf("cannot read paths: %d channels, at most %d", len(names), maxPathChannel)
	}
	limit := cmp.Or(s.pathLimit, defaultPathRows)
	passes := (rows + limit - 1) / limit
	buf := make([]pathRow, 0, min(rows, limit)) // rows counts every version: enough in one pass
	for pass := range passes {
		if buf, err = s.pathRows(ctx, site, from, to, names, pass, passes, buf[:0]); err != nil {
			return nil, err
		}
		countPaths(&j, buf, names)
	}
	return &j, nil
}

// defaultPathRows is how many session rows journeys reads in one pass: 256 MiB of pairs.
const defaultPathRows = 1 << 24

// A session's number, as journeys reads it: its start in the high 32 bits, then 16 bits of
// a hash of its id, then whether its person converted (pathConverted), then its channel's
// place in the range's channel names from 1, or 0 for a channel named since they were read.
// Sorted, a person's numbers are their sessions in time order. Two sessions of one person
// that start in the same second on the same channel, one pair in 65,536 of those, count once.
const (
	pathConverted  = 1 << 15
	pathChannel    = pathConverted - 1 // the mask of the channel's place
	maxPathChannel = pathChannel       // channel.Group makes a few dozen at most
)

// pathRow is one session row of a path: its person's hash and its number.
type pathRow struct{ person, key uint64 }

// pathRows appends to buf the rows of the persons whose hash is pass modulo passes.
func (s *store) pathRows(ctx context.Context, site string, from, to time.Time, names []string, pass, passes uint64,
	buf []pathRow) ([]pathRow, error) {
	live, liveArgs := liveSessions(s.db, site, from, to)
	inner := fmt.Sprintf(`SELECT person_id, started_at, session_id, channel FROM %s.sessions WHERE %s`, s.db, live)
	convs, convArgs := chstore.CurrentPersonHash(s.db, site, fmt.Sprintf(`SELECT person_id FROM %s.conversions FINAL WHERE site_id = ?`, s.db), site)
	resolved, args := chstore.CurrentPersonHash(s.db, site, inner, liveArgs...)
	q := fmt.Sprintf(`WITH ? AS names
		SELECT person_hash, toUInt64(started_at) * 4294967296 + cityHash64(reinterpretAsString(session_id)) %% 65536 * 65536
			+ (person_hash IN (SELECT person_hash FROM (%s))) * %d + transform(channel, names, arrayEnumerate(names), 0)
		FROM (%s) WHERE person_hash %% ? = ?`, convs, pathConverted, resolved)
	rows, err := s.conn.Query(ctx, q, append(append(append([]any{names}, convArgs...), args...), passes, pass)...)
	if err != nil {
		return nil, fmt.Errorf("cannot read paths: %w", err)
	}
	defer rows.Close()
	var r pathRow
	dest := []any{&r.person, &r.key}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("cannot read paths: %w", err)
		}
		buf = append(buf, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read paths: %w", err)
	}
	return buf, nil
}

// countPaths sorts rows and adds each person's path to j.
func countPaths(j *model.Journeys, rows []pathRow, names []string) {
	sortPaths(rows)
	var channels []string
	for i := 0; i < len(rows); {
		person, converted := rows[i].person, rows[i].key&pathConverted != 0
		channels = channels[:0]
		for k := i; i < len(rows) && rows[i].person == person; i++ {
			if i > k && rows[i].key == rows[i-1].key {
				continue // another version of the last session
			}
			name := ""
			if at := rows[i].key & pathChannel; at > 0 {
				name = names[at-1]
			}
			channels = append(channels, name)
		}
		j.Add(channels, converted)
	}
}

// sortPaths sorts rows by person, then key. The persons' hashes are even, so it moves
// the rows in place by a byte of the person at a time (a radix sort), from the top, until
// the runs left are short, and sorts those: ten million rows sorted at once took four
// times as long.
func sortPaths(rows []pathRow) { radixPaths(rows, 56) }

func radixPaths(rows []pathRow, shift int) {
	if len(rows) <= 16 || shift < 0 { // a person's rows, or about
		slices.SortFunc(rows, func(x, y pathRow) int {
			return cmp.Or(cmp.Compare(x.person, y.person), cmp.Compare(x.key, y.key))
		})
		return
	}
	digit := func(r pathRow) int { return int(r.person>>shift) & 0xff }
	var starts, next [257]int
	for _, r := range rows {
		starts[digit(r)+1]++
	}
	for d := 1; d <= 256; d++ {
		starts[d] += starts[d-1]
	}
	next = starts // the first row of each bucket not yet in place
	for d := range 256 {
		for i := next[d]; i < starts[d+1]; i = next[d] {
			r := rows[i]
			for t := digit(r); t != d; t = digit(r) { // carry r to its bucket, taking the row there
				rows[next[t]], r = r, rows[next[t]]
				next[t]++
			}
			rows[i] = r
			next[d]++
		}
	}
	for d := range 256 {
		radixPaths(rows[starts[d]:starts[d+1]], shift-8)
	}
}
