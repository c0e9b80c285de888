// Builds DOM from data without ever parsing it as HTML: text goes through
// text nodes, attributes through setAttribute. Nothing here uses innerHTML.
export function h(tag, props, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.className = v
    else if (k === 'text') el.textContent = String(v)
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') el[k] = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
}

export function replace(el, ...children) {
  el.replaceChildren()
  append(el, children)
  return el
}

export const select = (props, options, current) =>
  h('select', props, options.map(([value, label]) => h('option', { value, selected: value === current, text: label })))

export const field = (label, control, cls = '') => h('label', { class: `field ${cls}`.trim() }, h('span', { class: 'field-label', text: label }), control)

export const message = (kind, text) => h('div', { class: `message ${kind}`, role: kind === 'error' ? 'alert' : 'status', text })

export const card = (title, ...body) => h('section', { class: 'card' }, title ? h('h2', { class: 'card-title', text: title }) : null, ...body)

// A wide table in a box that scrolls sideways, focusable so the keyboard can scroll it,
// with a hint under it while columns are out of view.
export function scrollable(table, label) {
  const wrap = h('div', { class: 'table-wrap', role: 'region', tabindex: '0', 'aria-label': `${label} (scrolls sideways)` }, table)
  const hint = h('p', { class: 'scroll-hint', hidden: true, 'aria-hidden': 'true', text: 'Scroll sideways for more columns →' })
  const check = () => {
    const more = wrap.scrollWidth - wrap.clientWidth > 2
    hint.hidden = !more || wrap.scrollLeft + wrap.clientWidth >= wrap.scrollWidth - 2
    wrap.classList.toggle('overflows', more)
  }
  wrap.addEventListener('scroll', check, { passive: true })
  if (typeof ResizeObserver === 'function') new ResizeObserver(check).observe(wrap)
  requestAnimationFrame(check)
  return h('div', { class: 'table-box' }, wrap, hint)
}

// A button that downloads what rows() returns as CSV: [header, rows].
export const exportButton = (ctx, name, build, disabled = false) =>
  h('button', { type: 'button', class: 'button secondary', 'data-testid': 'export-csv', disabled, text: 'Export CSV', onclick: () => ctx.download(name, build()) })
