// The demo site as make demo serves it, with its embed as written: the
// collector's /t.js answered with the current build and /e recorded, so these
// run without the stack.
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { dist } from '../../build.mjs'
import { browser, fixtureServer, noBrowser } from './harness.mjs'

const DEMO = fileURLToPath(new URL('../../demo/', import.meta.url))
const EMBED = 'http://127.0.0.1:8080'
const why = noBrowser()
if (why) console.log(`demo tests skipped: ${why}`)
const opts = { skip: why || false, timeout: 60000 }

let srv
before(async () => {
  srv = await fixtureServer()
  for (const f of readdirSync(DEMO)) srv.add('/' + f, readFileSync(DEMO + f, 'utf8'))
})
after(() => srv && srv.close())

async function open(t) {
  const ctx = await browser(t)
  const sent = []
  await ctx.route(EMBED + '/t.js', (route) => route.fulfill({ contentType: 'text/javascript', body: readFileSync(dist('t.js')) }))
  await ctx.route(EMBED + '/c.js?site=demo', (route) =>
    route.fulfill({ contentType: 'text/javascript', body: readFileSync(dist('c.js')) }),
  )
  // The demo site's pool, as the collector answers a visitor holding +44 20 7946 0105.
  await ctx.route(/\/v1\/number\?/, (route) =>
    route.fulfill({
      contentType: 'application/json',
      headers: { 'access-control-allow-origin': srv.origin },
      body: JSON.stringify({ numbers: [{ pool: 'main', swap: ['+44 20 7946 0000'], number: '+442079460105' }], renew: 60 }),
    }),
  )
  await ctx.route(EMBED + '/e', (route) => {
    sent.push(...JSON.parse(route.request().postData()).events)
    route.fulfill({
      status: 204,
      headers: { 'access-control-allow-origin': srv.origin, 'access-control-allow-credentials': 'true' },
    })
  })
  const p = await ctx.newPage()
  // Waits up to 30 s: a loaded CI machine can take seconds to run a click.
  const until = async (want) => {
    for (let i = 0; i < 300 && !sent.some(want); i++) await new Promise((r) => setTimeout(r, 100))
    const got = sent.filter(want)
    assert.ok(got.length, `no such event sent; got: ${JSON.stringify(sent.map((e) => e.type))}`)
    return got
  }
  return { p, sent, until }
}

test('demo: every page sends its pageview', opts, async (t) => {
  const { p, until } = await open(t)
  for (const f of ['index.html', 'pricing.html', 'contact.html', 'app.html']) {
    await p.goto(`${srv.origin}/${f}?utm_source=demo`)
    const [pv] = await until((e) => e.type === 'pageview' && e.url.includes(f))
    assert.ok(pv, `${f} sent no pageview`)
    assert.equal(pv.title, await p.title())
  }
})

test('demo: the contact form makes a lead', opts, async (t) => {
  const { p, until } = await open(t)
  await p.goto(`${srv.origin}/contact.html`)
  await p.fill('#name', 'Grace Hopper')
  await p.fill('#email', 'grace@example.com')
  await p.fill('#company', 'Navy')
  await p.click('text=Send')
  const [form] = await until((e) => e.type === 'form_submit')
  assert.deepEqual(form.form.fields, ['name', 'email', 'company', 'team_size', 'message'])
  const [identify] = await until((e) => e.type === 'identify')
  assert.deepEqual(identify.traits, { email: 'grace@example.com' })
  assert.ok(await p.isVisible('#thanks'))
})

test('demo: pricing records calls and sales', opts, async (t) => {
  const { p, until } = await open(t)
  await p.goto(`${srv.origin}/pricing.html`)
  // The site's number is shown as the visitor's tracking number, in its own style.
  await p.waitForFunction(() => document.querySelector('a[href^="tel:"]').href == 'tel:+442079460105', null, { timeout: 30000 })
  assert.equal(await p.textContent('a[href^="tel:"]'), '020 7946 0105')
  await p.click('a[href^="tel:"]')
  await p.click('text=Buy Team')
  const [call] = await until((e) => e.type === 'call_click')
  assert.equal(call.props.href, 'tel:+442079460105')
  const [sale] = await until((e) => e.type === 'conversion')
  assert.equal(sale.conversion.value, 99)
  assert.equal(sale.conversion.currency, 'EUR')
})

test('demo: the single-page app sends a pageview per view', opts, async (t) => {
  const { p, until } = await open(t)
  await p.goto(`${srv.origin}/app.html`)
  await p.click('text=Reports')
  await p.click('text=Settings')
  await p.click('text=Export CSV')
  await until((e) => e.type === 'track')
  const views = await until((e) => e.type === 'pageview')
  assert.deepEqual(
    views.map((e) => e.title),
    ['Dashboard – Acme App', 'Reports – Acme App', 'Settings – Acme App'],
  )
})
