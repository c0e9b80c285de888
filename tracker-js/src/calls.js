// Call tracking (c.js): loaded by the snippet for sites with number pools
// (data-calls). It asks the collector for the visitor's tracking numbers,
// shows them wherever the page has the site's own number (text and tel:
// links, also in content added later), and keeps them while the page is
// visible. Without a number (pool exhausted, collector or store away) the
// page keeps its own.
import { apiBase, readCookie } from './lib.js'
import { same, swapText } from './phone.js'

const d = document
const loc = location
const script = d.currentScript
const base = apiBase(0, script.src)
const site = new URL(script.src).searchParams.get('site')
const vid = readCookie(d.cookie, '_tp_id')

// The session's landing page and referrer, for pools that serve some
// channels only: kept for the tab's life.
let land
try {
  land = JSON.parse(sessionStorage._tp_land)
} catch {}
if (!land) {
  land = [loc.href, d.referrer]
  try {
    sessionStorage._tp_land = JSON.stringify(land)
  } catch {}
}

// want: [numbers to replace, the number to show] of each pool; shown: the
// pool number each pool shows now, which a later answer may take back.
const shown = {}
let want = []

const swap = (root) => {
  for (const [from, to] of want) {
    const walk = d.createTreeWalker(root, 4)
    for (let n; (n = walk.nextNode()); ) {
      const p = n.parentNode.nodeName
      if (p == 'SCRIPT' || p == 'STYLE' || p == 'TEXTAREA') continue
      const t = swapText(n.data, from, to)
      if (t != n.data) n.data = t
    }
    if (root.querySelectorAll)
      for (const a of [root, ...root.querySelectorAll('a')])
        if (/^tel:/i.test(a.href) && from.some((f) => same(decodeURIComponent(a.href.slice(4)), f))) a.href = 'tel:' + to
  }
}

let timer
const ask = () => {
  clearTimeout(timer)
  const q = new URLSearchParams({ site, vid: vid || '', url: land[0], ref: land[1] })
  fetch(base + '/v1/number?' + q, { credentials: 'omit' })
    .then((r) => r.json())
    .then((a) => {
      want = []
      for (const n of a.numbers) {
        const to = n.number || n.swap[0]
        const from = n.swap.concat(shown[n.pool] || []).filter((f) => !same(f, to))
        if (from.length) want.push([from, to])
        shown[n.pool] = n.number && [n.number]
      }
      swap(d.body)
      if (!d.hidden) timer = setTimeout(ask, a.renew * 1e3)
    }, () => (timer = setTimeout(ask, 6e4)))
}

// No visitor id (no consent, opted out): the page keeps its own numbers.
if (vid && site) {
  new MutationObserver((ms) => {
    for (const m of ms) {
      if (m.type == 'characterData' && m.target.parentNode) swap(m.target.parentNode)
      for (const n of m.addedNodes) if (n.parentNode) swap(n.nodeType == 1 ? n : n.parentNode)
    }
  }).observe(d.body, { childList: true, subtree: true, characterData: true })
  d.addEventListener('visibilitychange', () => (d.hidden ? clearTimeout(timer) : ask()))
  ask()
}
