package chstore

import "fmt"

// LiveSessions is the condition on rows of the sessions table, with its arguments, that
// keeps the site's sessions within inRange (a condition on started_at and its arguments)
// whose latest version is neither deleted (folded into another session) nor a bot's, and
// of those the versions that are neither. It reads every row version, which is cheaper
// than FINAL over many sessions; a session's start, visitor and touchpoint never change
// between its versions, so a reader that keeps one version per session id gets what FINAL
// gives. The others are left out by id: only the versions of sessions ever deleted or
// flagged as a bot's are grouped for that. So a session deleted and written again later
// (by a restitch) counts.
func LiveSessions(db, site, inRange string, rangeArgs []any) (string, []any) {
	cond := fmt.Sprintf(`site_id = ? AND deleted = 0 AND is_bot = 0 AND %[1]s
		AND session_id NOT IN (
			SELECT session_id FROM %[2]s.sessions
			WHERE site_id = ? AND %[1]s AND session_id IN (
				SELECT session_id FROM %[2]s.sessions WHERE site_id = ? AND %[1]s AND (deleted = 1 OR is_bot = 1))
			GROUP BY session_id HAVING argMax(deleted = 1 OR is_bot = 1, version) = 1)`, inRange, db)
	var args []any
	for range 3 {
		args = append(append(args, site), rangeArgs...)
	}
	return cond, args
}
