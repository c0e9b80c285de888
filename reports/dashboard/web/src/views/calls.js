// Phone calls: calls, answered calls, first-time callers (the call leads) and
// the median duration of answered calls, by channel, source, campaign or
// keyword, under the chosen model; exportable as CSV like the source report.
import { PATHS } from '../api.js'
import { csvRows, csvTitle } from '../columns.js'
import { fileName, toCSV } from '../csv.js'
import { h, replace } from '../dom.js'
import { NONE, count, fractional, keyLabel } from '../format.js'
import { CALL_GROUPS, GROUP_NAMES, MODEL_NAMES } from '../state.js'
import { reportTable } from '../table.js'

const seconds = (n) => (typeof n === 'number' && Number.isFinite(n) ? `${Math.floor(n / 60)}:${String(Math.round(n % 60)).padStart(2, '0')}` : NONE)
const col = (id, title, show, csv) => ({ id, title, value: (r) => r[id], show, csv: csv || ((r) => r[id]), numeric: true, sub: false })

// The calls report's grouping: the shared one when the calls report has it.
export const callsBy = (by) => (CALL_GROUPS.includes(by) ? by : 'channel')

export function callColumns(by) {
  return [
    { id: 'key', title: GROUP_NAMES[by], value: (r) => r.key ?? '', show: (r) => keyLabel(r.key), csv: (r) => r.key ?? '', numeric: false, sub: false },
    col('calls', 'Calls', (r) => fractional(r.calls)),
    col('answered', 'Answered', (r) => fractional(r.answered)),
    col('first_time_callers', 'First-time callers', (r) => fractional(r.first_time_callers)),
    col('median_duration', 'Median duration', (r) => seconds(r.median_duration)),
  ]
}

export async function callsView(root, ctx) {
  const s = ctx.state
  const by = callsBy(s.by)
  const data = await ctx.get(PATHS.calls, { site: s.site, from: s.from, to: s.to, model: s.model, by })
  const rows = Array.isArray(data.rows) ? data.rows : []
  const totals = data.totals || {}
  const columns = callColumns(by)
  const table = reportTable(columns, rows, totals, { sortBy: 'calls', caption: 'Calls', testid: 'calls-table' })
  const tile = (id, label, value) => h('div', { class: 'kpi', 'data-testid': `kpi-${id}` }, h('span', { class: 'kpi-label', text: label }), h('span', { class: 'kpi-value', text: value }))
  const exportCSV = () => ctx.download(fileName(s.site, 'calls', s.model, by, s.from, s.to), toCSV(columns.map(csvTitle), csvRows(columns, table.rows(), totals)))
  replace(
    root,
    h(
      'section',
      { class: 'kpis', 'aria-label': 'Totals' },
      tile('calls', 'Calls', fractional(totals.calls)),
      tile('answered', 'Answered', fractional(totals.answered)),
      tile('first-time', 'First-time callers (call leads)', fractional(totals.first_time_callers)),
      tile('median', 'Median duration (answered)', seconds(totals.median_duration)),
    ),
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { class: 'card-title', text: `Calls by ${GROUP_NAMES[by].toLowerCase()}` }),
        h('span', { class: 'card-note', text: `${MODEL_NAMES[s.model]} attribution · ${data.from || s.from} – ${data.to || s.to} · ${count(rows.length)} rows` }),
        h('button', { type: 'button', class: 'button secondary', 'data-testid': 'calls-csv', onclick: exportCSV, disabled: !rows.length, text: 'Export CSV' }),
      ),
      h('p', { class: 'muted', text: 'Calls to a tracking number that no visitor held are under (unmatched call), calls to a static number under its source.' }),
      table.el,
    ),
  )
}
