// Shared pieces of the browser tests: the Debian chromium driven by
// playwright-core, a local server for fixture pages, the collector's traffic
// as the page sees it, and ClickHouse queries.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { dist } from '../../build.mjs'

export const COLLECTOR = (process.env.TP_COLLECTOR_URL || 'http://127.0.0.1:8080').replace(/\/$/, '')
export const CLICKHOUSE = (process.env.TP_CLICKHOUSE_URL || 'http://127.0.0.1:8123').replace(/\/$/, '')
const CHROMIUM = process.env.TP_CHROMIUM || '/usr/bin/chromium'
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
]

const reachable = async (url) => {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok
  } catch {
    return false
  }
}

// Why no browser can be started here, or ''. Under CI that is a failure.
export function noBrowser() {
  if (existsSync(CHROMIUM)) return ''
  const why = `no chromium at ${CHROMIUM} (apt-get install chromium)`
  if (process.env.CI === 'true') throw new Error(why)
  return why
}

// Why the tests against the stack cannot run here, or '' when they can. Under
// CI a missing collector is a failure, not a reason to skip.
export async function unavailable() {
  if (noBrowser()) return noBrowser()
  if (!(await reachable(COLLECTOR + '/healthz'))) {
    const why = `no collector at ${COLLECTOR} (start the stack with make up, or set TP_COLLECTOR_URL)`
    if (process.env.CI === 'true') throw new Error(why)
    return why
  }
  if (!(await reachable(CLICKHOUSE + '/ping'))) {
    const why = `no ClickHouse at ${CLICKHOUSE} (set TP_CLICKHOUSE_URL)`
    if (process.env.CI === 'true') throw new Error(why)
    return why
  }
  return ''
}

// A run-unique tag for utm values, so ClickHouse rows of this run are exact.
export const tag = (name) => `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`

// A page embedding the snippet as a site would, with the script served by the
// fixture server (the current build) and events posted to the collector.
export const page = ({ api = COLLECTOR, title = 'Fixture', attrs = '', head = '', body = '' } = {}) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<link rel="icon" href="data:,">
${head}
<script defer src="/t.js" data-site="demo" data-api="${api}" ${attrs}></script>
</head><body>${body}</body></html>`

// Serves pages registered by the tests and /t.js from dist on an ephemeral
// port of 127.0.0.1. Reachable as localhost too, which gives tests a second
// domain for cross-domain links.
export async function fixtureServer() {
  const pages = new Map()
  const server = createServer((req, res) => {
    const path = req.url.split('?')[0]
    if (path === '/t.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      return res.end(readFileSync(dist('t.js')))
    }
    const html = pages.get(path)
    const type = path.endsWith('.css') ? 'text/css' : 'text/html; charset=utf-8'
    res.writeHead(html ? 200 : 404, { 'content-type': type })
    res.end(html || 'not found')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = server.address().port
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    add: (path, html) => pages.set(path, html),
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

// A fresh browser profile per test: no cookies or stored queue carried over.
// options are Playwright's context options (a userAgent, say).
export async function browser(t, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tp-chromium-'))
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    ...options,
  })
  t.after(async () => {
    await context.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return context
}

// Waits until pick() returns a non-empty list, and returns it.
async function poll(pick, what, ms = 10000) {
  const end = Date.now() + ms
  for (;;) {
    const got = pick()
    if (got.length) return got
    if (Date.now() > end) throw new Error(what())
    await new Promise((r) => setTimeout(r, 100))
  }
}

// A transparent recording proxy in front of the collector: pages post to its
// url, and every batch is recorded with the collector's answer. It sees what
// the browser sends while a page unloads, which page events do not report.
export async function recorder(t) {
  const batches = []
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', async () => {
      const body = Buffer.concat(chunks)
      const headers = { ...req.headers }
      for (const h of ['host', 'connection', 'content-length']) delete headers[h]
      try {
        const up = await fetch(COLLECTOR + req.url, {
          method: req.method,
          headers,
          body: body.length ? body : undefined,
        })
        const out = {}
        up.headers.forEach((v, k) => {
          if (!['connection', 'content-length', 'content-encoding', 'transfer-encoding'].includes(k)) out[k] = v
        })
        if (req.method === 'POST' && req.url === '/e') batches.push({ status: up.status, ...JSON.parse(body) })
        res.writeHead(up.status, out)
        res.end(Buffer.from(await up.arrayBuffer()))
      } catch (err) {
        res.writeHead(502)
        res.end(String(err))
      }
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  const events = () => batches.flatMap((b) => b.events)
  const delivered = () => batches.filter((b) => b.status < 300).flatMap((b) => b.events)
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    batches,
    events,
    delivered,
    // Waits until the collector has accepted events matching want, and returns them.
    until: (want, ms) =>
      poll(
        () => delivered().filter(want),
        () => `no such event delivered; got: ${JSON.stringify(batches.map((b) => [b.status, b.events.map((e) => e.type)]))}`,
        ms,
      ),
  }
}

// The batches a page tries to post, as the browser reports them (including
// those that fail); unload-time beacons are not among them.
export function attempts(page, api) {
  const seen = []
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url() === api + '/e') seen.push(JSON.parse(req.postData()))
  })
  return seen
}

// Runs a query on ClickHouse over HTTP and returns its rows.
export async function query(sql) {
  const res = await fetch(CLICKHOUSE + '/', { method: 'POST', body: sql + ' FORMAT JSON' })
  const text = await res.text()
  if (!res.ok) throw new Error(`ClickHouse: ${text}`)
  return JSON.parse(text).data
}

// Polls ClickHouse until the query returns at least n rows (the pipeline
// takes a few seconds), then returns them.
export async function rows(sql, n = 1, ms = 30000) {
  const end = Date.now() + ms
  for (;;) {
    const got = await query(sql)
    if (got.length >= n || Date.now() > end) return got
    await new Promise((r) => setTimeout(r, 500))
  }
}

export const quote = (s) => `'${String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
