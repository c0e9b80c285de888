// The lifecycle funnel: how many leads of each source reach each stage, how
// fast, and how many are stalled on the way.
import { PATHS } from '../api.js'
import { bars } from '../chart.js'
import { STAGE_NAMES, stageCells } from '../columns.js'
import { h, replace } from '../dom.js'
import { NONE, count, keyLabel, ratio } from '../format.js'
import { GROUP_NAMES } from '../state.js'

const DEFAULT_STAGES = ['lead', 'mql', 'sal', 'sql', 'opportunity', 'customer']

export async function lifecycleView(root, ctx) {
  const s = ctx.state
  const data = await ctx.get(PATHS.lifecycle, { site: s.site, from: s.from, to: s.to, by: s.stageBy })
  const stages = Array.isArray(data.stages) && data.stages.length ? data.stages.map(String) : DEFAULT_STAGES
  const rows = Array.isArray(data.rows) ? data.rows : []
  const totals = data.totals || {}
  const first = stages[0]
  const lastStage = stages[stages.length - 1]
  const overall = totals.counts?.[first] ? totals.counts[lastStage] / totals.counts[first] : null
  const stalledTotal = Object.values(totals.stalled || {}).reduce((a, b) => a + (Number(b) || 0), 0)

  const tile = (id, label, value) => h('div', { class: 'kpi', 'data-testid': `kpi-${id}` }, h('span', { class: 'kpi-label', text: label }), h('span', { class: 'kpi-value', text: value }))
  const box = h('div', { class: 'chart funnel' })
  const name = (st) => STAGE_NAMES[st] || st

  const stageCell = (c) =>
    h(
      'td',
      { class: 'num stage' },
      h('span', { class: `stage-count${c.count === '0' ? ' zero' : ''}`, text: c.count }),
      c.rate && c.rate !== NONE ? h('span', { class: 'stage-sub', text: c.median !== NONE ? `${c.rate} · ${c.median}` : c.rate }) : null,
      c.stalled > 0 ? h('span', { class: 'stage-stalled', text: `${count(c.stalled)} stalled` }) : null,
    )
  const line = (r, head) => h('tr', null, head, stageCells(r, stages).map(stageCell))
  const table = h(
    'table',
    { class: 'report lifecycle', 'data-testid': 'lifecycle-table' },
    h('caption', { class: 'sr-only', text: 'Lifecycle funnel' }),
    h('thead', null, h('tr', null, h('th', { scope: 'col', class: 'text', text: GROUP_NAMES[s.stageBy] }), stages.map((st) => h('th', { scope: 'col', class: 'num', text: name(st) })))),
    h(
      'tbody',
      null,
      rows.length
        ? rows.map((r) => line(r, h('th', { scope: 'row', class: `text${r.key ? '' : ' muted'}`, title: keyLabel(r.key), text: keyLabel(r.key) })))
        : h('tr', null, h('td', { class: 'empty', colspan: stages.length + 1, text: 'No leads in this date range.' })),
    ),
    rows.length ? h('tfoot', null, line(totals, h('th', { scope: 'row', class: 'text', text: 'Total' }))) : null,
  )

  replace(
    root,
    h(
      'section',
      { class: 'kpis', 'aria-label': 'Funnel totals' },
      tile('leads', name(first), count(totals.counts?.[first])),
      tile('customers', name(lastStage), count(totals.counts?.[lastStage])),
      tile('overall', `${name(first)} → ${name(lastStage)}`, ratio(overall)),
      tile('stalled', 'Stalled', count(stalledTotal)),
    ),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', { class: 'card-title', text: 'Funnel' }), h('span', { class: 'card-note', text: 'Leads reaching each stage' })), box),
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { class: 'card-title', text: `Lifecycle by ${GROUP_NAMES[s.stageBy].toLowerCase()}` }),
        h('span', { class: 'card-note', text: 'Count · conversion from the stage before · median days · stalled' }),
      ),
      h('div', { class: 'table-wrap' }, table),
    ),
  )
  box.style.height = '240px'
  const chart = bars(box, {
    labels: stages.map(name),
    datasets: [{ label: 'Leads', data: stages.map((st) => totals.counts?.[st] ?? 0) }],
    format: count,
    horizontal: false,
  })
  return () => chart.destroy()
}
