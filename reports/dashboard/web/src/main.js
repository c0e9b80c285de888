// The dashboard shell: sign-in, site, tabs and the shared report controls.
// Every change of state is written to the query string and redraws the view;
// a newer request cancels the one in flight so old answers never win.
import './style.css'
import { ApiError, PATHS, client } from './api.js'
import { clearToken, loadToken, saveToken } from './auth.js'
import { field, h, message, replace, select } from './dom.js'
import { GROUPS, GROUP_NAMES, LIFECYCLE_GROUPS, MODELS, MODEL_NAMES, isDate, lastDays, readState, writeState } from './state.js'
import { compareView } from './views/compare.js'
import { deliveriesView } from './views/deliveries.js'
import { exportsView } from './views/exports.js'
import { journeyView } from './views/journey.js'
import { lifecycleView } from './views/lifecycle.js'
import { sourcesView } from './views/sources.js'

const VIEWS = {
  sources: { title: 'Sources', render: sourcesView },
  compare: { title: 'First vs last click', render: compareView },
  lifecycle: { title: 'Lifecycle', render: lifecycleView },
  journey: { title: 'Journeys', render: journeyView },
  exports: { title: 'Ad exports', render: exportsView },
  deliveries: { title: 'Deliveries', render: deliveriesView },
}

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
}
const get = client({ token: () => token })

const app = document.getElementById('app')
const nav = h('nav', { class: 'tabs', role: 'tablist', 'aria-label': 'Reports' })
const siteList = h('datalist', { id: 'tp-sites' })
const siteInput = h('input', { type: 'text', name: 'site', value: state.site, list: 'tp-sites', 'aria-label': 'Site', spellcheck: 'false', autocomplete: 'off', onchange: () => changeSite() })
const changeSite = () => {
  const site = siteInput.value.trim()
  if (site && site !== state.site) set({ site })
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
  h('label', { class: 'site-label', text: 'Site' }),
  siteInput,
  siteList,
)
const signOut = h('button', { type: 'button', class: 'button ghost', text: 'Sign out', onclick: () => showSignIn('You are signed out.', 'info') })
const toolbar = h('div', { class: 'toolbar' })
const view = h('div', { class: 'view', 'aria-live': 'polite' })
const status = h('div', { class: 'status' })
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
  h('main', { class: 'content' }, toolbar, status, view),
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

function drawNav() {
  replace(
    nav,
    Object.entries(VIEWS).map(([id, v]) =>
      h('button', {
        type: 'button',
        role: 'tab',
        class: 'tab',
        'aria-selected': String(id === state.view),
        'data-view': id,
        text: v.title,
        onclick: () => id !== state.view && set({ view: id }),
      }),
    ),
  )
}

function drawToolbar() {
  const v = state.view
  const controls = []
  if (v === 'sources')
    controls.push(field('Attribution model', select({ name: 'model', onchange: (e) => set({ model: e.target.value }) }, MODELS.map((m) => [m, MODEL_NAMES[m]]), state.model)))
  if (v === 'sources' || v === 'compare')
    controls.push(field('Group by', select({ name: 'by', onchange: (e) => set({ by: e.target.value }) }, GROUPS.map((g) => [g, GROUP_NAMES[g]]), state.by)))
  if (v === 'lifecycle')
    controls.push(field('Group by', select({ name: 'stage_by', onchange: (e) => set({ stageBy: e.target.value }) }, LIFECYCLE_GROUPS.map((g) => [g, GROUP_NAMES[g]]), state.stageBy)))
  if (v !== 'journey' && v !== 'deliveries') {
    const date = (name, label) =>
      field(label, h('input', { type: 'date', name, value: state[name], required: true, onchange: (e) => isDate(e.target.value) && set(ordered({ ...state, [name]: e.target.value })) }))
    const preset = (days) => {
      const r = lastDays(days)
      const on = r.from === state.from && r.to === state.to
      return h('button', { type: 'button', class: `chip${on ? ' active' : ''}`, 'aria-pressed': String(on), text: `${days}d`, onclick: () => set(r) })
    }
    controls.push(h('div', { class: 'range' }, date('from', 'From'), date('to', 'To'), h('div', { class: 'presets', role: 'group', 'aria-label': 'Date presets' }, preset(7), preset(30), preset(90))))
  }
  replace(toolbar, controls)
  toolbar.hidden = controls.length === 0
}

const ordered = (s) => (s.from > s.to ? { from: s.to, to: s.from } : { from: s.from, to: s.to })

async function draw() {
  inflight?.abort()
  cleanup?.()
  cleanup = null
  const controller = new AbortController()
  inflight = controller
  siteInput.value = state.site
  document.title = `${VIEWS[state.view].title} · ${state.site} · Touchpoint`
  drawNav()
  drawToolbar()
  replace(status)
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
  } catch (err) {
    if (controller.signal.aborted || err?.name === 'AbortError') return
    if (err instanceof ApiError && err.status === 401) return showSignIn('The access token was not accepted. Please sign in again.')
    replace(view, message('error', err instanceof ApiError ? `Could not load the report: ${err.message}` : `Something went wrong: ${err?.message || err}`))
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
  const tokenInput = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true, 'aria-label': 'Access token' })
  const site = h('input', { type: 'text', name: 'site', value: state.site, required: true, spellcheck: 'false' })
  replace(
    signIn,
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
  )
  app.hidden = true
  signIn.hidden = false
  tokenInput.focus()
}

draw()
