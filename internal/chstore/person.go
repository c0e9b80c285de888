package chstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// CurrentPerson wraps the query inner, which must select person_id, so that it also
// gives each row's current person (after merges) as column `person`. It returns the
// query and its arguments: inner's, then the site's for its aliases.
//
// The site's aliases are joined, in a table built once per query. A lookup map of them
// in the query (transform) cost ClickHouse 18.16 more the more aliases there were,
// however few rows were read: with a million aliases, as a site with a million
// identified people has, reading a million conversions took 9.5 s of CPU against the
// join's 0.3 s, and reading one conversion 7 s against 0.2 s. Without aliases the map
// was cheaper: 0.35 s against 0.53 s over 10 million sessions.
//
// The join's key is the 64-bit hash of the id (cityHash64), not the id: with ids as
// long as the stitcher's (UUIDs) and a million aliases, resolving a million conversions
// took 0.34-0.38 s of CPU against 0.49-0.67 s. A row would take another id's current
// person only if the two ids shared a hash.
func CurrentPerson(db, site, inner string, innerArgs ...any) (string, []any) {
	return joinAliases(db, inner, ""), append(slices.Clip(innerArgs), site)
}

// CurrentPersonOfFew is CurrentPerson for an inner query that reads a few rows, a
// person's: only the aliases of their ids are joined, found by person_aliases' key, not
// the whole site's. Inner is read twice, so its arguments come twice: inner's, the
// site's, then inner's again. A journey's reads took 0.2 s of CPU each with a million
// aliases, most of it building their table.
func CurrentPersonOfFew(db, site, inner string, innerArgs ...any) (string, []any) {
	q := joinAliases(db, inner, fmt.Sprintf(" AND person_id IN (SELECT person_id FROM (%s))", inner))
	return q, append(append(slices.Clip(innerArgs), site), innerArgs...)
}

// CurrentPersonHash is CurrentPerson for a reader that needs only the current person's
// 64-bit hash, cityHash64 of their id, as column person_hash: the joined table holds
// the current persons' hashes rather than their ids, and the reader gets a number rather
// than a string for each row.
func CurrentPersonHash(db, site, inner string, innerArgs ...any) (string, []any) {
	q := fmt.Sprintf(`SELECT *, if(current_hash != 0, current_hash, id_hash) AS person_hash
		FROM (SELECT *, cityHash64(person_id) AS id_hash FROM (%s)) AS unresolved
		ANY LEFT JOIN (SELECT cityHash64(person_id) AS id_hash, cityHash64(current_person_id) AS current_hash FROM %s.person_aliases FINAL
			WHERE site_id = ? AND current_person_id != '') AS aliases
		USING id_hash`, inner, db)
	return q, append(slices.Clip(innerArgs), site)
}

// PersonHash is the expression, over CurrentPerson's column person, of the hash that
// CurrentPersonHash gives as person_hash: rows resolved either way match by it.
const PersonHash = "cityHash64(person)"

// joinAliases is CurrentPerson's query, the aliases restricted by cond.
func joinAliases(db, inner, cond string) string {
	return fmt.Sprintf(`SELECT *, if(current_person_id != '', current_person_id, person_id) AS person
		FROM (SELECT *, cityHash64(person_id) AS id_hash FROM (%s)) AS unresolved
		ANY LEFT JOIN (SELECT cityHash64(person_id) AS id_hash, current_person_id FROM %s.person_aliases FINAL
			WHERE site_id = ? AND current_person_id != ''%s) AS aliases
		USING id_hash`, inner, db, cond)
}

// OfPersons is the condition on a table's stored person_id that keeps the rows of
// persons (current ids): the persons' own ids and every id merged into them, and its
// arguments, binding persons twice. A reader picks the rows with it in PREWHERE, before
// FINAL merges them and CurrentPerson resolves them, and keeps those resolved to one of
// persons: reading every row of a large table to resolve its person cost seconds. The
// aliases are read without FINAL: an earlier alias of an id only widens the set.
func OfPersons(db, site string, persons []string) (string, []any) {
	return fmt.Sprintf(`person_id IN (SELECT arrayJoin(?) UNION ALL
			SELECT person_id FROM %s.person_aliases WHERE site_id = ? AND current_person_id IN (SELECT arrayJoin(?)))`, db),
		[]any{persons, site, persons}
}

// ConversionsUnder is the condition on the conversions table's key that keeps the
// conversions any version of which was recorded under an id that ids (a condition on
// person_id, its arguments after the site's) keeps, found by person_conversions' key. All
// their versions are kept, so a reader that merges them (FINAL) and resolves the person
// of the current one can tell a conversion since moved to someone else: picking rows by
// their stored person id before FINAL would keep only the earlier version.
func ConversionsUnder(db, ids string) string {
	return fmt.Sprintf("conversion_id IN (SELECT conversion_id FROM %s.person_conversions WHERE site_id = ? AND %s)", db, ids)
}

// IDsOf reads the ids that are persons' (current ids): each person's own id and every
// id merged into them, each mapped to its person. The merged ids are found as OfPersons
// finds them, then their latest aliases kept only where they still name one of persons.
// With the ids bound, a reader picks rows by a key on person ids (ConversionsUnder)
// and maps each row's stored id to its person itself: joining the aliases in the query
// read them again for each subquery that needed them.
func IDsOf(ctx context.Context, conn driver.Conn, db, site string, persons []string) (map[string]string, error) {
	out := make(map[string]string, len(persons))
	for _, p := range persons {
		out[p] = p
	}
	err := EachChunk(persons, MaxListLen/2, func(part []string) error {
		// ClickHouse 18.16 knows no alias of a select in HAVING.
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT person_id, argMax(current_person_id, version)
			FROM %[1]s.person_aliases
			WHERE site_id = ? AND person_id IN (SELECT person_id FROM %[1]s.person_aliases PREWHERE %[2]s WHERE site_id = ?)
			GROUP BY person_id HAVING %[3]s`, db, InList("current_person_id"), InList("argMax(current_person_id, version)")), site, part, site, part)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, current string
			if err := rows.Scan(&id, &current); err != nil {
				return err
			}
			out[id] = current
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the ids merged into persons: %w", err)
	}
	return out, nil
}

// EachChunk calls read with the distinct ids, at most n at a time: each id once, in one
// chunk, for queries that bind a list (OfPersons, InList).
func EachChunk(ids []string, n int, read func([]string) error) error {
	for part := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(ids))), n) {
		if err := read(part); err != nil {
			return err
		}
	}
	return nil
}

// MaxListLen bounds the ids bound into one query: ClickHouse refuses queries longer than
// max_query_size (256 KiB by default), and a UUID takes about 40 bytes there. A query
// that binds a list n times binds MaxListLen/n ids.
const MaxListLen = 2000

// InList is the condition that column is one of a list of values bound as one argument.
// A set, unlike has(list, column), costs the same for a list of 2,000 as for one, and
// picks rows by the table's key: reading the current credit of 2,000 conversions over a
// million took 53 s with has() and 1.7 s with the set.
func InList(column string) string { return column + " IN (SELECT arrayJoin(?))" }

// PersonIDs is the condition on the column col of raw person ids that keeps the ids
// person_aliases resolves to the current person of site, with its arguments: a row is
// the person's when its id is the person's own or one merged into it. The ids are read
// here, once, and bound, rather than read again by a subquery in each condition. A
// person with more ids than a query binds twice (MaxListLen) gets that subquery.
func PersonIDs(ctx context.Context, conn driver.Conn, db, col, site, person string) (string, []any, error) {
	ids := []string{person}
	if person == "" {
		// Nobody's rows (a call no session made). An alias whose latest version is empty
		// marks an id that is its own person again, not one merged into nobody.
		return InList(col), []any{ids}, nil
	}
	// The ids that ever pointed to the person are found without FINAL, reading only
	// current_person_id first (PREWHERE); FINAL then reads their latest versions by the
	// table's key. FINAL over the whole site took 0.10-0.16 s with a million aliases,
	// this 0.01-0.02 s.
	merged := fmt.Sprintf(`SELECT person_id FROM %[1]s.person_aliases FINAL WHERE site_id = ? AND current_person_id = ?
		AND person_id IN (SELECT person_id FROM %[1]s.person_aliases PREWHERE current_person_id = ? WHERE site_id = ?)`, db)
	mergedArgs := []any{site, person, person, site}
	rows, err := conn.Query(ctx, merged+" AND person_id != ?", append(mergedArgs, person)...)
	if err != nil {
		return "", nil, fmt.Errorf("cannot read the ids merged into a person: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", nil, fmt.Errorf("cannot read the ids merged into a person: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("cannot read the ids merged into a person: %w", err)
	}
	if len(ids) > MaxListLen/2 {
		return fmt.Sprintf("%s IN (SELECT ? UNION ALL %s)", col, merged), append([]any{person}, mergedArgs...), nil
	}
	return InList(col), []any{ids}, nil
}
