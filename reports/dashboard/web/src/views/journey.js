// The journey explorer: what one person did before a conversion (pages, forms, calls,
// conversions) and their touchpoints in order, with the credit each attribution model
// gives every touch for the conversion looked up.
import { ApiError, PATHS } from '../api.js'
import { STAGE_NAMES } from '../columns.js'
import { fileName, toCSV } from '../csv.js'
import { exportButton, h, message, replace, scrollable } from '../dom.js'
import { keyLabel, money, share, timestamp } from '../format.js'
import { MODELS, MODEL_NAMES, journeyQuery } from '../state.js'

const EVENT_NAMES = { pageview: 'Page view', form_submit: 'Form submitted', call_click: 'Call click', email_click: 'Email click', track: 'Event', identify: 'Identified' }

// The touch of a conversion without touchpoints in its lookback window.
const NO_TOUCHPOINT = '(no touchpoint)'

export async function journeyView(root, ctx) {
  const s = ctx.state
  const input = h('input', { type: 'search', name: 'q', value: ctx.journeyInput || s.conversion, placeholder: 'Conversion ID or email', 'aria-label': 'Conversion ID or email', autocomplete: 'off', spellcheck: 'false', required: true })
  const out = h('div', { class: 'journey-out' })
  const form = h(
    'form',
    {
      class: 'card search',
      'data-testid': 'journey-form',
      onsubmit: (e) => {
        e.preventDefault()
        const q = journeyQuery(input.value)
        if (!q) return
        ctx.journeyInput = input.value.trim()
        // Emails stay out of the address bar; conversion ids make shareable links.
        ctx.set({ conversion: q.conversion_id || '' })
      },
    },
    h('label', { class: 'field grow' }, h('span', { class: 'field-label', text: 'Find a lead' }), input),
    h('button', { type: 'submit', class: 'button', text: 'Show journey' }),
  )
  replace(root, form, out)

  const q = journeyQuery(ctx.journeyInput || s.conversion)
  if (!q) {
    replace(out, message('info', 'Enter a conversion ID (lead, sale or stage) or the email of a lead to see every touchpoint before it and the credit each model gives it.'))
    return
  }
  let data
  try {
    // An email is sent in the body, never in the URL.
    data = q.email ? await ctx.get(PATHS.journeys, { site: s.site }, { email: q.email }) : await ctx.get(PATHS.journeys, { site: s.site, ...q })
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      replace(out, message('error', `No journey found: ${err.message}`))
      return
    }
    throw err
  }
  render(out, data, ctx)
}

function render(out, data, ctx) {
  const conv = data.conversion || {}
  const touches = Array.isArray(data.touchpoints) ? data.touchpoints : []
  const others = Array.isArray(data.conversions) ? data.conversions : []
  const dl = (pairs) => h('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== '' && v !== undefined && v !== null).map(([k, v]) => h('div', null, h('dt', { text: k }), h('dd', { text: v }))))

  const convLabel = (c) => [c.type, c.lead_type].filter(Boolean).join(' · ')
  const summary = h(
    'section',
    { class: 'card', 'data-testid': 'journey-summary' },
    h('div', { class: 'card-head' }, h('h2', { class: 'card-title', text: `Conversion ${conv.conversion_id ?? ''}` }), h('span', { class: 'badge', text: convLabel(conv) || 'conversion' })),
    dl([
      ['Occurred', timestamp(conv.occurred_at)],
      ['Value', conv.value ? money(conv.value, conv.currency) + (conv.currency && !/^[A-Z]{3}$/.test(conv.currency) ? ` ${conv.currency}` : '') : ''],
      ['Person', data.person_id],
      ['Touchpoints', String(touches.length)],
    ]),
    others.length > 1
      ? h(
          'div',
          { class: 'chips', 'aria-label': 'All conversions of this person' },
          h('span', { class: 'field-label', text: 'All conversions' }),
          [...others]
            .sort((a, b) => String(a.occurred_at).localeCompare(String(b.occurred_at)))
            .map((c) =>
              h('button', {
                type: 'button',
                class: `chip${c.conversion_id === conv.conversion_id ? ' active' : ''}`,
                'aria-pressed': String(c.conversion_id === conv.conversion_id),
                text: `${convLabel(c) || 'conversion'} · ${timestamp(c.occurred_at).replace(' UTC', '')}`,
                title: String(c.conversion_id ?? ''),
                onclick: () => {
                  ctx.journeyInput = ''
                  ctx.set({ conversion: String(c.conversion_id ?? '') })
                },
              }),
            ),
        )
      : null,
  )

  const credit = (c) => {
    const td = h('td', { class: 'num credit', text: share(c) })
    if (typeof c === 'number' && Number.isFinite(c)) td.style.setProperty('--credit', String(Math.max(0, Math.min(1, c))))
    return td
  }
  const cellText = (v) => (v === '' || v === null || v === undefined ? '—' : String(v))
  const table = h(
    'table',
    { class: 'report journey', 'data-testid': 'journey-table' },
    h('caption', { class: 'sr-only', text: 'Touchpoints and credit by model' }),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['#', 'Time', 'Channel', 'Source / medium', 'Campaign · term', 'Landing page · referrer'].map((t) => h('th', { scope: 'col', class: t === '#' ? 'num' : 'text', text: t })),
        MODELS.map((m) => h('th', { scope: 'col', class: 'num model', text: MODEL_NAMES[m] })),
      ),
    ),
    h(
      'tbody',
      null,
      touches.length
        ? touches.map((t, i) =>
            !t.session_id && t.channel === NO_TOUCHPOINT
              ? h(
                  'tr',
                  { class: 'no-touch', 'data-testid': 'no-touchpoint' },
                  h('td', { class: 'num', text: String(i + 1) }),
                  h('td', { class: 'text nowrap' }, h('span', { text: timestamp(t.started_at).slice(0, 10) }), h('span', { class: 'sub-line', text: timestamp(t.started_at).slice(11) })),
                  h('td', { class: 'text' }, h('span', { class: 'badge', text: NO_TOUCHPOINT })),
                  h('td', { class: 'text muted', colspan: 3, text: 'No visit in the lookback window (or only a bot’s): the credit is kept here, not given to a visit that did not happen.' }),
                  MODELS.map((m) => credit(t.credits?.[m])),
                )
              : h(
              'tr',
              null,
              h('td', { class: 'num', text: String(i + 1) }),
              h('td', { class: 'text nowrap' }, h('span', { text: timestamp(t.started_at).slice(0, 10) }), h('span', { class: 'sub-line', text: timestamp(t.started_at).slice(11) })),
              h('td', { class: 'text' }, h('span', { class: 'badge', text: keyLabel(t.channel) })),
              h('td', { class: 'text', text: `${cellText(t.source)} / ${cellText(t.medium)}` }),
              h('td', { class: 'text' }, h('span', { text: cellText(t.campaign) }), t.term ? h('span', { class: 'sub-line', text: String(t.term) }) : null),
              h(
                'td',
                { class: 'text clip', title: [t.landing_page, t.referrer].filter(Boolean).join('\n') || undefined },
                h('span', { text: cellText(t.landing_page) }),
                t.referrer ? h('span', { class: 'sub-line', text: String(t.referrer) }) : null,
              ),
              MODELS.map((m) => credit(t.credits?.[m])),
            ),
          )
        : h('tr', null, h('td', { class: 'empty', colspan: 6 + MODELS.length, text: 'No touchpoints before this conversion (within the lookback window).' })),
    ),
  )
  const site = ctx.state.site
  const id = conv.conversion_id ?? 'journey'
  const touchCSV = () =>
    toCSV(
      ['Time (UTC)', 'Channel', 'Source', 'Medium', 'Campaign', 'Keyword', 'Landing page', 'Referrer', ...MODELS.map((m) => `${MODEL_NAMES[m]} credit %`)],
      touches.map((t) => [timestamp(t.started_at).replace(' UTC', ''), t.channel, t.source, t.medium, t.campaign, t.term, t.landing_page, t.referrer, ...MODELS.map((m) => (typeof t.credits?.[m] === 'number' ? Math.round(t.credits[m] * 1000) / 10 : ''))]),
    )
  replace(
    out,
    summary,
    timeline(data, touches, ctx, site, id),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'touch-title' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', id: 'touch-title', text: 'Touchpoints' }), h('span', { class: 'card-note', text: 'Oldest first · credit per model' }), h('div', { class: 'card-actions' }, exportButton(ctx, fileName(site, 'touchpoints', id), touchCSV, !touches.length))),
      scrollable(table, 'Touchpoints and credit by model'),
    ),
  )
}

// What the person did, in order: each visit with its pages, forms, calls and the
// conversions recorded for them.
function timeline(data, touches, ctx, site, id) {
  const events = Array.isArray(data.events) ? data.events : []
  const visits = new Map(touches.filter((t) => t.session_id).map((t) => [String(t.session_id), t]))
  const what = (e) => {
    if (e.type === 'conversion') {
      const c = e.conversion || {}
      if (c.type === 'lead') return `Lead${c.lead_type ? ` (${c.lead_type})` : ''}`
      if (c.type === 'sale') return `Sale${c.value ? ` · ${money(c.value, c.currency)}` : ''}`
      return `Stage: ${STAGE_NAMES[c.type] || c.type || 'conversion'}`
    }
    return EVENT_NAMES[e.type] || String(e.type || 'Event')
  }
  const detail = (e) => {
    if (e.type === 'conversion') return String(e.conversion?.conversion_id ?? '')
    const parts = []
    if (e.name) parts.push(String(e.name))
    if (e.link) parts.push(String(e.link).replace(/^(tel|mailto):/, ''))
    if (e.path) parts.push(e.title ? `${e.path} · ${e.title}` : String(e.path))
    return parts.join(' · ')
  }
  let session = null
  const items = []
  for (const e of events) {
    if (e.type !== 'conversion' && e.session_id && e.session_id !== session) {
      session = e.session_id
      const v = visits.get(String(e.session_id))
      items.push(h('li', { class: 'visit' }, h('span', { class: 'badge', text: v ? keyLabel(v.channel) : e.bot ? 'Bot' : 'Visit' }), h('span', { class: 'visit-text', text: v ? `Visit from ${[v.source, v.medium].filter(Boolean).join(' / ') || keyLabel(v.channel)}${v.campaign ? ` · ${v.campaign}` : ''}` : e.bot ? 'A visit by a bot (not a touchpoint)' : 'A visit' })))
    }
    items.push(
      h(
        'li',
        { class: `event ${e.type === 'conversion' ? 'conversion' : ''}`, 'data-type': String(e.type || '') },
        h('time', { datetime: String(e.at || ''), text: timestamp(e.at).replace(' UTC', '') }),
        h('span', { class: 'event-what', text: what(e) }),
        h('span', { class: 'event-detail', text: detail(e) }),
      ),
    )
  }
  const csv = () =>
    toCSV(
      ['Time (UTC)', 'What', 'Detail', 'Path', 'Title', 'Session', 'Visit channel'],
      events.map((e) => [timestamp(e.at).replace(' UTC', ''), what(e), detail(e), e.path ?? '', e.title ?? '', e.session_id ?? '', visits.get(String(e.session_id))?.channel ?? '']),
    )
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'timeline-title', 'data-testid': 'journey-timeline' },
    h(
      'div',
      { class: 'card-head' },
      h('h2', { class: 'card-title', id: 'timeline-title', text: 'What they did' }),
      h('span', { class: 'card-note', text: `From ${timestamp(data.window_from).slice(0, 10)} (the lookback window) to the conversion · pages, forms, calls and conversions` }),
      h('div', { class: 'card-actions' }, exportButton(ctx, fileName(site, 'journey', id), csv, !events.length)),
    ),
    data.events_truncated ? message('info', 'Only the latest 1,000 events are shown.') : null,
    events.length ? h('ol', { class: 'timeline' }, items) : h('p', { class: 'empty', text: 'No pages, forms or calls recorded in the window.' }),
  )
}
