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
export const LIFECYCLE_GROUPS = ['channel', 'source']
export const VIEWS = ['sources', 'compare', 'lifecycle', 'journey', 'exports', 'deliveries']
export const DEFAULT_SITE = 'demo'
export const RANGE_DAYS = 30

export const isDate = (s) => typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s + 'T00:00:00Z'))

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
  return {
    site: (q.get('site') || '').trim() || DEFAULT_SITE,
    view: oneOf(q.get('view'), VIEWS, 'sources'),
    model: oneOf(q.get('model'), MODELS, 'first_click'),
    by: oneOf(q.get('by'), GROUPS, 'channel'),
    stageBy: oneOf(q.get('stage_by'), LIFECYCLE_GROUPS, 'source'),
    from,
    to,
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
  if (s.view === 'journey' && s.conversion) q.set('conversion_id', s.conversion)
  return '?' + q.toString()
}

// The journey lookup parameter for what a user typed: an email or a conversion id.
export function journeyQuery(input) {
  const v = String(input || '').trim()
  if (!v) return null
  return v.includes('@') ? { email: v } : { conversion_id: v }
}
