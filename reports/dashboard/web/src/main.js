// The dashboard shell: sign-in, site, tabs and the shared report controls.
// Every change of state is written to the query string and redraws the view;
// a newer request cancels the one in flight so old answers never win.
import './style.css'
import { ApiError, PATHS, client } from './api.js'
import { clearToken, loadToken, saveToken } from './auth.js'
import { field, h, message, replace, select } from './dom.js'
import { filterBar } from './filters.js'
import { CALL_GROUPS, GROUPS, GROUP_NAMES, MODELS, MODEL_NAMES, isDate, lastDays, readState, writeState } from './state.js'
import { callsView } from './views/calls.js'
import { compareView } from './views/compare.js'
import { deliveriesView } from './views/deliveries.js'
import { exportsView } from './views/exports.js'
import { journeyView } from './views/journey.js'
import { leadsView } from './views/leads.js'
import { lifecycleView } from './views/lifecycle.js'
import { sourcesView } from './views/sources.js'

// Which controls each view has: model, group by (state key, and the groupings it offers
// when not all), date range, filters.
const VIEWS = {
  sources: { title: 'Sources', render: sourcesView, model: true, by: 'by', range: true, filters: true },
  compare: { title: 'First vs last click', render: compareView, by: 'by', range: true, filters: true },
  lifecycle: { title: 'Lifecycle', render: lifecycleView, model: true, by: 'stageBy', range: true, filters: true },
  leads: { title: 'Leads', render: leadsView, model: true, range: true, filters: true },
  calls: { title: 'Calls', render: callsView, model: true, by: 'by', groups: CALL_GROUPS, range: true },
  journey: { title: 'Journeys', render: journeyView },
  exports: { title: 'Ad exports', render: exportsView, range: true },
  deliveries: { title: 'Deliveries', render: deliveriesView },
}
const IDS = Object.keys(VIEWS)

let token = loadToken(sessionStorage, location, history)
let state = readState(location.search)
let inflight = null
let cleanup = null
let sites = null // the sites the token may read, once asked (GET /api/v1/sites)
const ctx = {
  journeyInput: '',
  exportForm: null, // what the ad export form held, across redraws
  deliveryFilter: null,
  get: null,
  set,
  download,
  redraw: () => draw(),
  timings: [],
}
// How long each view took to draw, for the browser tests.
window.__touchpointTimings = ctx.timings
const get = client({ token: () => token })

const app = document.getElementById('app')
const nav = h('nav', { class: 'tabs', 'aria-label': 'Reports' })
const tablist = h('div', { class: 'tablist', role: 'tablist', 'aria-label': 'Reports' })
nav.append(tablist)
const siteList = h('datalist', { id: 'tp-sites' })
const siteInput = h('input', { type: 'text', name: 'site', id: 'site-input', value: state.site, list: 'tp-sites', spellcheck: 'false', autocomplete: 'off', onchange: () => changeSite() })
const changeSite = () => {
  const site = siteInput.value.trim()
  if (site && site !== state.site) set({ site, offset: 0 })
}
const siteForm = h(
  'form',
  {
    class: 'site',
    onsubmit: (e) => {
      e.preventDefault()
      changeSite()
    },
  },
  h('label', { class: 'site-label', for: 'site-input', text: 'Site' }),
  siteInput,
  siteList,
)
const signOut = h('button', { type: 'button', class: 'button ghost', text: 'Sign out', onclick: () => showSignIn('You are signed out.', 'info') })
const heading = h('h1', { class: 'page-title' })
const toolbar = h('div', { class: 'toolbar' })
const filters = h('div', { class: 'filters-slot' })
const view = h('div', { class: 'view', id: 'panel', role: 'tabpanel' })
// Tells screen readers that a view has been drawn.
const status = h('div', { class: 'sr-only', role: 'status', 'data-testid': 'status' })
const signIn = h('div', { class: 'signin', hidden: true })

replace(
  app,
  h(
    'header',
    { class: 'topbar' },
    h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('span', { text: 'Touchpoint' })),
    nav,
    h('div', { class: 'top-actions' }, siteForm, signOut),
  ),
  h('main', { class: 'content' }, heading, toolbar, filters, status, view),
)
document.body.append(signIn)

// Each change is a history entry, so Back returns to the previous report.
function set(patch) {
  state = { ...state, ...patch }
  const url = location.pathname + writeState(state)
  if (url !== location.pathname + location.search) history.pushState(null, '', url)
  draw()
}

addEventListener('popstate', () => {
  state = readState(location.search)
  draw()
})

// bom: a byte order mark, so spreadsheet programs read UTF-8 keys correctly; an ad
// platform's template must start with its own first line instead.
function download(name, text, bom = true) {
  const url = URL.createObjectURL(new Blob(bom ? ['\ufeff', text] : [text], { type: 'text/csv;charset=utf-8' }))
  const a = h('a', { href: url, download: name, hidden: true })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

// Tabs as the WAI-ARIA pattern has them: one tab stop, arrow keys, Home and End move
// between tabs and open them.
function drawNav() {
  const tabs = IDS.map((id) =>
    h('button', {
      type: 'button',
      role: 'tab',
      class: 'tab',
      id: `tab-${id}`,
      'aria-selected': String(id === state.view),
      'aria-controls': 'panel',
      tabindex: id === state.view ? '0' : '-1',
      'data-view': id,
      text: VIEWS[id].title,
      onclick: () => id !== state.view && set({ view: id, offset: 0 }),
      onkeydown: (e) => {
        const i = IDS.indexOf(id)
        const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: IDS.length - 1 }[e.key]
        if (to === undefined) return
        e.preventDefault()
        const next = IDS[(to + IDS.length) % IDS.length]
        set({ view: next, offset: 0 })
        document.getElementById(`tab-${next}`)?.focus()
      },
    }),
  )
  replace(tablist, tabs)
  view.setAttribute('aria-labelledby', `tab-${state.view}`)
}

// A date typed as YYYY-MM-DD, whatever the browser's locale; a wrong one is marked and
// explained, and changes nothing.
function dateInput(name, label) {
  const id = `date-${name}`
  const hint = h('span', { class: 'field-error', id: `${id}-error`, hidden: true, text: 'Use YYYY-MM-DD, e.g. 2026-10-01' })
  const input = h('input', {
    type: 'text',
    name,
    id,
    value: state[name],
    required: true,
    inputmode: 'numeric',
    autocomplete: 'off',
    spellcheck: 'false',
    maxlength: '10',
    placeholder: 'YYYY-MM-DD',
    pattern: '\\d{4}-\\d{2}-\\d{2}',
    'aria-describedby': `${id}-error`,
    onchange: (e) => {
      const v = e.target.value.trim()
      const ok = isDate(v)
      input.setAttribute('aria-invalid', String(!ok))
      hint.hidden = ok
      if (ok && v !== state[name]) set({ ...ordered({ ...state, [name]: v }), offset: 0 })
    },
  })
  return h('div', { class: 'field date' }, h('label', { class: 'field-label', for: id, text: `${label} (YYYY-MM-DD)` }), input, hint)
}

function drawToolbar() {
  const v = VIEWS[state.view]
  const controls = []
  if (v.model) controls.push(field('Attribution model', select({ name: 'model', onchange: (e) => set({ model: e.target.value, offset: 0 }) }, MODELS.map((m) => [m, MODEL_NAMES[m]]), state.model)))
  if (v.by) {
    const groups = v.groups || GROUPS
    const value = groups.includes(state[v.by]) ? state[v.by] : groups[0]
    controls.push(field('Group by', select({ name: v.by === 'by' ? 'by' : 'stage_by', onchange: (e) => set({ [v.by]: e.target.value }) }, groups.map((g) => [g, GROUP_NAMES[g]]), value)))
  }
  if (v.range) {
    const preset = (days) => {
      const r = lastDays(days)
      const on = r.from === state.from && r.to === state.to
      return h('button', { type: 'button', class: `chip${on ? ' active' : ''}`, 'aria-pressed': String(on), text: `Last ${days} days`, onclick: () => set({ ...r, offset: 0 }) })
    }
    controls.push(h('div', { class: 'range' }, dateInput('from', 'From'), dateInput('to', 'To'), h('div', { class: 'presets', role: 'group', 'aria-label': 'Date presets' }, preset(7), preset(30), preset(90))))
  }
  replace(toolbar, controls)
  toolbar.hidden = controls.length === 0
  if (v.filters) replace(filters, filterBar(state, set, (path, params) => get(path, params)))
  else replace(filters)
}

const ordered = (s) => (s.from > s.to ? { from: s.to, to: s.from } : { from: s.from, to: s.to })

async function draw() {
  const started = performance.now()
  inflight?.abort()
  cleanup?.()
  cleanup = null
  const controller = new AbortController()
  inflight = controller
  siteInput.value = state.site
  document.title = `${VIEWS[state.view].title} · ${state.site} · Touchpoint`
  heading.textContent = VIEWS[state.view].title
  drawNav()
  drawToolbar()
  if (!token) return showSignIn('')
  if (sites === null && !(await loadSites(controller.signal))) return
  view.classList.add('loading')
  view.setAttribute('aria-busy', 'true')
  const viewCtx = { ...ctx, state, get: (path, params, body) => get(path, params, controller.signal, body), text: (path, params) => get.text(path, params, controller.signal) }
  // Keep what the user typed in the journey search across redraws.
  for (const k of ['journeyInput', 'exportForm', 'deliveryFilter']) Object.defineProperty(viewCtx, k, { get: () => ctx[k], set: (v) => (ctx[k] = v) })
  try {
    const done = await VIEWS[state.view].render(view, viewCtx)
    if (controller.signal.aborted) return typeof done === 'function' && done()
    cleanup = typeof done === 'function' ? done : null
    status.textContent = `${VIEWS[state.view].title} updated`
    ctx.timings.push({ view: state.view, ms: Math.round(performance.now() - started), at: Math.round(performance.now()) })
  } catch (err) {
    if (controller.signal.aborted || err?.name === 'AbortError') return
    if (err instanceof ApiError && err.status === 401) return showSignIn('The access token was not accepted. Please sign in again.')
    replace(view, message('error', err instanceof ApiError ? `Could not load the report: ${err.message}` : `Something went wrong in the page: ${err?.message || err}`))
    console.warn(err)
  } finally {
    if (inflight === controller) {
      view.classList.remove('loading')
      view.removeAttribute('aria-busy')
    }
  }
}

// loadSites asks which sites the token may read and offers them; a token of one site
// opens that site. It returns false when the redraw was taken over (sign-in, new site).
async function loadSites(signal) {
  try {
    const body = await get(PATHS.sites, {}, signal)
    sites = (body.sites || []).map((s) => String(s.id))
  } catch (err) {
    if (signal.aborted || err?.name === 'AbortError') return false
    if (err instanceof ApiError && err.status === 401) {
      showSignIn('The access token was not accepted. Please sign in again.')
      return false
    }
    sites = [] // an older service without the list: the site stays typed by hand
  }
  replace(siteList, sites.map((id) => h('option', { value: id })))
  if (sites.length > 0 && !sites.includes(state.site)) {
    state = { ...state, site: sites[0] }
    history.replaceState(null, '', location.pathname + writeState(state))
    draw()
    return false
  }
  return true
}

function showSignIn(reason, kind = 'error') {
  inflight?.abort()
  token = ''
  sites = null
  clearToken(sessionStorage)
  const tokenInput = h('input', { type: 'password', name: 'token', id: 'signin-token', autocomplete: 'current-password', required: true })
  const site = h('input', { type: 'text', name: 'site', id: 'signin-site', value: state.site, required: true, spellcheck: 'false' })
  replace(
    signIn,
    h(
      'main',
      { class: 'signin-main' },
      h(
        'form',
        {
          class: 'card signin-card',
          'data-testid': 'signin',
          onsubmit: (e) => {
            e.preventDefault()
            token = tokenInput.value.trim()
            if (!token) return
            saveToken(sessionStorage, token)
            signIn.hidden = true
            app.hidden = false
            set({ site: site.value.trim() || state.site })
          },
        },
        h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('span', { text: 'Touchpoint' })),
        h('h1', { text: 'Sign in to the dashboard' }),
        reason ? message(kind, reason) : h('p', { class: 'muted', text: 'Use the admin token of this Touchpoint service, or a site token with the reports:read scope.' }),
        field('Access token', tokenInput),
        field('Site', site),
        h('button', { type: 'submit', class: 'button', text: 'Sign in' }),
      ),
    ),
  )
  app.hidden = true
  signIn.hidden = false
  tokenInput.focus()
}

draw()
