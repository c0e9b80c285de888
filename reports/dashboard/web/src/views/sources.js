// The source report: totals, a chart of the top keys and the full table, for
// one attribution model and grouping, with the table exportable as CSV.
import { PATHS } from '../api.js'
import { bars } from '../chart.js'
import { csvRows, csvTitle, sourceColumns } from '../columns.js'
import { fileName, toCSV } from '../csv.js'
import { h, replace, select } from '../dom.js'
import { count, fractional, keyLabel, money, multiple, ratio, unconvertedText } from '../format.js'
import { GROUP_NAMES, MODEL_NAMES } from '../state.js'
import { reportTable } from '../table.js'

const TOP = 10
const metrics = (currency) => ({
  leads: { label: 'Leads', value: (r) => r.leads, format: fractional },
  sales: { label: 'Sales', value: (r) => r.sales, format: fractional },
  revenue: { label: `Revenue (${currency || '—'})`, value: (r) => r.revenue, format: (n) => money(n, currency) },
  cost: { label: `Cost (${currency || '—'})`, value: (r) => r.cost, format: (n) => money(n, currency) },
  visitors: { label: 'Visitors', value: (r) => r.visitors, format: count },
})

export async function sourcesView(root, ctx) {
  const s = ctx.state
  const data = await ctx.get(PATHS.sources, { site: s.site, from: s.from, to: s.to, model: s.model, by: s.by })
  const rows = Array.isArray(data.rows) ? data.rows : []
  const totals = data.totals || {}
  const currency = typeof data.currency === 'string' ? data.currency : ''
  const METRICS = metrics(currency)
  const columns = sourceColumns(s.by, currency, rows)
  const table = reportTable(columns, rows, totals, { sortBy: 'revenue', caption: 'Source report', testid: 'sources-table' })

  const chartBox = h('div', { class: 'chart', 'data-testid': 'sources-chart' })
  let metric = 'leads'
  let chart = null
  const draw = () => {
    const m = METRICS[metric]
    const top = rows.filter((r) => m.value(r) > 0).sort((a, b) => m.value(b) - m.value(a)).slice(0, TOP)
    chart?.destroy()
    chartBox.style.height = `${Math.max(160, top.length * 30 + 40)}px`
    chart = top.length ? bars(chartBox, { labels: top.map((r) => keyLabel(r.key)), datasets: [{ label: m.label, data: top.map(m.value) }], format: m.format }) : null
    if (!chart) replace(chartBox, h('p', { class: 'empty', text: 'Nothing to chart.' }))
  }
  const metricSelect = select({ 'aria-label': 'Chart metric', onchange: (e) => ((metric = e.target.value), draw()) }, Object.entries(METRICS).map(([k, m]) => [k, m.label]), metric)

  const exportCSV = () => {
    const csv = toCSV(columns.map(csvTitle), csvRows(columns, table.rows(), totals))
    ctx.download(fileName(s.site, 'sources', s.model, s.by, s.from, s.to), csv)
  }

  const missing = unconvertedText(totals.unconverted)
  replace(
    root,
    kpis(totals, currency),
    missing
      ? h(
          'div',
          { class: 'message warning', role: 'status', 'data-testid': 'unconverted' },
          `Not in the ${currency} figures, for want of an exchange rate on their dates: ${missing}. Ratios that need them show —. Load rates with POST /api/v1/fx-rates.`,
        )
      : null,
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', text: `Top ${GROUP_NAMES[s.by].toLowerCase()}s · ${MODEL_NAMES[s.model]}` }), metricSelect),
      chartBox,
    ),
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { class: 'card-title', text: `Source report by ${GROUP_NAMES[s.by].toLowerCase()}` }),
        h('span', { class: 'card-note', text: `${MODEL_NAMES[s.model]} attribution · ${data.from || s.from} – ${data.to || s.to} · amounts in ${currency || '—'}` }),
        h('button', { type: 'button', class: 'button secondary', 'data-testid': 'export-csv', onclick: exportCSV, disabled: !rows.length, text: 'Export CSV' }),
      ),
      table.el,
    ),
  )
  draw()
  return () => chart?.destroy()
}

function kpis(t, currency) {
  const tile = (id, label, value) => h('div', { class: 'kpi', 'data-testid': `kpi-${id}` }, h('span', { class: 'kpi-label', text: label }), h('span', { class: 'kpi-value', text: value }))
  return h(
    'section',
    { class: 'kpis', 'aria-label': 'Totals' },
    tile('visitors', 'Visitors', count(t.visitors)),
    tile('sessions', 'Sessions', count(t.sessions)),
    tile('leads', 'Leads', fractional(t.leads)),
    tile('sales', 'Sales', fractional(t.sales)),
    tile('revenue', 'Revenue', money(t.revenue, currency)),
    tile('cost', 'Cost', money(t.cost, currency)),
    tile('roas', 'ROAS', multiple(t.roas)),
    tile('roi', 'ROI', ratio(t.roi)),
  )
}
