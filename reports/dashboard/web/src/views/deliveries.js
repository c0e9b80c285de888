// Deliveries: every CRM webhook and Meta Conversions API event the service sent or is
// sending, its state and the receiver's last answer, with "Send again" for each.
import { ApiError, PATHS } from '../api.js'
import { field, h, message, replace, select } from '../dom.js'
import { count, timestamp } from '../format.js'

const STATES = [
  ['', 'Any state'],
  ['pending', 'Pending'],
  ['failed', 'Failed'],
  ['delivered', 'Delivered'],
  ['dropped', 'Dropped'],
]
const TARGETS = [
  ['', 'CRM and Meta'],
  ['webhook', 'CRM webhook'],
  ['meta', 'Meta Conversions API'],
]
const TARGET_NAMES = { webhook: 'CRM', meta: 'Meta' }

export async function deliveriesView(root, ctx) {
  const s = ctx.state
  const f = { state: '', target: '', ...(ctx.deliveryFilter || {}) }
  const change = (k) => (e) => {
    ctx.deliveryFilter = { ...f, [k]: e.target.value }
    ctx.redraw()
  }
  const status = h('div', { class: 'delivery-status', 'aria-live': 'polite' })
  const filters = h(
    'div',
    { class: 'card toolbar-inline' },
    field('State', select({ name: 'delivery_state', onchange: change('state') }, STATES, f.state)),
    field('To', select({ name: 'delivery_target', onchange: change('target') }, TARGETS, f.target)),
  )
  const data = await ctx.get(PATHS.deliveries, { site: s.site, state: f.state, target: f.target, limit: 200 })
  const list = Array.isArray(data.deliveries) ? data.deliveries : []

  const again = (d, button) => async () => {
    button.disabled = true
    try {
      const res = await ctx.get(`${PATHS.deliveries}/${encodeURIComponent(d.id)}/retry`, { site: s.site }, {})
      replace(status, message('info', `Sending ${d.event} of ${d.conversion_id} again: ${res.delivery?.state || 'pending'}.`))
      setTimeout(() => ctx.redraw(), 1500)
    } catch (err) {
      button.disabled = false
      replace(status, message('error', `Could not send again: ${err instanceof ApiError ? err.message : err}`))
    }
  }
  const row = (d) => {
    const button = h('button', { type: 'button', class: 'button secondary', 'data-testid': 'send-again', text: 'Send again' })
    button.addEventListener('click', again(d, button))
    const answer = [d.status ? String(d.status) : '', d.error || ''].filter(Boolean).join(' · ')
    return h(
      'tr',
      { 'data-state': d.state },
      h('td', { class: 'text nowrap', text: timestamp(d.created_at) }),
      h('td', { class: 'text', text: d.event }),
      h('td', { class: 'text', title: d.url || '', text: TARGET_NAMES[d.target] || d.target }),
      h('td', { class: 'text mono', title: d.conversion_id, text: d.conversion_id }),
      h('td', { class: 'text' }, h('span', { class: `badge state-${/^[a-z]+$/.test(d.state) ? d.state : 'other'}`, text: d.state })),
      h('td', { class: 'num', text: count(d.attempts) }),
      h('td', { class: 'text answer', title: answer, text: answer }),
      h('td', { class: 'text nowrap', text: d.next_retry_at ? timestamp(d.next_retry_at) : '' }),
      h('td', { class: 'text' }, button),
    )
  }
  const heads = ['Made', 'Event', 'To', 'Conversion', 'State', 'Attempts', 'Last answer', 'Next attempt', 'Action']
  replace(
    root,
    filters,
    status,
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', text: 'Deliveries' }), h('span', { class: 'card-note', text: `${count(list.length)} latest, newest first` })),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'report deliveries', 'data-testid': 'deliveries-table' },
          h('thead', null, h('tr', null, heads.map((t) => h('th', { scope: 'col', class: 'text', text: t })))),
          h('tbody', null, list.length ? list.map(row) : h('tr', null, h('td', { class: 'empty', colspan: heads.length, text: 'No deliveries: set webhook_url or meta.pixel_id for this site.' }))),
        ),
      ),
    ),
  )
}
