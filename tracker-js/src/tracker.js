// Touchpoint snippet: pageviews, campaigns, forms, calls and conversions sent
// first-party to the collector. Size is the first design goal: read
// README.md before adding anything.
import { apiBase, formFields, isId, readCookie, retryDelay, takeParam, uuid } from './lib.js'

const d = document

// Run as a classic script (not type=module), so currentScript is set.
const cfg = d.currentScript.dataset
const base = apiBase(cfg.api, d.currentScript.src)

const cookie = (name, value, age) =>
  (d.cookie =
    name + '=' + value + ';path=/;max-age=' + age + ';SameSite=Lax' +
    (cfg.cookieDomain ? ';domain=' + cfg.cookieDomain : '') +
    (location.protocol == 'https:' ? ';Secure' : ''))

// A visitor id handed over by a decorated link from another of the site's
// domains wins; it leaves the address bar so it is not shared onwards. The
// landing pageview keeps it in its url: it tells a hop between the site's
// domains from a referral.
const landing = location.href
const [linked, clean] = takeParam(landing, '_tp_vid')
let hop = linked != null && (history.replaceState(history.state, '', clean), { url: landing })
const known = readCookie(d.cookie, '_tp_id')
const vid = [linked, known].find(isId) || uuid()

// out: send nothing (opt-out, or Global Privacy Control without an opt-in).
// anon: no cookie, no stored queue, no identifiers until consent is granted;
// the cookie itself records a consent given on an earlier page.
// (lib's optedOut, inlined here: 10 bytes smaller gzipped.)
const choice = readCookie(d.cookie, '_tp_optout')
let out = choice ? choice == '1' : navigator.globalPrivacyControl
let anon = cfg.consent == 'required' && !known
const keep = () => anon || out || cookie('_tp_id', vid, 63072000)

// The unsent events, kept in localStorage too so that the next page sends
// what this one could not (collector failing, page gone). A page starts with
// the events earlier pages left.
let queue = []
const store = (q) => {
  queue = q
  if (!anon)
    try {
      localStorage._tp_q = JSON.stringify(q)
    } catch {}
}
if (!anon)
  try {
    queue = JSON.parse(localStorage._tp_q)
  } catch {}

// busy: the batch in flight, or waiting out a backoff; it blocks other sends.
let tries = 0
let busy = []
const body = (events) => JSON.stringify({ site: cfg.site, events })
const done = (events) => store(queue.filter((e) => !events.includes(e)))

const flush = () => {
  if (busy[0] || !queue[0]) return
  busy = queue.slice(0, 20)
  fetch(base + '/e', { method: 'POST', body: body(busy), keepalive: true, credentials: 'include' })
    // A network error answers undefined: retried like a 5xx.
    .catch(() => {})
    .then((r) => {
      const ms = retryDelay(r?.status, r?.headers.get('retry-after'), tries)
      if (ms) tries++
      else {
        tries = 0
        done(busy)
      }
      setTimeout(() => {
        busy = []
        flush()
      }, ms)
    })
}

// The page may be gone before a fetch answers: hand what is left to the
// browser. While the collector is failing, keep it for the next page instead.
d.addEventListener(
  'visibilitychange',
  () => {
    const q = queue.filter((e) => !busy.includes(e)).slice(0, 20)
    if (d.hidden && !tries && q[0] && navigator.sendBeacon(base + '/e', body(q))) done(q)
  },
  true,
)

let ref = d.referrer
let last

// data-meta: the landing page's fbclid is kept as Meta's _fbc cookie, as the Meta
// pixel keeps it, and events carry _fbc and the pixel's _fbp for the Conversions API.
const fbclid = landing.match(/[?&]fbclid=([\w-]+)/)?.[1]

const send = (type, extra) => {
  if (out) return
  const e = {
    id: uuid(),
    type,
    ts: Date.now(),
    url: location.href,
    ref,
    title: d.title,
    screen: screen.width + 'x' + screen.height,
    lang: navigator.language,
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
    ...extra,
  }
  if (!anon) {
    e.vid = vid
    if ('meta' in cfg) {
      let c = readCookie(d.cookie, '_fbc')
      if (fbclid && !c?.endsWith('.' + fbclid)) cookie('_fbc', (c = 'fb.1.' + e.ts + '.' + fbclid), 7776000)
      e.fbc = c
      e.fbp = readCookie(d.cookie, '_fbp')
    }
  }
  store([...queue, e].slice(-500))
  // Events of the next half second go in the same batch.
  setTimeout(flush, 500)
}

// One pageview per address (the #fragment aside, unless the site routes by
// it: data-hash-routing); in a single-page app the previous address is the
// referrer.
const page = () => {
  const u = 'hashRouting' in cfg ? location.href : location.href.split('#')[0]
  if (u == last) return
  if (last) ref = last
  last = u
  send('pageview', hop)
  hop = 0
}

const commands = {
  track: (name, props) => send('track', { name, props }),
  identify: (traits) => anon || send('identify', { traits }),
  conversion: (conversion) => send('conversion', { conversion }),
  consent: (state) => {
    if (state != 'granted') {
      // Unsent events carrying the visitor id go; anonymous ones stay.
      if (!anon) store([])
      anon = true
      cookie('_tp_id', '', 0)
    } else if (anon) {
      anon = false
      store(queue)
      keep()
    }
  },
  optout: () => {
    store([])
    out = true
    cookie('_tp_optout', 1, 63072000)
    cookie('_tp_id', '', 0)
  },
  optin: () => {
    cookie('_tp_optout', 0, 63072000)
    if (out) {
      out = false
      keep()
      last = ''
      page()
    }
  },
}

d.addEventListener('submit', (ev) => {
  const f = ev.target
  const [fields, email] = formFields(f.elements)
  const traits = email && !anon ? { email } : undefined
  send('form_submit', {
    form: {
      id: f.getAttribute('id') || '',
      name: f.getAttribute('name') || '',
      action: new URL(f.getAttribute('action') || '', location.href).href,
      fields,
      // Whether it is a search form or has a password field, never their
      // values: neither is a lead.
      search: !!(f.closest('[role=search],search') || f.querySelector('[type=search]')),
      password: !!f.querySelector('[type=password]'),
    },
    traits,
  })
  if (traits) send('identify', { traits })
}, true)

const click = (ev) => {
  const a = ev.target.closest('a[href]')
  const type = a && { 'tel:': 'call_click', 'mailto:': 'email_click' }[a.protocol]
  if (type) send(type, { props: { href: a.href } })
}
d.addEventListener('click', click, true)
d.addEventListener('auxclick', click, true)

for (const m of ['pushState', 'replaceState']) {
  const orig = history[m]
  history[m] = (...args) => {
    orig.apply(history, args)
    setTimeout(page)
  }
}
addEventListener('popstate', () => setTimeout(page), true)

// Calls made before the script loaded wait in tp.q; run them first so a
// queued consent or opt-out applies to the first pageview.
const queued = window.tp?.q
window.tp = (cmd, ...args) => commands[cmd]?.(...args)
queued?.map((args) => window.tp(...args))
keep()
page()
// The optional parts, loaded by the sites that use them only: cross-domain
// links (src/links.js) and call tracking (src/calls.js).
const load = (path) => (d.head.appendChild(d.createElement('script')).src = base + path)
if (cfg.domains) load('/l.js?domains=' + cfg.domains)
if ('calls' in cfg) load('/c.js?site=' + cfg.site)
