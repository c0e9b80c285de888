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
