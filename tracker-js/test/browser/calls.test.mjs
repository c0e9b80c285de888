// Call tracking in real headless Chromium against the real collector and lease
// store: the demo site's number (+44 20 7946 0000) is replaced by a number of
// its pool in text and tel: links, also in content added after load.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { browser, fixtureServer, page, quote, recorder, rows, unavailable } from './harness.mjs'

const why = await unavailable()
if (why) console.log(`call tracking browser tests skipped: ${why}`)
const opts = { skip: why || false, timeout: 60000 }
const POOL = /^\+44 20 7946 01[0-2]\d$/

let srv
before(async () => {
  srv = await fixtureServer()
})
after(() => srv && srv.close())

const body = `<p id="text">Call us: +44 20 7946 0000, or from the UK (020) 7946-0000. Order 12345678 is no number.</p>
<a id="tel" href="tel:+442079460000">Ring us</a> <a id="other" href="tel:+442079469999">Other line</a>`

// Headless Chromium says so in its user agent, and crawlers get no pool number: the
// tests browse as a desktop Chrome.
const DESKTOP = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

async function open(t, fixture) {
  const sent = await recorder(t)
  srv.add('/calls', page({ api: sent.url, attrs: 'data-calls', body, ...fixture }))
  const ctx = await browser(t, { userAgent: DESKTOP })
  const p = await ctx.newPage()
  return { sent, ctx, p }
}

const text = (p, sel) => p.$eval(sel, (e) => e.textContent)
const href = (p, sel) => p.$eval(sel, (e) => e.getAttribute('href'))
const waitFor = async (p, fn, arg) => p.waitForFunction(fn, arg, { timeout: 30000 })

test('calls: the site number is swapped in text, tel: links and content added later', opts, async (t) => {
  const { sent, ctx, p } = await open(t, {})
  await p.goto(`${srv.origin}/calls`)
  await waitFor(p, () => !document.getElementById('tel').href.endsWith('442079460000'))
  const number = (await href(p, '#tel')).slice(4)
  assert.match(number, /^\+4420794601[0-2]\d$/)
  const shown = number.replace(/^\+44(\d\d)(\d{4})(\d{4})$/, '+44 $1 $2 $3')
  assert.match(shown, POOL)
  const national = number.replace(/^\+44(\d\d)(\d{4})(\d{4})$/, '(0$1) $2-$3')
  assert.equal(await text(p, '#text'), `Call us: ${shown}, or from the UK ${national}. Order 12345678 is no number.`)
  assert.equal(await href(p, '#other'), 'tel:+442079469999', 'another number is left alone')

  await p.evaluate(() => {
    const div = document.createElement('div')
    div.id = 'late'
    div.innerHTML = 'Questions? 020 7946 0000 <a href="tel:02079460000">call</a>'
    document.body.append(div)
  })
  await waitFor(p, () => !document.getElementById('late').textContent.includes('0000'))
  assert.equal(await text(p, '#late'), `Questions? ${national.replace(/[()]/g, '').replace('-', ' ')} call`)
  assert.equal(await href(p, '#late a'), `tel:${number}`)

  // The lease reaches ClickHouse with the visitor and the session of the page.
  const [pv] = await sent.until((e) => e.type === 'pageview')
  const vid = (await ctx.cookies(srv.origin)).find((c) => c.name === '_tp_id').value
  assert.equal(pv.vid, vid)
  const [lease] = await rows(
    `SELECT number, visitor_id, session_id FROM touchpoint.number_leases FINAL WHERE site_id = 'demo' AND visitor_id = ${quote(vid)}`,
  )
  assert.equal(lease.number, number)
  const [session] = await rows(
    `SELECT session_id FROM touchpoint.events FINAL WHERE site_id = 'demo' AND event_id = toUUID(${quote(pv.id)})`,
  )
  assert.equal(lease.session_id, session.session_id)
})

test('calls: with every number held the page keeps its own', opts, async (t) => {
  const { ctx, p } = await open(t, {})
  let asked = 0
  await ctx.route(/\/v1\/number\?/, (route) => {
    asked++
    route.fulfill({
      contentType: 'application/json',
      headers: { 'access-control-allow-origin': srv.origin },
      body: JSON.stringify({ numbers: [{ pool: 'main', swap: ['+44 20 7946 0000'] }], renew: 60 }),
    })
  })
  await p.goto(`${srv.origin}/calls`)
  await waitFor(p, () => performance.getEntriesByType('resource').some((r) => r.name.includes('/v1/number')))
  await p.waitForTimeout(300)
  assert.ok(asked >= 1)
  assert.equal(await href(p, '#tel'), 'tel:+442079460000')
  assert.match(await text(p, '#text'), /\+44 20 7946 0000/)
})

test('calls: without data-calls nothing is loaded', opts, async (t) => {
  const { p } = await open(t, { attrs: '' })
  const loaded = []
  p.on('request', (r) => loaded.push(r.url()))
  await p.goto(`${srv.origin}/calls`)
  await p.waitForTimeout(1000)
  assert.ok(!loaded.some((u) => u.includes('/c.js') || u.includes('/v1/number')), loaded.join(' '))
})
