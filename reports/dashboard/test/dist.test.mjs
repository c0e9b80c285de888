// dist/ is committed for Go builds: it must be what `npm run build` makes of
// the current web/ sources, and stay a small, CSP-friendly bundle.
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'vite'

const DIST = fileURLToPath(new URL('../dist/', import.meta.url))
const CONFIG = fileURLToPath(new URL('../vite.config.mjs', import.meta.url))
const BUDGET = 90 * 1024 // bytes of script, gzipped

const files = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)))
    .sort()

test('committed dist/ matches a fresh build of web/', async () => {
  const out = mkdtempSync(join(tmpdir(), 'tp-dashboard-dist-'))
  try {
    await build({ configFile: CONFIG, logLevel: 'silent', build: { outDir: out, emptyOutDir: true } })
    assert.deepEqual(files(DIST), files(out), 'dist/ is stale: run `npm run build` in reports/dashboard/ and commit dist/')
    for (const f of files(out)) assert.ok(readFileSync(join(DIST, f)).equals(readFileSync(join(out, f))), `dist/${f} is stale: run \`npm run build\` in dashboard/ and commit dist/`)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})

test('the bundle is small and index.html has no inline script', () => {
  const scripts = files(DIST).filter((f) => f.endsWith('.js'))
  assert.equal(scripts.length, 1)
  const gz = gzipSync(readFileSync(join(DIST, scripts[0])), { level: 9 }).length
  assert.ok(gz <= BUDGET, `script is ${gz} bytes gzipped, budget ${BUDGET}`)
  const html = readFileSync(join(DIST, 'index.html'), 'utf8')
  for (const tag of html.match(/<script[^>]*>/g) || []) assert.match(tag, /\ssrc="\.\/assets\//)
  assert.doesNotMatch(html, /\son\w+=|style=/i)
})

test('no source puts data into the page as HTML', () => {
  const src = fileURLToPath(new URL('../web/src/', import.meta.url))
  for (const f of files(src).filter((f) => f.endsWith('.js'))) {
    const code = readFileSync(join(src, f), 'utf8')
    assert.doesNotMatch(code, /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function/, `web/src/${f}`)
  }
})

test('every page links to DB-IP, as the licence of the GeoIP data asks', () => {
  const html = readFileSync(join(DIST, 'index.html'), 'utf8')
  assert.match(html, /<footer[^>]*><a href="https:\/\/db-ip\.com"[^>]*>IP Geolocation by DB-IP<\/a><\/footer>/)
})
