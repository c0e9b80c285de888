// The dashboard in real headless Chromium (Debian's, driven by playwright-core).
// By default against test/browser/server.mjs (dist/ plus fixture API); with
// TP_DASHBOARD_URL set, the same checks run against a real attribution service:
//   TP_DASHBOARD_URL=http://127.0.0.1:8081 TP_SITE=demo TP_ADMIN_TOKEN=demo-admin \
//   [TP_FROM=YYYY-MM-DD TP_TO=YYYY-MM-DD] [TP_JOURNEY=<conversion id or email>] npm run test:browser
// The real site must hold a campaign named <script>alert(1)</script> in the range.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { cell } from '../../web/src/csv.js'
import { fractional, money } from '../../web/src/format.js'
import { start, TOKEN } from './server.mjs'

const OUTPUT = fileURLToPath(new URL('../../../../test-output/', import.meta.url))
const HOSTILE = '<script>alert(1)</script>'
const REAL = (process.env.TP_DASHBOARD_URL || '').replace(/\/$/, '')
const SITE = REAL ? process.env.TP_SITE || 'demo' : 'demo'
const ADMIN = REAL ? process.env.TP_ADMIN_TOKEN || 'demo-admin' : TOKEN
const FROM = REAL ? process.env.TP_FROM || '' : '2026-10-01'
const TO = REAL ? process.env.TP_TO || '' : '2026-10-31'
const JOURNEY = REAL ? process.env.TP_JOURNEY || '' : 'lead-1001'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync']

let base, server, dir, context, page
const dialogs = []
const errors = []

// What the API says, asked directly, to compare with what the page shows.
async function api(path, params) {
  const q = new URLSearchParams({ site: SITE, ...params })
  const res = await fetch(`${base}${path}?${q}`, { headers: { Authorization: `Bearer ${ADMIN}` } })
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`)
  return res.json()
}
const range = () => (FROM && TO ? { from: FROM, to: TO } : {})
const query = () => new URLSearchParams({ site: SITE, ...range() }).toString()
const text = (sel) => page.locator(sel).first().textContent()
const waitText = (sel, want) => page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent === w, [sel, want], { timeout: 10000 })

before(async () => {
  const chromiumPath = process.env.TP_CHROMIUM || '/usr/bin/chromium'
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install -y chromium (or set TP_CHROMIUM)`)
  if (REAL) base = REAL
  else {
    server = await start()
    base = server.url
  }
  dir = mkdtempSync(join(tmpdir(), 'tp-dashboard-chromium-'))
  context = await chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath,
    headless: true,
    args: ARGS,
    viewport: { width: 1366, height: 900 },
    locale: 'en-US',
    reducedMotion: 'reduce',
    acceptDownloads: true,
  })
  page = context.pages()[0] || (await context.newPage())
  page.on('dialog', (d) => {
    dialogs.push(d.message())
    d.dismiss().catch(() => {})
  })
  page.on('pageerror', (e) => errors.push(String(e)))
  // CSP violations are reported as console errors.
  page.on('console', (m) => m.type() === 'error' && !/401|403|404/.test(m.text()) && errors.push(m.text()))
  mkdirSync(OUTPUT, { recursive: true })
})

after(async () => {
  await context?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  await server?.close()
})

test('opens with the token from the fragment and shows the source report', async () => {
  const want = await api('/api/v1/reports/sources', { ...range(), model: 'first_click', by: 'channel' })
  await page.goto(`${base}/?${query()}#token=${encodeURIComponent(ADMIN)}`)
  await page.waitForSelector('[data-testid=sources-table] tbody tr')
  assert.ok(!page.url().includes('token'), `token left in the address bar: ${page.url()}`)
  assert.equal(await page.evaluate(() => sessionStorage.getItem('touchpoint.token')), ADMIN)
  assert.equal(await text('[data-testid=kpi-leads] .kpi-value'), fractional(want.totals.leads))
  // Money shows the report's currency, in the tiles and the table.
  assert.match(want.currency, /^[A-Z]{3}$/)
  assert.equal(await text('[data-testid=kpi-revenue] .kpi-value'), money(want.totals.revenue, want.currency))
  assert.equal(await text('[data-testid=kpi-cost] .kpi-value'), money(want.totals.cost, want.currency))
  assert.ok((await text('[data-testid=sources-table] tfoot')).includes(money(want.totals.revenue, want.currency)))
  assert.equal(await page.locator('[data-testid=unconverted]').count(), want.totals.unconverted?.length ? 1 : 0)
  if (want.totals.unconverted?.length) assert.match(await text('[data-testid=unconverted]'), new RegExp(`${want.totals.unconverted[0].currency} `))
  assert.equal(await page.locator('[data-testid=sources-table] tbody tr').count(), Math.max(1, want.rows.length))
  assert.equal(await page.locator('[data-testid=sources-chart] canvas').count(), want.rows.some((r) => r.leads > 0) ? 1 : 0)
  await page.screenshot({ path: join(OUTPUT, 'dashboard.png'), fullPage: true })
})

test('switching the attribution model shows that model’s numbers', async () => {
  const first = await api('/api/v1/reports/sources', { ...range(), model: 'first_click', by: 'channel' })
  const linear = await api('/api/v1/reports/sources', { ...range(), model: 'linear', by: 'channel' })
  if (!REAL) assert.notEqual(fractional(first.totals.leads), fractional(linear.totals.leads), 'fixtures must differ per model')
  const options = (name) => page.locator(`select[name=${name}] option`).evaluateAll((os) => os.map((o) => o.value))
  assert.deepEqual(await options('model'), ['first_click', 'last_click', 'last_non_direct', 'linear', 'time_decay', 'position_based', 'data_driven'])
  assert.deepEqual(await options('by'), ['channel', 'source', 'campaign', 'keyword', 'landing_page', 'country', 'device'])
  await page.selectOption('select[name=model]', 'linear')
  await waitText('[data-testid=kpi-leads] .kpi-value', fractional(linear.totals.leads))
  assert.match(page.url(), /model=linear/)
  const shown = await page.locator('[data-testid=sources-table] tbody tr th').allTextContents()
  assert.equal(shown.length, Math.max(1, linear.rows.length))
  await page.goBack()
  await waitText('[data-testid=kpi-leads] .kpi-value', fractional(first.totals.leads))
  assert.equal(await page.locator('select[name=model]').inputValue(), 'first_click')
})

test('a campaign named like a script renders as text and runs nothing', async () => {
  const want = await api('/api/v1/reports/sources', { ...range(), model: 'first_click', by: 'campaign' })
  assert.ok(want.rows.some((r) => r.key === HOSTILE), `the site needs a campaign named ${HOSTILE} in the range`)
  await page.selectOption('select[name=by]', 'campaign')
  await page.waitForFunction(
    (h) => [...document.querySelectorAll('[data-testid=sources-table] tbody th')].some((th) => th.textContent === h),
    HOSTILE,
    { timeout: 10000 },
  )
  assert.equal(await page.locator('.view script, .view img').count(), 0)
  assert.deepEqual(dialogs, [])
})

test('the table exports as CSV with the same rows', async () => {
  const want = await api('/api/v1/reports/sources', { ...range(), model: 'first_click', by: 'campaign' })
  if (!page.url().includes('by=campaign')) {
    await page.selectOption('select[name=by]', 'campaign')
    await page.waitForSelector('.view:not(.loading) [data-testid=sources-table] thead th >> text=Campaign')
  }
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-csv]')])
  assert.match(download.suggestedFilename(), /^touchpoint-.*-sources-first_click-campaign-.*\.csv$/)
  const csv = readFileSync(await download.path(), 'utf8').replace(/^\ufeff/, '')
  const lines = csv.trimEnd().split('\r\n')
  const c = want.currency
  const unconverted = want.rows.some((r) => r.unconverted?.length) ? ',Not converted' : ''
  assert.equal(lines[0], `Campaign,Visitors,Sessions,Leads,Form leads,Call leads,Chat leads,Other leads,Sales,Revenue (${c}),Cost (${c}),Clicks,Impressions,Cost / lead (${c}),Cost / sale (${c}),ROAS,ROI %${unconverted}`)
  assert.equal(lines.length, want.rows.length + 2) // header, rows, total
  for (const r of want.rows) assert.ok(lines.some((l) => l.startsWith(`${cell(r.key)},${r.visitors},${r.sessions},`)), `CSV lacks the row of ${r.key}`)
  assert.ok(!lines.some((l) => /^=/.test(l)), 'a formula-like key must not start a CSV cell')
})

test('first click and last click show side by side', async () => {
  const last = await api('/api/v1/reports/sources', { ...range(), model: 'last_click', by: 'campaign' })
  await page.click('[data-view=compare]')
  await page.waitForSelector('[data-testid=compare-last_click] tbody tr')
  assert.equal(await page.locator('[data-testid=compare-last_click] canvas').count(), last.rows.some((r) => r.leads > 0) ? 1 : 0)
  assert.equal(await page.locator('[data-testid=compare-last_click] tfoot td').first().textContent(), fractional(last.totals.leads))
  await page.screenshot({ path: join(OUTPUT, 'dashboard-compare.png'), fullPage: true })
})

test('the lifecycle funnel shows stage counts by source', async () => {
  const want = await api('/api/v1/reports/lifecycle', { ...range(), by: 'source' })
  await page.click('[data-view=lifecycle]')
  await page.waitForSelector('[data-testid=lifecycle-table] tbody tr')
  const heads = await page.locator('[data-testid=lifecycle-table] thead th').allTextContents()
  assert.deepEqual(heads, ['Source', 'Lead', 'MQL', 'SAL', 'SQL', 'Opportunity', 'Customer'])
  if (want.rows.length) {
    const first = page.locator('[data-testid=lifecycle-table] tbody tr').first()
    assert.equal(await first.locator('th').textContent(), want.rows[0].key || '(none)')
    assert.equal(await first.locator('.stage-count').first().textContent(), want.rows[0].counts.lead.toLocaleString('en-US'))
  }
  await page.screenshot({ path: join(OUTPUT, 'dashboard-lifecycle.png'), fullPage: true })
})

test('a journey opens with every touchpoint and each model’s credit', { skip: JOURNEY ? false : 'set TP_JOURNEY to a conversion id or email' }, async () => {
  const want = await api('/api/v1/journeys', JOURNEY.includes('@') ? { email: JOURNEY } : { conversion_id: JOURNEY })
  await page.click('[data-view=journey]')
  await page.fill('[data-testid=journey-form] input', JOURNEY)
  await page.click('[data-testid=journey-form] button[type=submit]')
  await page.waitForSelector('[data-testid=journey-table] tbody tr')
  const rows = page.locator('[data-testid=journey-table] tbody tr')
  assert.equal(await rows.count(), Math.max(1, want.touchpoints.length))
  const heads = await page.locator('[data-testid=journey-table] thead th').allTextContents()
  assert.deepEqual(heads.slice(-7), ['First click', 'Last click', 'Last non-direct', 'Linear', 'Time decay', 'Position based', 'Data-driven'])
  if (want.touchpoints.length) {
    const firstClick = await rows.first().locator('td').nth(6).textContent()
    assert.equal(firstClick, `${Math.round(want.touchpoints[0].credits.first_click * 1000) / 10}%`)
  }
  if (!REAL) assert.equal(await rows.nth(1).locator('td').nth(4).textContent(), HOSTILE)
  await page.screenshot({ path: join(OUTPUT, 'dashboard-journey.png'), fullPage: true })
  assert.deepEqual(dialogs, [])
})

test('a lead without touchpoints shows its credit on an explicit (no touchpoint) row', { skip: REAL ? 'fixtures only' : false }, async () => {
  await page.fill('[data-testid=journey-form] input', 'lead-1002')
  await page.click('[data-testid=journey-form] button[type=submit]')
  await page.waitForSelector('[data-testid=no-touchpoint]')
  assert.equal(await page.locator('[data-testid=journey-table] tbody tr').count(), 1)
  assert.equal(await page.locator('[data-testid=no-touchpoint] .badge').textContent(), '(no touchpoint)')
  assert.equal(await page.locator('[data-testid=no-touchpoint] td.credit').first().textContent(), '100%')
})

test('fits a phone screen', async () => {
  await page.setViewportSize({ width: 390, height: 844 })
  await page.click('[data-view=sources]')
  await page.waitForSelector('[data-testid=sources-table] tbody tr')
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`)
  await page.screenshot({ path: join(OUTPUT, 'dashboard-phone.png'), fullPage: true })
  await page.setViewportSize({ width: 1366, height: 900 })
})

test('the site field switches the site of every report', async () => {
  await page.fill('input[name=site]', 'no-such-site')
  await page.press('input[name=site]', 'Enter')
  await page.waitForFunction(() => new URL(location.href).searchParams.get('site') === 'no-such-site')
  await page.waitForSelector('.view:not(.loading) [data-testid=sources-table] tbody tr, .view:not(.loading) .message.error')
  if (!REAL) {
    assert.match(server.requests.at(-1), /^\/api\/v1\/reports\/sources\?site=no-such-site&/)
    assert.equal(await text('.view .message.error'), 'Could not load the report: unknown site')
  }
  await page.fill('input[name=site]', SITE)
  await page.press('input[name=site]', 'Enter')
  await page.waitForSelector('.view:not(.loading) [data-testid=sources-table] tbody tr')
})

test('a rejected token brings up the sign-in form with a reason', async () => {
  await page.goto(`${base}/?${query()}#token=wrong-token`)
  await page.waitForSelector('[data-testid=signin] .message.error')
  assert.match(await text('[data-testid=signin] .message.error'), /not accepted/)
  assert.equal(await page.evaluate(() => sessionStorage.getItem('touchpoint.token')), null)
  await page.screenshot({ path: join(OUTPUT, 'dashboard-signin.png') })
  await page.fill('[data-testid=signin] input[name=token]', ADMIN)
  await page.click('[data-testid=signin] button[type=submit]')
  await page.waitForSelector('[data-testid=sources-table] tbody tr')
})

test('the token’s site opens when the address names a site it cannot read', async () => {
  await page.goto(`${base}/?site=not-mine#token=${encodeURIComponent(ADMIN)}`)
  await page.waitForFunction((site) => new URL(location.href).searchParams.get('site') === site, SITE)
  await page.waitForSelector('.view:not(.loading) [data-testid=sources-table] tbody tr')
  assert.equal(await page.inputValue('input[name=site]'), SITE)
  assert.ok(await page.locator(`#tp-sites option[value="${SITE}"]`).count(), 'the sites of the token are offered')
})

test('the ad export previews and downloads the platform’s file as the API writes it', async () => {
  const params = { ...range(), type: 'lead', name: 'Demo request', model: 'last_click', timezone: '+0000' }
  const q = new URLSearchParams({ site: SITE, ...params })
  const want = await (await fetch(`${base}/api/v1/exports/google-ads?${q}`, { headers: { Authorization: `Bearer ${ADMIN}` } })).text()
  await page.goto(`${base}/?${query()}&view=exports`)
  await page.waitForSelector('[data-testid=export-rows]')
  await page.fill('input[name=name]', 'Demo request')
  await page.dispatchEvent('input[name=name]', 'change')
  await page.click('[data-testid=export-form] button[type=submit]')
  await page.waitForFunction(() => document.querySelector('.csv-preview')?.textContent.includes('Demo request'), null, { timeout: 10000 })
  const lines = want.trimEnd().split('\n')
  assert.equal(await text('[data-testid=export-rows]'), `${lines.length - 2} conversions`)
  assert.ok((await text('.csv-preview')).startsWith(lines.slice(0, 2).join('\n')))
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-download]')])
  assert.match(download.suggestedFilename(), new RegExp(`^google-ads-${SITE}-.*\\.csv$`))
  // Byte for byte what the API wrote: no byte order mark before Parameters:TimeZone.
  assert.equal(readFileSync(await download.path(), 'utf8'), want)
  assert.match(want, /^Parameters:TimeZone=\+0000\nGoogle Click ID,/)

  // A time zone the Microsoft template cannot hold is refused with the service's reason.
  await page.selectOption('select[name=platform]', 'microsoft-ads')
  await page.fill('input[name=timezone]', 'Europe/London')
  await page.dispatchEvent('input[name=timezone]', 'change')
  await page.click('[data-testid=export-form] button[type=submit]')
  await page.waitForSelector('.view .message.error')
  assert.match(await text('.view .message.error'), /offset/)
  await page.fill('input[name=timezone]', '+0000')
  await page.dispatchEvent('input[name=timezone]', 'change')
  await page.click('[data-testid=export-form] button[type=submit]')
  await page.waitForFunction(() => document.querySelector('.csv-preview')?.textContent.includes('Microsoft Click Id'), null, { timeout: 10000 })
})

test('deliveries list each webhook and Meta event with its answer, and send again', { skip: REAL ? 'fixtures only' : false }, async () => {
  await page.goto(`${base}/?${query()}&view=deliveries`)
  await page.waitForSelector('[data-testid=deliveries-table] tbody tr')
  assert.equal(await page.locator('[data-testid=deliveries-table] tbody tr').count(), 3)
  const failed = page.locator('tr[data-state=failed]')
  assert.match(await failed.textContent(), /lead\.created.*CRM.*lead-1001.*failed.*404 · answered 404 Not Found: <img src=x onerror=alert\(1\)>/)
  assert.equal(await page.locator('.view img, .view script').count(), 0, 'receiver answers and ids are text')
  await failed.locator('[data-testid=send-again]').click()
  await page.waitForSelector('.delivery-status .message')
  assert.match(await text('.delivery-status .message'), /Sending lead\.created of lead-1001 again: pending/)
  await page.waitForFunction(() => document.querySelectorAll('tr[data-state=pending]').length === 2, null, { timeout: 10000 })
  assert.ok(server.requests.some((r) => r.startsWith('/api/v1/webhooks/deliveries/dlv_a1/retry?site=demo')))

  await page.selectOption('select[name=delivery_target]', 'meta')
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=deliveries-table] tbody tr').length === 1, null, { timeout: 10000 })
  assert.match(await text('[data-testid=deliveries-table] tbody tr'), /Purchase.*Meta.*sale-77/)
  await page.screenshot({ path: join(OUTPUT, 'dashboard-deliveries.png'), fullPage: true })
})

test('nothing failed in the page', () => {
  assert.deepEqual(errors, [])
  assert.deepEqual(dialogs, [])
})
