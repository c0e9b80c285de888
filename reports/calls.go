package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"touchpoint/attribution/model"
)

// CallFigures are the calls of one row of the calls report, or of its totals: calls,
// answered calls and first-time callers are the model's credit (fractional under
// multi-touch models), the median duration is over the answered calls touching the row.
type CallFigures struct {
	Calls          float64  `json:"calls"`
	Answered       float64  `json:"answered"`
	FirstTime      float64  `json:"first_time_callers"`
	MedianDuration *float64 `json:"median_duration"` // seconds; null when none was answered
}

// CallRow is one line of the calls report.
type CallRow struct {
	Key string `json:"key"`
	CallFigures
}

// Calls is the calls report: the phone calls that occurred in the range, credited by a
// model to channels, sources, campaigns or keywords like any lead. Calls that no visitor's
// session made are in the row "(unmatched call)"; calls to a static number in its source.
type Calls struct {
	Site   string      `json:"site"`
	Model  string      `json:"model"`
	By     string      `json:"by"`
	From   string      `json:"from"`
	To     string      `json:"to"`
	Rows   []CallRow   `json:"rows"`
	Totals CallFigures `json:"totals"`
}

// CallGroupBys are the dimensions the calls report groups by.
var CallGroupBys = []string{"channel", "source", "campaign", "keyword"}

// Calls computes the calls report.
func (s *Store) Calls(ctx context.Context, p Params) (*Calls, error) {
	out := &Calls{Site: p.Site, Model: p.Model, By: p.By.Name, From: day(p.From), To: day(p.To), Rows: []CallRow{}}
	const calls = "lead_type = 'call'"
	latest, args := p.credited(s.DB, calls)
	// Per row and call first: a call crediting two sessions of one row counts once there.
	q := fmt.Sprintf(`SELECT if(k = '', '%[1]s', k) AS key, sum(credit), sumIf(credit, answered = 1), sumIf(credit, first = 1),
			quantileIf(0.5)(duration, answered = 1)
		FROM (
			SELECT %[2]s AS k, conversion_id, any(conversion_type) = 'lead' AS first, sum(%[5]s) AS credit
			FROM %[3]s.touch_credits PREWHERE %[6]s WHERE %[4]s
			GROUP BY k, conversion_id
		) AS credited ANY LEFT JOIN (
			SELECT conversion_id, argMax(visitParamExtractBool(props, 'answered'), version) AS answered,
				argMax(visitParamExtractUInt(props, 'duration'), version) AS duration
			FROM %[3]s.conversions
			WHERE site_id = ? AND conversion_id IN (SELECT conversion_id FROM %[3]s.conversions WHERE site_id = ? AND %[6]s)
			GROUP BY conversion_id
		) AS call_rows USING conversion_id
		WHERE credit > 0
		GROUP BY key WITH TOTALS`, NoneKey, p.By.attribution, s.DB, latest, model.CreditColumn(p.Model), calls)
	rows, err := s.Conn.Query(ctx, q, append(args, p.Site, p.Site)...)
	if err != nil {
		return nil, fmt.Errorf("cannot read calls: %w", err)
	}
	defer rows.Close()
	scan := func(f func(dest ...any) error) (CallRow, error) {
		var r CallRow
		var median float64
		err := f(&r.Key, &r.Calls, &r.Answered, &r.FirstTime, &median)
		r.Calls, r.Answered, r.FirstTime = credit6(r.Calls), credit6(r.Answered), credit6(r.FirstTime)
		if !math.IsNaN(median) {
			r.MedianDuration = &median
		}
		return r, err
	}
	for rows.Next() {
		r, err := scan(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("cannot read calls: %w", err)
		}
		out.Rows = append(out.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read calls: %w", err)
	}
	if t, err := scan(rows.Totals); err == nil {
		out.Totals = t.CallFigures
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("cannot total calls: %w", err)
	}
	sort.Slice(out.Rows, func(i, j int) bool {
		if out.Rows[i].Calls != out.Rows[j].Calls {
			return out.Rows[i].Calls > out.Rows[j].Calls
		}
		return out.Rows[i].Key < out.Rows[j].Key
	})
	return out, nil
}

// readCallClicks counts the clicks on tel: links (call_click events, the intent to
// call) in sessions started in the range, per value of the report's dimension. They are
// shown beside leads, never counted as leads. Only the sessions with a click are read, each
// at its latest version: FINAL over every session of the range would cost seconds.
func (s *Store) readCallClicks(ctx context.Context, p Params, of rowsOf) (map[string]uint64, error) {
	end := p.To.AddDate(0, 0, 1)
	filter, fargs := p.Filter.sessions()
	q := fmt.Sprintf(`SELECT k, uniqExact(event_id)
		FROM (%[4]s) AS clicks
		ANY INNER JOIN (
			SELECT toString(session_id) AS session_id, %[2]s AS k
			FROM (
				SELECT session_id, deleted, is_bot, %[5]s FROM %[1]s.sessions
				WHERE site_id = ? AND started_at >= ? AND started_at < ?
					AND session_id IN (SELECT toUUID(session_id) FROM (%[4]s) WHERE session_id != '')
				ORDER BY session_id, version DESC LIMIT 1 BY session_id)
			WHERE deleted = 0 AND is_bot = 0%[3]s
		) AS clicked USING session_id
		GROUP BY k`, s.DB, of.session.sql, filter, callClicks(s.DB), sessionKeyColumns)
	clickArgs := []any{p.Site, p.From, end.Add(24 * time.Hour)}
	args := append(append([]any{}, clickArgs...), of.session.args...)
	args = append(append(append(args, p.Site, p.From, end), clickArgs...), fargs...)
	out := map[string]uint64{}
	err := s.each(ctx, q, args, func(sc scanner) error {
		var k string
		var n uint64
		if err := sc.Scan(&k, &n); err != nil {
			return err
		}
		out[k] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot count call clicks: %w", err)
	}
	return out, nil
}

// callClicks selects the site's call_click events (not a bot's) of [from, to): their
// session_id and event_id, with those three arguments.
func callClicks(db string) string {
	return fmt.Sprintf(`SELECT session_id, event_id FROM %s.events
		WHERE site_id = ? AND event_type = 'call_click' AND is_bot = 0 AND ts >= ? AND ts < ?`, db)
}
