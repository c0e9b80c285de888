// CSV building for the table exports. Report keys come from URL parameters
// anyone can set, so a text cell that a spreadsheet would run as a formula is
// prefixed with a quote (OWASP "CSV injection").
const FORMULA = /^[=+\-@\t\r]/

export function cell(v) {
  if (v === null || v === undefined) return ''
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : ''
  let s = String(v)
  if (FORMULA.test(s)) s = "'" + s
  if (/[",\r\n]/.test(s) || s !== s.trim()) s = '"' + s.replace(/"/g, '""') + '"'
  return s
}

// header: column titles; rows: arrays of cells. Lines end in CRLF (RFC 4180).
export const toCSV = (header, rows) => [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n'

// A file name like touchpoint-demo-sources-linear-campaign-2026-10-01-2026-10-31.csv.
export const fileName = (...parts) =>
  ['touchpoint', ...parts].map((p) => String(p).replace(/[^\w.-]+/g, '_')).join('-') + '.csv'
