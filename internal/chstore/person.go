package chstore

import "fmt"

// CurrentPerson wraps the query inner, which must select person_id, so that it also
// gives each row's current person (after merges) as column `person`. Its first bound
// argument is the site, then come inner's.
//
// The site's aliases are looked up in a map built once per query (transform), which is
// about twice as fast on large reads as joining person_aliases; an empty pair keeps the
// map from being empty, which transform refuses.
func CurrentPerson(db, inner string) string {
	return fmt.Sprintf(`WITH (SELECT (arrayPushFront(groupArray(person_id), ''), arrayPushFront(groupArray(current_person_id), ''))
			FROM (SELECT person_id, current_person_id FROM %s.person_aliases FINAL WHERE site_id = ? AND current_person_id != '')) AS aliases
		SELECT *, transform(person_id, aliases.1, aliases.2, person_id) AS person
		FROM (%s) AS unresolved`, db, inner)
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
