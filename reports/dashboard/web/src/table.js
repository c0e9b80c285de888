// A sortable report table: click a header to sort by it, again to reverse.
import { h, replace } from './dom.js'
import { sortRows } from './columns.js'

// Returns {el, rows()} where rows() is the current order (for the CSV export).
export function reportTable(columns, rows, totals, { sortBy, caption, testid } = {}) {
  let sort = { id: sortBy || columns[1].id, dir: 'desc' }
  let order = rows
  const table = h('table', { class: 'report', 'data-testid': testid })
  const wrap = h('div', { class: 'table-wrap' }, table)

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
    )
    const body = order.length
      ? order.map((r) => h('tr', null, columns.map((c, i) => cellOf(c, r, i))))
      : [h('tr', null, h('td', { class: 'empty', colspan: columns.length, text: 'No data for this site and date range.' }))]
    const foot = totals && order.length ? h('tr', null, columns.map((c, i) => (i === 0 ? h('th', { scope: 'row', class: 'text', text: 'Total' }) : cellOf(c, totals, i)))) : null
    replace(table, caption ? h('caption', { class: 'sr-only', text: caption }) : null, h('thead', null, head), h('tbody', null, body), foot ? h('tfoot', null, foot) : null)
  }

  draw()
  return { el: wrap, rows: () => order }
}

function cellOf(c, r, i) {
  const text = c.show(r)
  const key = i === 0 && (r.key === '' || r.key === null || r.key === undefined)
  return h(i === 0 ? 'th' : 'td', { scope: i === 0 ? 'row' : undefined, class: `${c.numeric ? 'num' : 'text'}${key ? ' muted' : ''}${c.sub ? ' sub' : ''}`, title: i === 0 ? text : undefined, text })
}
