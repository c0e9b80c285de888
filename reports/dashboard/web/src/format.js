// Number and date formatting for everything the dashboard shows. Attributed
// leads and sales are credit sums: whole numbers under single-touch models, shown
// without decimals, fractions under multi-touch ones, shown with two; missing values
// (a null ROI, a rate with nothing to divide) are "—".
const LOCALE = 'en-US'
export const NONE = '—'

const integer = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 })
const fraction = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
const percent = new Intl.NumberFormat(LOCALE, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 })
const credit = new Intl.NumberFormat(LOCALE, { style: 'percent', maximumFractionDigits: 1 })
const days = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 })
const compact = new Intl.NumberFormat(LOCALE, { notation: 'compact', maximumFractionDigits: 1 })
const moneyByCurrency = new Map()

const finite = (n) => typeof n === 'number' && Number.isFinite(n)

// Visitors, sessions, lifecycle counts.
export const count = (n) => (finite(n) ? integer.format(n) : NONE)

// Leads and sales: "321", "12.35".
export const fractional = (n) => (finite(n) ? (Number.isInteger(Math.round(n * 100) / 100) ? integer.format(n) : fraction.format(n)) : NONE)

// Revenue and cost, in the report's currency (every report names it).
export function money(n, currency = '') {
  if (!finite(n)) return NONE
  if (!/^[A-Z]{3}$/.test(currency)) return fraction.format(n)
  let f = moneyByCurrency.get(currency)
  if (!f) {
    f = new Intl.NumberFormat(LOCALE, { style: 'currency', currency, minimumFractionDigits: 2, maximumFractionDigits: 2 })
    moneyByCurrency.set(currency, f)
  }
  return f.format(n)
}

// Money in chart ticks: "€1.2K".
export function compactMoney(n, currency = '') {
  if (!finite(n)) return NONE
  if (!/^[A-Z]{3}$/.test(currency)) return compact.format(n)
  const key = 'compact:' + currency
  let f = moneyByCurrency.get(key)
  if (!f) {
    f = new Intl.NumberFormat(LOCALE, { style: 'currency', currency, notation: 'compact', maximumFractionDigits: 1 })
    moneyByCurrency.set(key, f)
  }
  return f.format(n)
}

// Counts in chart ticks: "1.2K".
export const compactCount = (n) => (finite(n) ? compact.format(n) : NONE)

// The change from the previous period: "+12.5%", "−3.0%"; "new" from nothing, "" when
// there is nothing to compare.
export function change(now, before) {
  if (!finite(now) || !finite(before)) return ''
  if (before === 0) return now === 0 ? '' : 'new'
  const x = (now - before) / Math.abs(before)
  return (x > 0 ? '+' : x < 0 ? '−' : '±') + percent.format(Math.abs(x))
}

// An amount in a currency the report could not convert, with its code: "CHF 1,200.00".
export const coded = (n, currency) => (finite(n) ? `${/^[A-Z]{3}$/.test(currency) ? currency + ' ' : ''}${fraction.format(n)}` : NONE)

// ROI and stage-to-stage rates, given as ratios (0.25 → 25.0%).
export const ratio = (x) => (finite(x) ? percent.format(x) : NONE)

// ROAS: revenue per unit of cost (4 → "4.00×").
export const multiple = (x) => (finite(x) ? `${fraction.format(x)}×` : NONE)

// What could not be converted for want of an exchange rate: "CHF 1,200.00 revenue · USD 80.00 cost".
export function unconvertedText(list) {
  if (!Array.isArray(list)) return ''
  const parts = []
  for (const u of list) {
    if (finite(u?.revenue) && u.revenue) parts.push(`${coded(u.revenue, u.currency)} revenue`)
    if (finite(u?.cost) && u.cost) parts.push(`${coded(u.cost, u.currency)} cost`)
  }
  return parts.join(' · ')
}

// A model's share of one conversion (0.4 → 40%).
export const share = (x) => (finite(x) ? credit.format(x) : NONE)

// Median days between lifecycle stages.
export const medianDays = (d) => (finite(d) ? `${days.format(d)} d` : NONE)

// A UTC timestamp as "2026-10-20 10:15 UTC": unambiguous for teams in several time zones.
export function timestamp(iso) {
  const t = Date.parse(iso)
  if (!Number.isFinite(t)) return typeof iso === 'string' && iso ? iso : NONE
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ') + ' UTC'
}

// Report keys; the API names an empty value "(none)", older answers left it empty.
export const keyLabel = (k) => (k === '' || k === null || k === undefined ? '(none)' : String(k))
