// A sortable report table: click a header to sort by it, again to reverse.
import { h, replace, scrollable } from './dom.js'
import { sortRows } from './columns.js'

// Returns {el, rows()} where rows() is the current order (for the CSV export).
// keyAction(row) may make a row's key a button (drill-down); actions(row) adds a last
// column of buttons (its leads).
export function reportTable(columns, rows, totals, { sortBy, caption, testid, keyAction, actions, actionsTitle = 'Leads' } = {}) {
  let sort = { id: sortBy || columns[1].id, dir: 'desc' }
  let order = rows
  const table = h('table', { class: 'report', 'data-testid': testid })

  function draw() {
    const column = columns.find((c) => c.id === sort.id) || columns[0]
    order = sortRows(rows, column, sort.dir)
    const head = h(
      'tr',
      null,
      columns.map((c) => {
        const active = c.id === sort.id
        return h(
          'th',
          { scope: 'col', class: `${c.numeric ? 'num' : 'text'}${c.sub ? ' sub' : ''}`, title: c.sub ? `${c.title} leads` : undefined, 'aria-sort': active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none' },
          h(
            'button',
            {
              type: 'button',
              class: 'sort',
              onclick: () => {
                sort = active ? { id: c.id, dir: sort.dir === 'asc' ? 'desc' : 'asc' } : { id: c.id, dir: c.numeric ? 'desc' : 'asc' }
                draw()
              },
            },
            c.title,
            h('span', { class: 'sort-mark', 'aria-hidden': 'true', text: active ? (sort.dir === 'asc' ? '▲' : '▼') : '' }),
          ),
        )
      }),
      actions ? h('th', { scope: 'col', class: 'text', text: actionsTitle }) : null,
    )
    const span = columns.length + (actions ? 1 : 0)
    const body = order.length
      ? order.map((r) => h('tr', null, columns.map((c, i) => cellOf(c, r, i, keyAction)), actions ? h('td', { class: 'text actions' }, actions(r)) : null))
      : [h('tr', null, h('td', { class: 'empty', colspan: span, text: 'No data for this site, date range and filters.' }))]
    const foot = totals && order.length ? h('tr', null, columns.map((c, i) => (i === 0 ? h('th', { scope: 'row', class: 'text', text: 'Total' }) : cellOf(c, totals, i))), actions ? h('td') : null) : null
    replace(table, caption ? h('caption', { class: 'sr-only', text: caption }) : null, h('thead', null, head), h('tbody', null, body), foot ? h('tfoot', null, foot) : null)
  }

  draw()
  return { el: scrollable(table, caption || 'Report'), rows: () => order }
}

function cellOf(c, r, i, keyAction) {
  const text = c.show(r)
  const key = i === 0 && (r.key === '' || r.key === null || r.key === undefined)
  const zero = c.numeric && c.value(r) === 0
  const cls = `${c.numeric ? 'num' : 'text'}${key ? ' muted' : ''}${c.sub ? ' sub' : ''}${zero ? ' zero' : ''}`
  if (i > 0) return h('td', { class: cls, text })
  const action = keyAction?.(r)
  return h('th', { scope: 'row', class: cls, title: text }, action ? h('button', { type: 'button', class: 'drill', title: action.title, onclick: action.onclick }, text) : text)
}
