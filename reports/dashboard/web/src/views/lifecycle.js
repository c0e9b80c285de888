// The lifecycle funnel: how many leads of each key reach each stage, how fast, and how
// many are stalled on the way, under the chosen model and filters.
import { PATHS } from '../api.js'
import { bars } from '../chart.js'
import { STAGE_NAMES, stageCSV, stageCells } from '../columns.js'
import { fileName, toCSV } from '../csv.js'
import { exportButton, h, replace, scrollable } from '../dom.js'
import { NONE, compactCount, fractional, keyLabel, ratio } from '../format.js'
import { GROUP_NAMES, MODEL_NAMES, reportParams } from '../state.js'

const DEFAULT_STAGES = ['lead', 'mql', 'sal', 'sql', 'opportunity', 'customer']

export async function lifecycleView(root, ctx) {
  const s = ctx.state
  const data = await ctx.get(PATHS.lifecycle, { ...reportParams(s), model: s.model, by: s.stageBy })
  const stages = Array.isArray(data.stages) && data.stages.length ? data.stages.map(String) : DEFAULT_STAGES
  const all = Array.isArray(data.rows) ? data.rows : []
  const rows = s.hideEmpty ? all.filter((r) => Object.values(r.counts || {}).some(Boolean)) : all
  const totals = data.totals || {}
  const stallDays = Number(data.stall_after_days) || 30
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
      h('span', { class: `stage-count${c.value === 0 ? ' zero' : ''}`, text: c.count }),
      c.rate && c.rate !== NONE ? h('span', { class: 'stage-sub', text: c.median !== NONE ? `${c.rate} · ${c.median}` : c.rate }) : null,
      c.stalled > 0 ? h('span', { class: 'stage-stalled', text: `${fractional(c.stalled)} stalled` }) : null,
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
        : h('tr', null, h('td', { class: 'empty', colspan: stages.length + 1, text: 'No leads in this date range and filters.' })),
    ),
    rows.length ? h('tfoot', null, line(totals, h('th', { scope: 'row', class: 'text', text: 'Total' }))) : null,
  )
  const csv = () => {
    const [header, body] = stageCSV(GROUP_NAMES[s.stageBy], rows, totals, stages)
    return toCSV(header, body)
  }

  replace(
    root,
    h(
      'section',
      { class: 'kpis', 'aria-label': 'Funnel totals' },
      tile('leads', name(first), fractional(totals.counts?.[first])),
      tile('customers', name(lastStage), fractional(totals.counts?.[lastStage])),
      tile('overall', `${name(first)} → ${name(lastStage)}`, ratio(overall)),
      tile('stalled', 'Stalled', fractional(stalledTotal)),
    ),
    h('section', { class: 'card', 'aria-labelledby': 'funnel-title' }, h('div', { class: 'card-head' }, h('h2', { class: 'card-title', id: 'funnel-title', text: 'Funnel' }), h('span', { class: 'card-note', text: 'Leads of the range and the people reaching each stage' })), box),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'lifecycle-title' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { class: 'card-title', id: 'lifecycle-title', text: `Lifecycle by ${GROUP_NAMES[s.stageBy].toLowerCase()} · ${MODEL_NAMES[data.model] || MODEL_NAMES[s.model]}` }),
        h('div', { class: 'card-actions' }, h('label', { class: 'toggle' }, h('input', { type: 'checkbox', name: 'hide_empty', checked: s.hideEmpty, onchange: (e) => ctx.set({ hideEmpty: e.target.checked }) }), h('span', { text: 'Hide empty rows' })), exportButton(ctx, fileName(s.site, 'lifecycle', s.model, s.stageBy, s.from, s.to), csv, !rows.length)),
      ),
      h(
        'p',
        { class: 'card-hint', 'data-testid': 'lifecycle-legend' },
        `Each cell: how many reached the stage · the share of the stage before that did · the median days it took. `,
        h('strong', { text: 'Stalled' }),
        `: reached this stage over ${stallDays} days ago and has gone no further. Leads count under the touches the ${MODEL_NAMES[s.model].toLowerCase()} model credits (fractions for multi-touch models).`,
      ),
      scrollable(table, 'Lifecycle funnel'),
    ),
  )
  box.style.height = '240px'
  const chart = bars(box, {
    labels: stages.map(name),
    datasets: [{ label: 'Leads', data: stages.map((st) => totals.counts?.[st] ?? 0) }],
    format: fractional,
    tick: compactCount,
    horizontal: false,
  })
  return () => chart.destroy()
}
