// The filters of the reports: the drill-down path (channel → source → campaign →
// keyword) as a breadcrumb, and device, country, landing page and lead type.
import { PATHS } from './api.js'
import { h, select } from './dom.js'
import { keyLabel } from './format.js'
import { DRILL, GROUP_NAMES, LEAD_TYPES, PLURAL, drillPath } from './state.js'

const DEVICES = ['desktop', 'mobile', 'tablet', '(none)']
const suggestions = new Map() // "site|from|to|dim" → keys of the source report

export function filterBar(state, set, get) {
  const f = state.filters
  const change = (dim, value) => {
    const filters = { ...f }
    if (value) filters[dim] = value
    else delete filters[dim]
    set({ filters, offset: 0 })
  }
  const path = drillPath(state)
  const crumbs = h(
    'nav',
    { class: 'crumbs', 'aria-label': 'Drill-down', 'data-testid': 'crumbs' },
    h('ol', null,
      h('li', null, path.length ? h('button', { type: 'button', class: 'crumb', onclick: () => set({ ...path[0].back, offset: 0 }), text: `All ${PLURAL[DRILL[0]]}` }) : h('span', { 'aria-current': 'true', text: `All ${PLURAL[DRILL[0]]}` })),
      path.map((p, i) =>
        h('li', null, i + 1 < path.length
          ? h('button', { type: 'button', class: 'crumb', title: `${GROUP_NAMES[p.dim]}: ${keyLabel(p.value)}`, onclick: () => set({ ...path[i + 1].back, offset: 0 }), text: keyLabel(p.value) })
          : h('span', { 'aria-current': 'true', title: `${GROUP_NAMES[p.dim]}: ${keyLabel(p.value)}`, text: keyLabel(p.value) })),
      ),
    ),
  )
  // Filters on the drill chain that are not a path from the top (set by a link).
  const loose = DRILL.filter((d) => f[d] && !path.some((p) => p.dim === d))
  const control = (dim, label, el) => h('div', { class: 'field filter' }, h('label', { class: 'field-label', for: `filter-${dim}`, text: label }), el)
  const text = (dim, placeholder) => {
    const list = h('datalist', { id: `filter-${dim}-list` })
    const input = h('input', {
      type: 'text',
      id: `filter-${dim}`,
      name: dim,
      value: f[dim] || '',
      placeholder,
      list: `filter-${dim}-list`,
      autocomplete: 'off',
      spellcheck: 'false',
      onchange: (e) => change(dim, e.target.value.trim()),
      onfocus: () => suggest(state, dim, get, list),
    })
    return [input, list]
  }
  const any = Object.keys(f).length > 0
  return h(
    'section',
    { class: 'filters', 'aria-label': 'Filters', 'data-testid': 'filters' },
    crumbs,
    h(
      'div',
      { class: 'filter-row' },
      control('device', 'Device', select({ id: 'filter-device', name: 'device', onchange: (e) => change('device', e.target.value) }, [['', 'All devices'], ...DEVICES.map((d) => [d, d])], f.device || '')),
      control('country', 'Country', text('country', 'All, or e.g. DE')),
      control('landing_page', 'Landing page', text('landing_page', 'All, or e.g. /pricing')),
      control('lead_type', 'Lead type', select({ id: 'filter-lead_type', name: 'lead_type', onchange: (e) => change('lead_type', e.target.value) }, [['', 'All lead types'], ...LEAD_TYPES.map((t) => [t, t])], f.lead_type || '')),
      loose.map((d) => h('button', { type: 'button', class: 'chip active', 'aria-label': `Remove the filter ${GROUP_NAMES[d]}: ${f[d]}`, onclick: () => change(d, ''), text: `${GROUP_NAMES[d]}: ${keyLabel(f[d])} ×` })),
      any ? h('button', { type: 'button', class: 'button ghost-light', 'data-testid': 'clear-filters', onclick: () => set({ filters: {}, offset: 0 }), text: 'Clear filters' }) : null,
    ),
  )
}

// Fills a filter's suggestions with the values of the range, once per site and range.
async function suggest(state, dim, get, list) {
  if (list.childElementCount) return
  const key = [state.site, state.from, state.to, dim].join('|')
  let keys = suggestions.get(key)
  if (!keys) {
    try {
      const data = await get(PATHS.sources, { site: state.site, from: state.from, to: state.to, by: dim })
      keys = (Array.isArray(data.rows) ? data.rows : []).map((r) => String(r.key)).filter((k) => !k.startsWith('(') || k === '(none)')
      suggestions.set(key, keys)
    } catch {
      return // suggestions are a convenience: typing still works
    }
  }
  list.replaceChildren(...keys.slice(0, 200).map((k) => h('option', { value: k })))
}
