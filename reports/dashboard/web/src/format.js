// Number and date formatting for everything the dashboard shows. Attributed
// leads and sales are credit sums, so they are fractional and shown with two
// decimals; missing values (a null ROI, a rate with nothing to divide) are "—".
const LOCALE = 'en-US'
export const NONE = '—'

const integer = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 })
const fraction = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
const percent = new Intl.NumberFormat(LOCALE, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 })
const credit = new Intl.NumberFormat(LOCALE, { style: 'percent', maximumFractionDigits: 1 })
const days = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 })
const moneyByCurrency = new Map()

const finite = (n) => typeof n === 'number' && Number.isFinite(n)

// Visitors, sessions, lifecycle counts.
export const count = (n) => (finite(n) ? integer.format(n) : NONE)

// Leads and sales.
export const fractional = (n) => (finite(n) ? fraction.format(n) : NONE)

// Revenue and cost; with a currency code when the data has one.
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

// ROI and stage-to-stage rates, given as ratios (0.25 → 25.0%).
export const ratio = (x) => (finite(x) ? percent.format(x) : NONE)

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

// Report keys can be empty (no campaign, no keyword).
export const keyLabel = (k) => (k === '' || k === null || k === undefined ? '(not set)' : String(k))
