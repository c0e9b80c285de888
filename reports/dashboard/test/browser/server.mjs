// A stand-in for the attribution service: serves dist/ with the same security
// headers as dashboard.go and answers the reports API from test/fixtures, so
// the dashboard can be developed and tested without Go, Kafka or ClickHouse.
//   node test/browser/server.mjs [port]   (token: fixture-admin)
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const DIST = here('../../dist/')
const FIXTURES = here('../fixtures/')
export const TOKEN = 'fixture-admin'
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' }
const EMAILS = { 'ada@example.com': 'lead-1001' }

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(typeof body === 'string' ? body : JSON.stringify(body))
}

function fixture(res, path) {
  const file = join(FIXTURES, path)
  if (!existsSync(file)) return json(res, 404, { error: 'not found' })
  json(res, 200, readFileSync(file, 'utf8'))
}

function api(req, res, url, requests) {
  const q = url.searchParams
  requests.push(url.pathname + url.search)
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(res, 401, { error: 'invalid admin token' })
  if (url.pathname === '/api/v1/sites') return json(res, 200, { token: 'admin', sites: [{ id: 'demo', scopes: ['admin'] }] })
  if (!q.get('site')) return json(res, 400, { error: 'site is required' })
  if (q.get('site') !== 'demo') return json(res, 404, { error: 'unknown site' })
  const by = q.get('by') || 'channel'
  switch (url.pathname) {
    case '/api/v1/reports/sources': {
      const model = q.get('model') || 'first_click'
      if (!/^[a-z_]+$/.test(by) || !/^[a-z_]+$/.test(model)) return json(res, 400, { error: 'bad by or model' })
      return fixture(res, `sources/${by}/${model}.json`)
    }
    case '/api/v1/reports/lifecycle':
      if (by !== 'channel' && by !== 'source') return json(res, 400, { error: `unknown by ${JSON.stringify(by)}` })
      return fixture(res, `lifecycle-${by}.json`)
    case '/api/v1/reports/calls':
      if (!['channel', 'source', 'campaign', 'keyword'].includes(by)) return json(res, 400, { error: `calls are grouped by channel, source, campaign, keyword` })
      return fixture(res, `calls-${by}.json`)
    case '/api/v1/journeys': {
      const id = q.get('conversion_id') || EMAILS[q.get('email')] || ''
      if (!/^[\w-]+$/.test(id)) return json(res, 404, { error: 'no such conversion' })
      return fixture(res, `journey-${id}.json`)
    }
  }
  json(res, 404, { error: 'not found' })
}

export async function start(port = 0) {
  const requests = []
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    if (url.pathname.startsWith('/api/')) return api(req, res, url, requests)
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
