// Touchpoint snippet: pageviews, campaigns, forms, calls and conversions sent
// first-party to the collector. Size is the first design goal: read
// README.md before adding anything.
import { apiBase, decorate, formFields, isId, readCookie, retryDelay, takeParam, uuid } from './lib.js'

const w = window
const d = document
const nav = navigator
const loc = location
const hist = history
const on = (target, type, fn) => target.addEventListener(type, fn, true)

const script = d.currentScript || d.querySelector('script[data-site]')
const cfg = script.dataset
const api = apiBase(cfg.api, script.src) + '/e'
const domains = (cfg.domains || '').split(/[\s,]+/)
const YEARS2 = 63072000
const ID = '_tp_id'
const OUT = '_tp_optout'
const KEY = '_tp_q'

const cookie = (name, value, age) =>
  (d.cookie =
    name + '=' + value + ';path=/;max-age=' + age + ';SameSite=Lax' +
    (cfg.cookieDomain ? ';domain=' + cfg.cookieDomain : '') +
    (loc.protocol == 'https:' ? ';Secure' : ''))

// A visitor id handed over by a decorated link from another of the site's
// domains wins; it leaves the address bar so it is not shared onwards.
const [linked, clean] = takeParam(loc.href, '_tp_vid')
if (linked != null) hist.replaceState(hist.state, '', clean)
const known = readCookie(d.cookie, ID)
const vid = isId(linked) ? linked : isId(known) ? known : uuid()

// out: send nothing (opt-out, or Global Privacy Control without an opt-in).
// anon: no cookie, no stored queue, no identifiers until consent is granted;
// the cookie itself records a consent given on an earlier page.
let out = readCookie(d.cookie, OUT)
out = out ? out == '1' : !!nav.globalPrivacyControl
let anon = cfg.consent == 'required' && !known
const keep = () => anon || out || cookie(ID, vid, YEARS2)

// Unsent events live in localStorage so they survive failures and unloads.
let mem = []
const load = () => {
  if (!anon)
    try {
      return JSON.parse(localStorage[KEY] || '[]')
    } catch {}
  return mem
}
const save = (q) => {
  mem = q
  if (!anon)
    try {
      localStorage[KEY] = JSON.stringify(q)
    } catch {}
}

// busy: the batch in flight, or waiting out a backoff; it blocks other sends.
let tries = 0
let busy = []
const body = (events) => JSON.stringify({ site: cfg.site, events })
const done = (events) => save(load().filter((e) => !events.some((s) => s.id == e.id)))

const flush = () => {
  const batch = load().slice(0, 20)
  if (busy.length || !batch.length) return
  busy = batch
  fetch(api, { method: 'POST', body: body(batch), keepalive: true })
    .then(
      (r) => retryDelay(r.status, r.headers.get('Retry-After'), tries),
      () => retryDelay(0, 0, tries),
    )
    .then((ms) => {
      if (ms) tries++
      else {
        tries = 0
        done(batch)
      }
      setTimeout(() => {
        busy = []
        flush()
      }, ms)
    })
}

// The page may be gone before a fetch answers: hand what is left to the
// browser. While the collector is failing, keep it for the next page instead.
const leave = () => {
  const q = load().filter((e) => !busy.some((b) => b.id == e.id))
  if (!tries && q.length && nav.sendBeacon(api, body(q))) done(q)
}
on(d, 'visibilitychange', () => d.hidden && leave())

let ref = d.referrer
let last

const send = (type, extra) => {
  if (out) return
  const e = {
    id: uuid(),
    type,
    ts: Date.now(),
    url: loc.href,
    ref,
    title: d.title,
    screen: screen.width + 'x' + screen.height,
    lang: nav.language,
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
    ...extra,
  }
  if (!anon) e.vid = vid
  save(load().concat(e).slice(-500))
  // Events of the next half second go in the same batch.
  setTimeout(flush, 500)
}

// One pageview per address (the #fragment aside); in a single-page app the
// previous address is the referrer.
const page = () => {
  const u = loc.href.split('#')[0]
  if (u == last) return
  if (last) ref = last
  last = u
  send('pageview')
}

const commands = {
  track: (name, props) => send('track', { name, props }),
  identify: (traits) => anon || send('identify', { traits }),
  conversion: (conversion) => send('conversion', { conversion }),
  consent: (state) => {
    if (state != 'granted') {
      save([])
      anon = true
      cookie(ID, '', 0)
    } else if (anon) {
      // Events of the anonymous part of the page move to the stored queue.
      const m = mem
      mem = []
      anon = false
      save(load().concat(m))
    }
    keep()
  },
  optout: () => {
    save([])
    out = true
    cookie(OUT, 1, YEARS2)
    cookie(ID, '', 0)
  },
  optin: () => {
    cookie(OUT, 0, YEARS2)
    if (out) {
      out = false
      keep()
      last = ''
      page()
    }
  },
}

on(d, 'submit', (ev) => {
  const f = ev.target
  const at = (name) => f.getAttribute(name) || ''
  const [fields, email] = formFields(f.elements)
  const traits = email && !anon ? { email } : undefined
  send('form_submit', { form: { id: at('id'), name: at('name'), action: new URL(at('action'), loc.href).href, fields }, traits })
  if (traits) send('identify', { traits })
})

const click = (ev) => {
  const a = ev.target.closest('a[href]')
  const p = a && a.protocol
  if (p == 'tel:' || p == 'mailto:') send(p == 'tel:' ? 'call_click' : 'email_click', { props: { href: a.href } })
  else if (p && !anon && !out) {
    const href = decorate(a.href, loc.hostname, domains, vid)
    if (href) a.href = href
  }
}
on(d, 'click', click)
on(d, 'auxclick', click)

for (const m of ['pushState', 'replaceState']) {
  const orig = hist[m]
  hist[m] = function () {
    orig.apply(this, arguments)
    setTimeout(page)
  }
}
on(w, 'popstate', () => setTimeout(page))

// Calls made before the script loaded wait in tp.q; run them first so a
// queued consent or opt-out applies to the first pageview.
const queued = (w.tp && w.tp.q) || []
w.tp = (cmd, ...args) => commands[cmd]?.(...args)
for (const args of queued) w.tp(...args)
keep()
page()
