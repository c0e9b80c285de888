// What the dashboard shows, kept in the query string so a view can be
// bookmarked and shared; the admin token never goes there.
export const MODELS = ['first_click', 'last_click', 'last_non_direct', 'linear', 'time_decay', 'position_based', 'data_driven']
export const MODEL_NAMES = {
  first_click: 'First click',
  last_click: 'Last click',
  last_non_direct: 'Last non-direct',
  linear: 'Linear',
  time_decay: 'Time decay',
  position_based: 'Position based',
  data_driven: 'Data-driven',
}
export const GROUPS = ['channel', 'source', 'campaign', 'keyword', 'landing_page', 'country', 'device']
export const GROUP_NAMES = { channel: 'Channel', source: 'Source', campaign: 'Campaign', keyword: 'Keyword', landing_page: 'Landing page', country: 'Country', device: 'Device' }
export const CALL_GROUPS = ['channel', 'source', 'campaign', 'keyword']
export const PLURAL = { channel: 'channels', source: 'sources', campaign: 'campaigns', keyword: 'keywords', landing_page: 'landing pages', country: 'countries', device: 'devices' }
// Drilling down follows this chain: a row's value becomes a filter, the next dimension the grouping.
export const DRILL = ['channel', 'source', 'campaign', 'keyword']
export const LEAD_TYPES = ['form', 'call', 'chat', 'other']
export const INTERVALS = ['day', 'week', 'month']
export const ORDERS = ['newest', 'score']
export const VIEWS = ['sources', 'compare', 'lifecycle', 'leads', 'calls', 'journey', 'exports', 'deliveries']
export const DEFAULT_SITE = 'demo'
export const RANGE_DAYS = 30
export const PAGE = 50
// Parameters of the reports API that filter, in the order they are shown.
export const FILTERS = [...GROUPS, 'lead_type']

// A real YYYY-MM-DD date: 2026-02-30 is not one.
export function isDate(s) {
  if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return false
  const t = Date.parse(s + 'T00:00:00Z')
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === s
}

const day = (t) => new Date(t).toISOString().slice(0, 10)

// The last `days` days up to today (UTC), as the reports API defaults to.
export function lastDays(days, now = Date.now()) {
  const to = day(now)
  return { from: day(Date.parse(to + 'T00:00:00Z') - (days - 1) * 86400000), to }
}

const oneOf = (v, list, def) => (list.includes(v) ? v : def)

export function readState(search, now = Date.now()) {
  const q = new URLSearchParams(search)
  const range = lastDays(RANGE_DAYS, now)
  let from = isDate(q.get('from')) ? q.get('from') : range.from
  let to = isDate(q.get('to')) ? q.get('to') : range.to
  if (from > to) [from, to] = [to, from]
  const filters = {}
  for (const f of GROUPS) {
    const v = (q.get(f) || '').slice(0, 1000)
    if (v) filters[f] = v
  }
  if (LEAD_TYPES.includes(q.get('lead_type'))) filters.lead_type = q.get('lead_type')
  const offset = Number(q.get('offset'))
  return {
    site: (q.get('site') || '').trim() || DEFAULT_SITE,
    view: oneOf(q.get('view'), VIEWS, 'sources'),
    model: oneOf(q.get('model'), MODELS, 'first_click'),
    by: oneOf(q.get('by'), GROUPS, 'channel'),
    stageBy: oneOf(q.get('stage_by'), GROUPS, 'source'),
    from,
    to,
    filters,
    interval: oneOf(q.get('interval'), INTERVALS, 'day'),
    hideEmpty: q.get('hide_empty') === '1',
    order: oneOf(q.get('order'), ORDERS, 'newest'),
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
    conversion: q.get('conversion_id') || '',
  }
}

// The query string for a state; defaults are left out to keep links short.
export function writeState(s) {
  const q = new URLSearchParams()
  q.set('site', s.site)
  if (s.view !== 'sources') q.set('view', s.view)
  if (s.model !== 'first_click') q.set('model', s.model)
  if (s.by !== 'channel') q.set('by', s.by)
  if (s.stageBy !== 'source') q.set('stage_by', s.stageBy)
  q.set('from', s.from)
  q.set('to', s.to)
  for (const f of FILTERS) if (s.filters?.[f]) q.set(f, s.filters[f])
  if (s.interval !== 'day') q.set('interval', s.interval)
  if (s.hideEmpty) q.set('hide_empty', '1')
  if (s.view === 'leads' && s.order !== 'newest') q.set('order', s.order)
  if (s.view === 'leads' && s.offset) q.set('offset', String(s.offset))
  if (s.view === 'journey' && s.conversion) q.set('conversion_id', s.conversion)
  return '?' + q.toString()
}

// The API parameters of a state's range and filters.
export const reportParams = (s) => ({ site: s.site, from: s.from, to: s.to, ...s.filters })

// Drilling into a row: its value becomes a filter, the next dimension of the chain the
// grouping. Null when the grouping is the chain's last (or not in it).
export function drillInto(s, key) {
  const i = DRILL.indexOf(s.by)
  if (i < 0 || i + 1 >= DRILL.length) return null
  return { filters: { ...s.filters, [s.by]: key }, by: DRILL[i + 1] }
}

// The breadcrumb of a drill-down: the chain's filters from the top, each a step back to
// the grouping it was chosen in.
export function drillPath(s) {
  const out = []
  for (const [i, dim] of DRILL.entries()) {
    if (!s.filters[dim]) break
    const filters = { ...s.filters }
    for (const d of DRILL.slice(i)) delete filters[d]
    out.push({ dim, value: s.filters[dim], back: { filters, by: dim } })
  }
  return out
}

// The series API answers at most 800 points: a long range is shown by week or month.
export function intervalFor(from, to, interval) {
  const days = (Date.parse(to) - Date.parse(from)) / 86400000 + 1
  if (interval === 'day' && days > 800) interval = 'week'
  if (interval === 'week' && days > 800 * 7) interval = 'month'
  return interval
}

// The journey lookup parameter for what a user typed: an email or a conversion id.
export function journeyQuery(input) {
  const v = String(input || '').trim()
  if (!v) return null
  return v.includes('@') ? { email: v } : { conversion_id: v }
}
