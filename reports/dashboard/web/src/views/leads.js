// The lead list: the leads of the range, newest (or best scored) first, each with its
// first and last touch and the stage its person reached, opening the journey.
import { PATHS } from '../api.js'
import { STAGE_NAMES } from '../columns.js'
import { fileName, toCSV } from '../csv.js'
import { h, replace, scrollable, select } from '../dom.js'
import { NONE, count, fractional, keyLabel, timestamp } from '../format.js'
import { MODEL_NAMES, PAGE, reportParams } from '../state.js'

const MAX_EXPORT = 5000


export async function leadsView(root, ctx) {
  const s = ctx.state
  const params = { ...reportParams(s), model: s.model, order: s.order }
  const data = await ctx.get(PATHS.leads, { ...params, offset: s.offset, limit: PAGE })
  const leads = Array.isArray(data.leads) ? data.leads : []
  const total = Number(data.total) || 0
  const open = (id) => {
    ctx.journeyInput = ''
    ctx.set({ view: 'journey', conversion: String(id ?? '') })
  }
  const touchCell = (t) =>
    h(
      'td',
      { class: 'text' },
      t ? [h('span', { class: 'badge', text: keyLabel(t.channel) }), h('span', { class: 'sub-line', text: [[t.source, t.medium].filter(Boolean).join(' / '), t.campaign, t.term].filter(Boolean).join(' · ') || NONE })] : NONE,
    )
  const table = h(
    'table',
    { class: 'report leads', 'data-testid': 'leads-table' },
    h('caption', { class: 'sr-only', text: 'Leads' }),
    h('thead', null, h('tr', null, ['Lead', 'Time', 'Type', 'Stage', 'First touch', 'Last touch', 'Touches', 'Score'].map((t) => h('th', { scope: 'col', class: t === 'Touches' || t === 'Score' ? 'num' : 'text', text: t })))),
    h(
      'tbody',
      null,
      leads.length
        ? leads.map((l) =>
            h(
              'tr',
              null,
              h('th', { scope: 'row', class: 'text' }, h('button', { type: 'button', class: 'link', 'aria-label': `Journey of lead ${l.conversion_id}`, title: 'Open the journey', onclick: () => open(l.conversion_id), text: String(l.conversion_id ?? '') })),
              h('td', { class: 'text nowrap', text: timestamp(l.occurred_at) }),
              h('td', { class: 'text', text: l.lead_type || NONE }),
              h('td', { class: 'text' }, h('span', { class: 'badge stage-badge', text: STAGE_NAMES[l.stage] || l.stage || NONE })),
              touchCell(l.first_touch),
              touchCell(l.last_touch),
              h('td', { class: `num${l.touches ? '' : ' zero'}`, text: count(l.touches) }),
              h('td', { class: 'num', text: typeof l.score === 'number' ? fractional(l.score) : NONE }),
            ),
          )
        : h('tr', null, h('td', { class: 'empty', colspan: 8, text: 'No leads in this date range and filters.' })),
    ),
  )
  const first = total ? s.offset + 1 : 0
  const last = s.offset + leads.length
  const pager = h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages of leads' },
    h('button', { type: 'button', class: 'button secondary', disabled: s.offset <= 0, text: '← Newer', onclick: () => ctx.set({ offset: Math.max(0, s.offset - PAGE) }) }),
    h('span', { class: 'muted', 'data-testid': 'leads-range', text: `${count(first)}–${count(last)} of ${count(total)}` }),
    h('button', { type: 'button', class: 'button secondary', disabled: last >= total, text: 'Older →', onclick: () => ctx.set({ offset: s.offset + PAGE }) }),
  )
  // Every lead of the range (up to MAX_EXPORT), not only this page.
  const exportAll = async () => {
    const out = []
    for (let offset = 0; offset < Math.min(total, MAX_EXPORT); offset += 500) {
      const page = await ctx.get(PATHS.leads, { ...params, offset, limit: 500 })
      out.push(...(Array.isArray(page.leads) ? page.leads : []))
    }
    const t = (x, k) => x?.[k] ?? ''
    const header = ['Conversion ID', 'Time (UTC)', 'Lead type', 'Stage', 'Touches', 'Score', ...['First', 'Last'].flatMap((w) => ['channel', 'source', 'medium', 'campaign', 'keyword', 'landing page', 'time (UTC)'].map((k) => `${w} touch ${k}`))]
    const rows = out.map((l) => [l.conversion_id, timestamp(l.occurred_at).replace(' UTC', ''), l.lead_type, l.stage, l.touches, l.score ?? '', ...[l.first_touch, l.last_touch].flatMap((x) => [t(x, 'channel'), t(x, 'source'), t(x, 'medium'), t(x, 'campaign'), t(x, 'term'), t(x, 'landing_page'), x ? timestamp(x.at).replace(' UTC', '') : ''])])
    ctx.download(fileName(s.site, 'leads', s.model, s.from, s.to), toCSV(header, rows))
  }
  const filtered = Object.keys(s.filters).length > 0
  replace(
    root,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'leads-title' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { class: 'card-title', id: 'leads-title', text: `${count(total)} ${total === 1 ? 'lead' : 'leads'}` }),
        h('span', { class: 'card-note', text: `${data.from || s.from} – ${data.to || s.to}${filtered ? ` · credited to the filters under ${MODEL_NAMES[s.model].toLowerCase()}` : ''}` }),
        h(
          'div',
          { class: 'card-actions' },
          h(
            'label',
            { class: 'inline-field' },
            h('span', { text: 'Order' }),
            select({ name: 'order', onchange: (e) => ctx.set({ order: e.target.value, offset: 0 }) }, [['newest', 'Newest first'], ['score', data.scored ? 'Best scored first' : 'Best scored first (no scores yet)']], s.order),
          ),
          h('button', { type: 'button', class: 'button secondary', 'data-testid': 'export-csv', disabled: !total, text: 'Export CSV', onclick: exportAll }),
        ),
      ),
      data.scored ? null : h('p', { class: 'card-hint', text: 'Lead scoring is not set up for this site: scores show — and “best scored” lists the newest first.' }),
      scrollable(table, 'Leads'),
      total > PAGE ? pager : null,
    ),
  )
}
