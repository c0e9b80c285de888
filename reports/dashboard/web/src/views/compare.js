// First click against last click: the same grouping, dates and filters under both
// models in one table, with the difference, to show which sources open journeys and
// which close them.
import { PATHS } from '../api.js'
import { bars } from '../chart.js'
import { fileName, toCSV } from '../csv.js'
import { exportButton, h, replace } from '../dom.js'
import { compactCount, fractional, keyLabel, money } from '../format.js'
import { GROUP_NAMES, PLURAL, reportParams } from '../state.js'
import { reportTable } from '../table.js'

const TOP = 8
const round = (n) => Math.round(n * 100) / 100
// The difference first − last: "+3", "−1.50", "0".
const signed = (n) => (typeof n === 'number' && Number.isFinite(n) ? (n > 0 ? '+' : n < 0 ? '−' : '') + fractional(Math.abs(n)) : '—')

export async function compareView(root, ctx) {
  const s = ctx.state
  const q = (model) => ctx.get(PATHS.sources, { ...reportParams(s), model, by: s.by })
  const [first, last] = await Promise.all([q('first_click'), q('last_click')])
  const currency = typeof first.currency === 'string' ? first.currency : ''
  const byKey = new Map()
  const row = (key) => {
    if (!byKey.has(key)) byKey.set(key, { key, first_leads: 0, last_leads: 0, first_sales: 0, last_sales: 0, first_revenue: 0, last_revenue: 0 })
    return byKey.get(key)
  }
  for (const [data, side] of [[first, 'first'], [last, 'last']])
    for (const r of Array.isArray(data.rows) ? data.rows : []) {
      if (r.key === '(unallocated cost)') continue
      const x = row(r.key)
      x[`${side}_leads`] = r.leads || 0
      x[`${side}_sales`] = r.sales || 0
      x[`${side}_revenue`] = r.revenue || 0
    }
  let rows = [...byKey.values()].map((r) => ({ ...r, leads_diff: round(r.first_leads - r.last_leads), revenue_diff: round(r.first_revenue - r.last_revenue) }))
  if (s.hideEmpty) rows = rows.filter((r) => r.first_leads || r.last_leads || r.first_sales || r.last_sales || r.first_revenue || r.last_revenue)
  const sum = (k) => rows.reduce((a, r) => a + r[k], 0)
  const totals = { key: 'Total', first_leads: first.totals?.leads, last_leads: last.totals?.leads, first_sales: first.totals?.sales, last_sales: last.totals?.sales, first_revenue: first.totals?.revenue, last_revenue: last.totals?.revenue, leads_diff: round(sum('leads_diff')), revenue_diff: round(sum('revenue_diff')) }

  const num = (id, title, show = (r) => fractional(r[id])) => ({ id, title, value: (r) => r[id], show, csv: (r) => (typeof r[id] === 'number' ? round(r[id]) : null), numeric: true })
  const cur = currency ? ` (${currency})` : ''
  const columns = [
    { id: 'key', title: GROUP_NAMES[s.by], value: (r) => r.key, show: (r) => keyLabel(r.key), csv: (r) => r.key, numeric: false },
    num('first_leads', 'First-click leads'),
    num('last_leads', 'Last-click leads'),
    num('leads_diff', 'Difference', (r) => signed(r.leads_diff)),
    num('first_sales', 'First-click sales'),
    num('last_sales', 'Last-click sales'),
    num('first_revenue', `First-click revenue${cur}`, (r) => money(r.first_revenue, currency)),
    num('last_revenue', `Last-click revenue${cur}`, (r) => money(r.last_revenue, currency)),
    num('revenue_diff', `Revenue difference${cur}`, (r) => (r.revenue_diff > 0 ? '+' : '') + money(r.revenue_diff, currency)),
  ]
  const table = reportTable(columns, rows, totals, { sortBy: 'first_leads', caption: 'First click against last click', testid: 'compare-table' })

  const top = [...rows].sort((a, b) => Math.max(b.first_leads, b.last_leads) - Math.max(a.first_leads, a.last_leads)).filter((r) => r.first_leads || r.last_leads).slice(0, TOP)
  const box = h('div', { class: 'chart', 'data-testid': 'compare-chart' })
  box.style.height = `${Math.max(160, top.length * 44 + 50)}px`
  const csv = () => toCSV(columns.map((c) => c.title), [...table.rows().map((r) => columns.map((c) => c.csv(r))), columns.map((c, i) => (i ? c.csv(totals) : 'Total'))])
  replace(
    root,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'compare-chart-title' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', id: 'compare-chart-title', text: `Leads by ${GROUP_NAMES[s.by].toLowerCase()}: who opens, who closes` }), h('span', { class: 'card-note', text: `Top ${top.length} ${PLURAL[s.by]}` })),
      box,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'compare-title' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { class: 'card-title', id: 'compare-title', text: 'First click against last click' }),
        h('span', { class: 'card-note', text: 'Difference: first-click minus last-click credit. Positive: opens journeys more than it closes them.' }),
        h('div', { class: 'card-actions' }, h('label', { class: 'toggle' }, h('input', { type: 'checkbox', name: 'hide_empty', checked: s.hideEmpty, onchange: (e) => ctx.set({ hideEmpty: e.target.checked }) }), h('span', { text: 'Hide empty rows' })), exportButton(ctx, fileName(s.site, 'first-vs-last', s.by, s.from, s.to), csv, !rows.length)),
      ),
      table.el,
    ),
  )
  const chart = top.length
    ? bars(box, { labels: top.map((r) => keyLabel(r.key)), datasets: [{ label: 'First click', data: top.map((r) => r.first_leads) }, { label: 'Last click', data: top.map((r) => r.last_leads) }], format: fractional, tick: compactCount })
    : (replace(box, h('p', { class: 'empty', text: 'No leads to chart.' })), null)
  return () => chart?.destroy()
}
