// Table columns of the reports: one definition drives the on-screen table, its
// sorting and its CSV export, so the export is exactly what the table shows.
import { count, fractional, keyLabel, medianDays, money, multiple, ratio, unconvertedText } from './format.js'
import { GROUP_NAMES } from './state.js'

const round = (n, d) => (typeof n === 'number' && Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : null)

// col(title, value, show, csvValue): value is the sort value; numeric columns align right.
const col = (id, title, value, show, csv = value, numeric = true, sub = false) => ({ id, title, value, show, csv, numeric, sub })

// A money column: shown with the report's currency, exported in its unit.
const moneyCol = (id, title, currency) => ({ ...col(id, title, (r) => r[id], (r) => money(r[id], currency), (r) => round(r[id], 2)), currency })

// The source report's columns. Amounts are in the report's currency; what could not be
// converted gets a column of its own when a row has any.
export function sourceColumns(by, currency = '', rows = []) {
  const cols = [
    col('key', GROUP_NAMES[by] || 'Key', (r) => r.key ?? '', (r) => keyLabel(r.key), (r) => r.key ?? '', false),
    col('visitors', 'Visitors', (r) => r.visitors, (r) => count(r.visitors)),
    col('sessions', 'Sessions', (r) => r.sessions, (r) => count(r.sessions)),
    col('leads', 'Leads', (r) => r.leads, (r) => fractional(r.leads), (r) => round(r.leads, 2)),
    ...['form', 'call', 'chat', 'other'].map((t) =>
      col(`leads_${t}`, t[0].toUpperCase() + t.slice(1), (r) => r.leads_by_type?.[t], (r) => fractional(r.leads_by_type?.[t]), (r) => round(r.leads_by_type?.[t], 2), true, true),
    ),
    col('sales', 'Sales', (r) => r.sales, (r) => fractional(r.sales), (r) => round(r.sales, 2)),
    moneyCol('revenue', 'Revenue', currency),
    moneyCol('cost', 'Cost', currency),
    col('clicks', 'Clicks', (r) => r.clicks, (r) => count(r.clicks)),
    col('impressions', 'Impressions', (r) => r.impressions, (r) => count(r.impressions)),
    moneyCol('cost_per_lead', 'Cost / lead', currency),
    moneyCol('cost_per_sale', 'Cost / sale', currency),
    col('roas', 'ROAS', (r) => r.roas, (r) => multiple(r.roas), (r) => round(r.roas, 2)),
    col('roi', 'ROI', (r) => r.roi, (r) => ratio(r.roi), (r) => round(r.roi === null || r.roi === undefined ? null : r.roi * 100, 1)),
  ]
  if (rows.some((r) => Array.isArray(r.unconverted) && r.unconverted.length))
    cols.push(col('unconverted', 'Not converted', (r) => unconvertedText(r.unconverted), (r) => unconvertedText(r.unconverted) || '—', (r) => unconvertedText(r.unconverted), false))
  return cols
}

// The CSV header names say units where the table shows them by format: "ROI %",
// "Revenue (EUR)".
export function csvTitle(c) {
  if (c.id === 'roi') return 'ROI %'
  if (c.id.startsWith('leads_')) return `${c.title} leads`
  if (c.currency && /^[A-Z]{3}$/.test(c.currency)) return `${c.title} (${c.currency})`
  return c.title
}

// Sorts a copy; nulls last whatever the direction, ties by key.
export function sortRows(rows, column, dir = 'desc') {
  const s = dir === 'asc' ? 1 : -1
  return [...rows].sort((a, b) => {
    const x = column.value(a)
    const y = column.value(b)
    const nx = x === null || x === undefined
    const ny = y === null || y === undefined
    if (nx || ny) return nx === ny ? 0 : nx ? 1 : -1
    if (typeof x === 'string' || typeof y === 'string') return s * String(x).localeCompare(String(y))
    return s * (x - y) || String(a.key).localeCompare(String(b.key))
  })
}

// The rows of a CSV export: what the table holds in its current order, then totals.
export function csvRows(columns, rows, totals) {
  const out = rows.map((r) => columns.map((c) => c.csv(r)))
  if (totals) out.push(columns.map((c, i) => (i === 0 ? 'Total' : c.csv(totals))))
  return out
}

export const STAGE_NAMES = { lead: 'Lead', mql: 'MQL', sal: 'SAL', sql: 'SQL', opportunity: 'Opportunity', customer: 'Customer' }

// A lifecycle row as per-stage cells: count (the model's credit: whole for single-touch
// models), the rate and median days from the stage before, and how many are stalled there.
export function stageCells(row, stages) {
  return stages.map((s, i) => {
    const pair = i > 0 ? `${stages[i - 1]}_${s}` : ''
    return {
      stage: s,
      value: row.counts?.[s] ?? 0,
      count: fractional(row.counts?.[s]),
      rate: pair ? ratio(row.rates?.[pair]) : '',
      median: pair ? medianDays(row.median_days?.[pair]) : '',
      stalled: row.stalled?.[s] ?? 0,
    }
  })
}

// The lifecycle table as CSV: per stage its count, rate, median days and stalled.
export function stageCSV(dimTitle, rows, totals, stages) {
  const header = [dimTitle]
  stages.forEach((s, i) => {
    header.push(STAGE_NAMES[s] || s)
    if (i > 0) header.push(`${STAGE_NAMES[s] || s} rate %`, `Days ${stages[i - 1]} to ${s} (median)`)
    header.push(`${STAGE_NAMES[s] || s} stalled`)
  })
  const line = (key, r) => {
    const out = [key]
    stages.forEach((s, i) => {
      const pair = `${stages[i - 1]}_${s}`
      out.push(round(r.counts?.[s], 2))
      if (i > 0) out.push(round(r.rates?.[pair] === null || r.rates?.[pair] === undefined ? null : r.rates[pair] * 100, 1), round(r.median_days?.[pair], 1))
      out.push(round(r.stalled?.[s], 2))
    })
    return out
  }
  return [header, [...rows.map((r) => line(r.key ?? '', r)), line('Total', totals)]]
}
