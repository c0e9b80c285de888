// First click against last click: the same grouping and dates under both
// models, side by side, to show which sources open journeys and which close them.
import { PATHS } from '../api.js'
import { bars } from '../chart.js'
import { sourceColumns } from '../columns.js'
import { h, replace } from '../dom.js'
import { fractional, keyLabel } from '../format.js'
import { GROUP_NAMES, MODEL_NAMES } from '../state.js'
import { reportTable } from '../table.js'

const TOP = 8
const SHOWN = ['key', 'leads', 'sales', 'revenue']

export async function compareView(root, ctx) {
  const s = ctx.state
  const q = (model) => ctx.get(PATHS.sources, { site: s.site, from: s.from, to: s.to, model, by: s.by })
  const [first, last] = await Promise.all([q('first_click'), q('last_click')])
  const charts = []
  const panel = (data, model, color) => {
    const rows = Array.isArray(data.rows) ? data.rows : []
    const columns = sourceColumns(s.by, typeof data.currency === 'string' ? data.currency : '').filter((c) => SHOWN.includes(c.id))
    const top = rows.filter((r) => r.leads > 0).sort((a, b) => b.leads - a.leads).slice(0, TOP)
    const box = h('div', { class: 'chart' })
    box.style.height = `${Math.max(140, top.length * 28 + 30)}px`
    const el = h(
      'section',
      { class: 'card', 'data-testid': `compare-${model}` },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', text: MODEL_NAMES[model] }), h('span', { class: 'card-note', text: `Leads by ${GROUP_NAMES[s.by].toLowerCase()}` })),
      box,
      reportTable(columns, rows, data.totals, { sortBy: 'leads', caption: `${MODEL_NAMES[model]} attribution` }).el,
    )
    return { el, draw: () => top.length ? charts.push(bars(box, { labels: top.map((r) => keyLabel(r.key)), datasets: [{ label: 'Leads', data: top.map((r) => r.leads), color }], format: fractional })) : replace(box, h('p', { class: 'empty', text: 'Nothing to chart.' })) }
  }
  const a = panel(first, 'first_click', '#4f46e5')
  const b = panel(last, 'last_click', '#0ea5e9')
  replace(root, h('div', { class: 'split' }, a.el, b.el))
  a.draw()
  b.draw()
  return () => charts.forEach((c) => c.destroy())
}
