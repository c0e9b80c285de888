package chstore

import (
	"fmt"
	"slices"
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
func CurrentPerson(db, site, inner string, innerArgs ...any) (string, []any) {
	q := fmt.Sprintf(`SELECT *, if(current_person_id != '', current_person_id, person_id) AS person
		FROM (%s) AS unresolved
		ANY LEFT JOIN (SELECT person_id, current_person_id FROM %s.person_aliases FINAL
			WHERE site_id = ? AND current_person_id != '') AS aliases
		USING person_id`, inner, db)
	return q, append(slices.Clip(innerArgs), site)
}

// MaxListLen bounds the ids bound into one query: ClickHouse refuses queries longer than
// max_query_size (256 KiB by default), and a UUID takes about 40 bytes there. A query
// that binds a list n times binds MaxListLen/n ids.
const MaxListLen = 2000

// PersonIDs is a condition on the column col of raw person ids, with its arguments, that
// keeps the ids person_aliases resolves to the current person of site: the person's own
// id and those merged into it. A reader of one person's rows skips everyone else's with
// it before CurrentPerson resolves the rest.
func PersonIDs(db, col, site, person string) (string, []any) {
	return fmt.Sprintf(`%s IN (SELECT ? UNION ALL
		SELECT person_id FROM %s.person_aliases FINAL WHERE site_id = ? AND current_person_id = ?)`, col, db), []any{person, site, person}
}
