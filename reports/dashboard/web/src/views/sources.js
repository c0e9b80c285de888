// The source report: totals against the previous period, leads, sales and revenue over
// time, a chart of the top keys and the full table, for one attribution model,
// grouping and set of filters. A row drills down (channel → source → campaign →
// keyword) and lists its leads; everything exports as CSV.
import { PATHS } from '../api.js'
import { bars, lines } from '../chart.js'
import { csvRows, csvTitle, sourceColumns } from '../columns.js'
import { fileName, toCSV } from '../csv.js'
import { exportButton, h, replace, select } from '../dom.js'
import { change, compactCount, compactMoney, count, fractional, keyLabel, money, multiple, ratio, unconvertedText } from '../format.js'
import { GROUP_NAMES, INTERVALS, MODEL_NAMES, PLURAL, drillInto, intervalFor, reportParams } from '../state.js'
import { reportTable } from '../table.js'

const TOP = 10
const UNALLOCATED = '(unallocated cost)'

const metrics = (currency) => ({
  leads: { label: 'Leads', value: (r) => r.leads, format: fractional, tick: compactCount },
  sales: { label: 'Sales', value: (r) => r.sales, format: fractional, tick: compactCount },
  revenue: { label: `Revenue (${currency || '—'})`, value: (r) => r.revenue, format: (n) => money(n, currency), tick: (n) => compactMoney(n, currency) },
  cost: { label: `Cost (${currency || '—'})`, value: (r) => r.cost, format: (n) => money(n, currency), tick: (n) => compactMoney(n, currency) },
  visitors: { label: 'Visitors', value: (r) => r.visitors, format: count, tick: compactCount },
  sessions: { label: 'Sessions', value: (r) => r.sessions, format: count, tick: compactCount },
})

// A row with nothing in it: no traffic, credit or cost.
export const emptyRow = (r) => !['visitors', 'sessions', 'leads', 'sales', 'revenue', 'cost', 'clicks', 'impressions'].some((k) => r[k])

const pointLabel = (from, interval) => {
  const d = new Date(from + 'T00:00:00Z')
  return interval === 'month'
    ? d.toLocaleDateString('en-US', { month: 'short', year: 'numeric', timeZone: 'UTC' })
    : d.toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' })
}
const span = (from, to) => (from === to ? from : `${from} – ${to}`)

export async function sourcesView(root, ctx) {
  const s = ctx.state
  const params = reportParams(s)
  const [data, series] = await Promise.all([
    ctx.get(PATHS.sources, { ...params, model: s.model, by: s.by }),
    ctx.get(PATHS.series, { ...params, model: s.model, interval: intervalFor(s.from, s.to, s.interval) }),
  ])
  const allRows = Array.isArray(data.rows) ? data.rows : []
  const rows = s.hideEmpty ? allRows.filter((r) => !emptyRow(r)) : allRows
  const totals = data.totals || {}
  const currency = typeof data.currency === 'string' ? data.currency : ''
  const METRICS = metrics(currency)
  const COST = ['cost', 'clicks', 'impressions', 'cost_per_lead', 'cost_per_sale', 'roas', 'roi']
  const columns = sourceColumns(s.by, currency, rows).filter((c) => data.cost_included !== false || !COST.includes(c.id))
  const next = drillInto(s, '')
  const table = reportTable(columns, rows, totals, {
    sortBy: 'revenue',
    caption: `Source report by ${GROUP_NAMES[s.by].toLowerCase()}`,
    testid: 'sources-table',
    keyAction: next
      ? (r) => (r.key === UNALLOCATED ? null : { title: `Show the ${PLURAL[next.by]} of ${keyLabel(r.key)}`, onclick: () => ctx.set({ ...drillInto(s, r.key), offset: 0 }) })
      : null,
    actions: (r) =>
      r.key === UNALLOCATED || !r.leads
        ? null
        : h('button', {
            type: 'button',
            class: 'link',
            'aria-label': `Leads of ${keyLabel(r.key)}`,
            text: 'Leads',
            onclick: () => ctx.set({ view: 'leads', filters: { ...s.filters, [s.by]: r.key }, offset: 0 }),
          }),
  })

  const charts = []
  const destroy = () => charts.splice(0).forEach((c) => c.destroy())

  // Top keys.
  const chartBox = h('div', { class: 'chart', 'data-testid': 'sources-chart' })
  let metric = 'leads'
  let barChart = null
  const drawBars = () => {
    const m = METRICS[metric]
    const top = rows.filter((r) => m.value(r) > 0).sort((a, b) => m.value(b) - m.value(a)).slice(0, TOP)
    barChart?.destroy()
    chartBox.style.height = `${Math.max(160, top.length * 30 + 40)}px`
    barChart = top.length ? bars(chartBox, { labels: top.map((r) => keyLabel(r.key)), datasets: [{ label: m.label, data: top.map(m.value) }], format: m.format, tick: m.tick }) : null
    if (!barChart) replace(chartBox, h('p', { class: 'empty', text: 'Nothing to chart.' }))
  }
  const metricSelect = select({ 'aria-label': 'Chart metric', onchange: (e) => ((metric = e.target.value), drawBars()) }, Object.entries(METRICS).map(([k, m]) => [k, m.label]), metric)

  // Over time, against the previous period.
  const points = Array.isArray(series.points) ? series.points : []
  const timeBox = h('div', { class: 'chart', 'data-testid': 'series-chart' })
  timeBox.style.height = '260px'
  let timeMetric = 'leads'
  let lineChart = null
  const drawLines = () => {
    const m = METRICS[timeMetric]
    lineChart?.destroy()
    lineChart = points.length
      ? lines(timeBox, {
          labels: points.map((p) => pointLabel(p.from, series.interval)),
          current: { label: m.label, data: points.map((p) => m.value(p.current || {}) ?? 0) },
          previous: { label: 'Previous period', data: points.map((p) => m.value(p.previous || {}) ?? 0) },
          titles: points.map((p) => [span(p.from, p.to), span(p.previous_from, p.previous_to)]),
          format: m.format,
          tick: m.tick,
        })
      : null
    if (!lineChart) replace(timeBox, h('p', { class: 'empty', text: 'Nothing to chart.' }))
  }
  const timeSelect = select({ 'aria-label': 'Metric over time', onchange: (e) => ((timeMetric = e.target.value), drawLines()) }, Object.entries(METRICS).map(([k, m]) => [k, m.label]), timeMetric)
  const intervals = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Interval' },
    INTERVALS.map((i) => h('button', { type: 'button', class: `chip${i === series.interval ? ' active' : ''}`, 'aria-pressed': String(i === series.interval), text: i[0].toUpperCase() + i.slice(1), onclick: () => ctx.set({ interval: i }) })),
  )
  const seriesCSV = () => {
    const keys = Object.keys(METRICS)
    const header = ['From', 'To', ...keys.map((k) => METRICS[k].label), 'Previous from', 'Previous to', ...keys.map((k) => `Previous ${METRICS[k].label.toLowerCase()}`)]
    const body = points.map((p) => [p.from, p.to, ...keys.map((k) => METRICS[k].value(p.current || {})), p.previous_from, p.previous_to, ...keys.map((k) => METRICS[k].value(p.previous || {}))])
    return toCSV(header, body)
  }

  const exportTable = () => toCSV(columns.map(csvTitle), csvRows(columns, table.rows(), totals))
  const missing = unconvertedText(totals.unconverted)
  const hideEmpty = h('label', { class: 'toggle' }, h('input', { type: 'checkbox', name: 'hide_empty', checked: s.hideEmpty, onchange: (e) => ctx.set({ hideEmpty: e.target.checked }) }), h('span', { text: 'Hide empty rows' }))
  const hidden = allRows.length - rows.length
  replace(
    root,
    kpis(totals, series.previous_totals || {}, currency, series),
    missing
      ? h(
          'div',
          { class: 'message warning', role: 'status', 'data-testid': 'unconverted' },
          `Not in the ${currency} figures, for want of an exchange rate on their dates: ${missing}. Ratios that need them show —. Load rates with POST /api/v1/fx-rates.`,
        )
      : null,
    data.cost_included === false
      ? h('div', { class: 'message info', 'data-testid': 'no-cost' }, 'Ad cost is not split by country, device or landing page: cost, clicks and the ratios that need them are left out while such a filter is on.')
      : null,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'time-title' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', id: 'time-title', text: 'Over time' }), h('span', { class: 'card-note', text: `${span(series.from, series.to)} against ${span(series.previous_from, series.previous_to)}` }), h('div', { class: 'card-actions' }, intervals, timeSelect, exportButton(ctx, fileName(s.site, 'series', s.model, series.interval, s.from, s.to), seriesCSV, !points.length))),
      timeBox,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'top-title' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', id: 'top-title', text: `Top ${PLURAL[s.by]} · ${MODEL_NAMES[s.model]}` }), metricSelect),
      chartBox,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'table-title' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { class: 'card-title', id: 'table-title', text: `Source report by ${GROUP_NAMES[s.by].toLowerCase()}` }),
        h('span', { class: 'card-note', text: `${MODEL_NAMES[s.model]} attribution · ${data.from || s.from} – ${data.to || s.to} · amounts in ${currency || '—'}${hidden ? ` · ${hidden} empty ${hidden === 1 ? 'row' : 'rows'} hidden` : ''}` }),
        h('div', { class: 'card-actions' }, hideEmpty, exportButton(ctx, fileName(s.site, 'sources', s.model, s.by, s.from, s.to), exportTable, !rows.length)),
      ),
      next ? h('p', { class: 'card-hint', text: `Select a ${GROUP_NAMES[s.by].toLowerCase()} to see its ${PLURAL[next.by]}.` }) : null,
      table.el,
    ),
  )
  drawLines()
  drawBars()
  charts.push({ destroy: () => lineChart?.destroy() }, { destroy: () => barChart?.destroy() })
  return destroy
}

function kpis(t, prev, currency, series) {
  const days = series.previous_from ? `${series.previous_from} – ${series.previous_to}` : ''
  const tile = (id, label, value, now, before, lowerIsBetter = false) => {
    const delta = change(now, before)
    const dir = !delta || delta === 'new' ? '' : now > before !== lowerIsBetter ? 'up' : now === before ? '' : 'down'
    return h(
      'div',
      { class: 'kpi', 'data-testid': `kpi-${id}` },
      h('span', { class: 'kpi-label', text: label }),
      h('span', { class: 'kpi-value', text: value }),
      delta ? h('span', { class: `kpi-change ${dir}`, title: `Previous period ${days}`, 'data-testid': `kpi-${id}-change`, text: `${delta} vs previous` }) : h('span', { class: 'kpi-change', text: ' ' }),
    )
  }
  return h(
    'section',
    { class: 'kpis', 'aria-label': 'Totals against the previous period' },
    tile('visitors', 'Visitors', count(t.visitors), t.visitors, prev.visitors),
    tile('sessions', 'Sessions', count(t.sessions), t.sessions, prev.sessions),
    tile('leads', 'Leads', fractional(t.leads), t.leads, prev.leads),
    tile('sales', 'Sales', fractional(t.sales), t.sales, prev.sales),
    tile('revenue', 'Revenue', money(t.revenue, currency), t.revenue, prev.revenue),
    tile('cost', 'Cost', money(t.cost, currency), t.cost, prev.cost, true),
    tile('roas', 'ROAS', multiple(t.roas), t.roas, prev.roas),
    tile('cpl', 'Cost / lead', money(t.cost_per_lead, currency), t.cost_per_lead, prev.cost_per_lead, true),
  )
}
