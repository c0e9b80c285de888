// A stand-in for the attribution service: serves dist/ with the same security
// headers as dashboard.go and answers the reports API from test/fixtures/generate.mjs,
// so the dashboard can be developed and tested without Go, Kafka or ClickHouse. A
// channel named "Broken" answers 500 with a reason, as the service does.
//   node test/browser/server.mjs [port]   (token: fixture-admin)
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FROM, MODELS, TO, calls, journeyOf, leads, lifecycle, series, sources } from '../fixtures/generate.mjs'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const DIST = here('../../dist/')
const GROUPS = ['channel', 'source', 'campaign', 'keyword', 'landing_page', 'country', 'device']
export const TOKEN = 'fixture-admin'
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' }
const EMAILS = { 'ada@example.com': 'lead-1001' }
const HOSTILE = '<img src=x onerror=alert(1)>'

// Deliveries as the API lists them; "send again" makes one pending.
const deliveries = () => [
  { id: 'dlv_a1', target: 'webhook', event: 'lead.created', conversion_id: 'lead-1001', url: 'https://crm.example/hook', state: 'failed', delivered: false,
    attempts: 3, status: 404, error: `answered 404 Not Found: ${HOSTILE}`, next_retry_at: null, created_at: '2026-10-20T10:31:00Z', updated_at: '2026-10-20T10:40:00Z' },
  { id: 'dlv_b2', target: 'meta', event: 'Purchase', conversion_id: 'sale-77', url: 'https://graph.facebook.com/v25.0/1/events', state: 'pending', delivered: false,
    attempts: 1, status: 503, error: 'Meta answered 503 Service Unavailable', next_retry_at: '2026-10-20T10:45:00Z', created_at: '2026-10-20T10:35:00Z', updated_at: '2026-10-20T10:35:02Z' },
  { id: 'dlv_c3', target: 'webhook', event: 'attribution.updated', conversion_id: HOSTILE, url: 'https://crm.example/hook', state: 'delivered', delivered: true,
    attempts: 1, status: 204, error: '', next_retry_at: null, created_at: '2026-10-19T08:00:00Z', updated_at: '2026-10-19T08:00:01Z' },
]

// The Google Ads and Microsoft Ads files of the fixture site, as the service writes them.
function offline(platform, q) {
  const name = q.get('name') || q.get('type') || 'lead'
  const tz = q.get('timezone') || '+0000'
  if (platform === 'microsoft-ads' && !/^[+-]\d{2}:?\d{2}$/.test(tz)) return null
  const head = platform === 'google-ads'
    ? 'Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency'
    : 'Microsoft Click Id,Conversion Name,Conversion Time,Conversion Value,Conversion Currency Code'
  const rows = platform === 'google-ads' ? [['Cj0KCQ-1001', '2026-10-03 12:00:00'], ['Cj0KCQ-1002', '2026-10-05 11:00:00']] : [['ms0123abc', '2026-10-04 12:00:00']]
  const cell = (v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)
  return [`Parameters:TimeZone=${tz.replace(':', '')}`, head, ...rows.map(([id, at]) => [id, cell(name), at, '', ''].join(','))].join('\n') + '\n'
}

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(typeof body === 'string' ? body : JSON.stringify(body))
}

const body = (req) =>
  new Promise((resolve) => {
    let b = ''
    req.on('data', (c) => (b += c))
    req.on('end', () => resolve(b))
  })

async function api(req, res, url, requests, state) {
  const q = url.searchParams
  requests.push(url.pathname + url.search)
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(res, 401, { error: 'invalid admin token' })
  if (url.pathname === '/api/v1/sites') return json(res, 200, { token: 'admin', sites: [{ id: 'demo', scopes: ['admin'] }] })
  if (!q.get('site')) return json(res, 400, { error: 'site is required' })
  if (q.get('site') !== 'demo') return json(res, 404, { error: 'unknown site' })
  if (q.get('site') === 'demo' && q.get('channel') === 'Broken') return json(res, 500, { error: 'the report could not be computed: cannot read traffic: code: 241, message: Memory limit (total) exceeded' })
  const by = q.get('by') || 'channel'
  const model = q.get('model') || 'first_click'
  if (!GROUPS.includes(by)) return json(res, 400, { error: `unknown by ${JSON.stringify(by)}` })
  if (!MODELS.includes(model)) return json(res, 400, { error: `unknown model ${JSON.stringify(model)}` })
  const filters = {}
  for (const f of [...GROUPS, 'lead_type']) if (q.get(f)) filters[f] = q.get(f)
  const from = q.get('from') || FROM
  const to = q.get('to') || TO
  switch (url.pathname) {
    case '/api/v1/reports/sources':
      return json(res, 200, sources(by, model, filters, from, to))
    case '/api/v1/reports/series':
      return json(res, 200, series(model, filters, from, to, q.get('interval') || 'day'))
    case '/api/v1/reports/lifecycle':
      return json(res, 200, lifecycle(q.get('by') || 'source', model, filters))
    case '/api/v1/leads':
      return json(res, 200, leads({ model, order: q.get('order') || 'newest', offset: Number(q.get('offset')) || 0, limit: Number(q.get('limit')) || 50, filters }))
    case '/api/v1/reports/calls':
      if (!['channel', 'source', 'campaign', 'keyword'].includes(by)) return json(res, 400, { error: 'calls are grouped by channel, source, campaign, keyword' })
      return json(res, 200, calls(by, model, from, to))
    case '/api/v1/webhooks/deliveries': {
      const list = state.deliveries.filter((d) => (!q.get('state') || d.state === q.get('state')) && (!q.get('target') || d.target === q.get('target')))
      return json(res, 200, { site: 'demo', deliveries: list })
    }
    case '/api/v1/exports/google-ads':
    case '/api/v1/exports/microsoft-ads': {
      const csv = offline(url.pathname.split('/').pop(), q)
      if (!csv) return json(res, 400, { error: 'timezone: this template takes an offset such as +0100 or -0500' })
      res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="x.csv"', 'cache-control': 'no-store' })
      return res.end(csv)
    }
    case '/api/v1/journeys': {
      let id = q.get('conversion_id') || ''
      if (req.method === 'POST') {
        const b = JSON.parse((await body(req)) || '{}')
        id = b.conversion_id || EMAILS[b.email] || ''
      } else if (q.get('email')) return json(res, 400, { error: 'the dashboard sends emails in a POST body' })
      const j = journeyOf(id)
      return j ? json(res, 200, j) : json(res, 404, { error: 'no conversion found' })
    }
  }
  const again = url.pathname.match(/^\/api\/v1\/webhooks\/deliveries\/([\w-]+)\/retry$/)
  if (again && req.method === 'POST') {
    const d = state.deliveries.find((x) => x.id === again[1])
    if (!d) return json(res, 404, { error: 'no such delivery' })
    Object.assign(d, { state: 'pending', attempts: 0, status: 0, error: '', delivered: false, next_retry_at: '2026-10-20T11:00:00Z' })
    return json(res, 202, { site: 'demo', delivery: d })
  }
  json(res, 404, { error: 'no such endpoint' })
}

export async function start(port = 0) {
  const requests = []
  const state = { deliveries: deliveries() }
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    if (url.pathname.startsWith('/api/')) return api(req, res, url, requests, state)
    const path = url.pathname === '/' ? 'index.html' : normalize(decodeURIComponent(url.pathname)).replace(/^[/\\]+/, '')
    const file = join(DIST, path)
    if (!file.startsWith(DIST) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      return res.end('not found')
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] || 'application/octet-stream',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'cache-control': path === 'index.html' ? 'no-cache' : 'max-age=60',
    })
    res.end(readFileSync(file))
  })
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await start(Number(process.argv[2]) || 5178)
  console.log(`dashboard on fixtures: ${s.url}/?site=demo&from=2026-10-01&to=2026-10-31#token=${TOKEN}`)
}
