// The journey explorer: one person's touchpoints in order, with the credit
// each attribution model gives every touch for the conversion looked up.
import { ApiError, PATHS } from '../api.js'
import { h, message, replace } from '../dom.js'
import { keyLabel, money, share, timestamp } from '../format.js'
import { MODELS, MODEL_NAMES, journeyQuery } from '../state.js'

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
    data = await ctx.get(PATHS.journeys, { site: s.site, ...q })
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
  replace(
    out,
    summary,
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', { class: 'card-title', text: 'Touchpoints' }), h('span', { class: 'card-note', text: 'Oldest first · credit per model' })), h('div', { class: 'table-wrap' }, table)),
  )
}
