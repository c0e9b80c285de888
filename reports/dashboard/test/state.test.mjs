import assert from 'node:assert/strict'
import { test } from 'node:test'
import { takeToken } from '../web/src/auth.js'
import { ApiError, client } from '../web/src/api.js'
import { drillInto, intervalFor, drillPath, journeyQuery, lastDays, readState, reportParams, writeState } from '../web/src/state.js'

const NOW = Date.parse('2026-11-23T13:00:00Z')

test('the query string picks the view, with defaults for what is missing or wrong', () => {
  const f = (search, want) => {
    const s = readState(search, NOW)
    for (const [k, v] of Object.entries(want)) assert.equal(s[k], v, `${search}: ${k}`)
  }
  f('', { site: 'demo', view: 'sources', model: 'first_click', by: 'channel', stageBy: 'source', from: '2026-10-25', to: '2026-11-23' })
  f('?site=shop&model=data_driven&by=landing_page', { site: 'shop', model: 'data_driven', by: 'landing_page' })
  f('?model=magic&by=<x>&view=admin&stage_by=region', { model: 'first_click', by: 'channel', view: 'sources', stageBy: 'source' })
  f('?view=lifecycle&stage_by=device', { view: 'lifecycle', stageBy: 'device' })
  f('?view=leads&order=score&offset=100', { view: 'leads', order: 'score', offset: 100 })
  f('?order=best&offset=-5&interval=year&hide_empty=yes', { order: 'newest', offset: 0, interval: 'day', hideEmpty: false })
  f('?interval=week&hide_empty=1', { interval: 'week', hideEmpty: true })
  f('?from=2026-02-30', { from: '2026-10-25' })
  f('?from=2026-10-31&to=2026-10-01', { from: '2026-10-01', to: '2026-10-31' })
  f('?from=2026-13-45&to=yesterday', { from: '2026-10-25', to: '2026-11-23' })
  f('?site=%20%20', { site: 'demo' })
  f('?view=journey&conversion_id=lead-1', { view: 'journey', conversion: 'lead-1' })
})

test('a state survives the round trip through the query string', () => {
  const f = (search) => {
    const s = readState(search, NOW)
    assert.deepEqual(readState(writeState(s), NOW), s)
  }
  f('')
  f('?site=a%26b&view=compare&by=keyword&from=2026-01-01&to=2026-02-01')
  f('?view=lifecycle&stage_by=channel')
  f('?view=journey&conversion_id=x%20y')
  f('?channel=Paid%20Search&source=google&by=campaign&device=mobile&lead_type=call&interval=month&hide_empty=1')
  f('?view=leads&order=score&offset=50&campaign=%3Cscript%3E')
  assert.doesNotMatch(writeState(readState('?view=sources&conversion_id=z', NOW)), /conversion_id/)
})

test('date presets end today', () => {
  assert.deepEqual(lastDays(7, NOW), { from: '2026-11-17', to: '2026-11-23' })
  assert.deepEqual(lastDays(1, NOW), { from: '2026-11-23', to: '2026-11-23' })
})

test('a journey is looked up by email or conversion id', () => {
  assert.deepEqual(journeyQuery(' ada@example.com '), { email: 'ada@example.com' })
  assert.deepEqual(journeyQuery('lead-1001'), { conversion_id: 'lead-1001' })
  assert.equal(journeyQuery('  '), null)
})

test('the token is taken from the fragment and the rest kept', () => {
  const f = (hash, token, rest) => assert.deepEqual(takeToken(hash), { token, rest })
  f('#token=abc', 'abc', '')
  f('#token=a%2Bb%3D&x=1', 'a+b=', '#x=1')
  f('#x=1', '', '#x=1')
  f('', '', '')
})

test('API calls carry the token and turn error answers into reasons', async () => {
  const calls = []
  const answer = (status, body) => async (url, init) => {
    calls.push({ url, auth: init.headers.Authorization })
    return new Response(body, { status })
  }
  const f = async (status, body, want) => {
    const get = client({ token: () => 's3cret', fetchImpl: answer(status, body) })
    const got = await get('/api/v1/reports/sources', { site: 'demo', model: 'linear', empty: '' }).catch((e) => e)
    if (want instanceof ApiError) {
      assert.ok(got instanceof ApiError, String(got))
      assert.equal(got.status, want.status)
      assert.equal(got.message, want.message)
    } else assert.deepEqual(got, want)
  }
  await f(200, '{"rows":[]}', { rows: [] })
  await f(401, '{"error":"invalid admin token"}', new ApiError(401, 'invalid admin token'))
  await f(400, '{"error":"unknown model"}', new ApiError(400, 'unknown model'))
  await f(502, '<html>bad gateway</html>', new ApiError(502, 'HTTP 502'))
  await f(200, 'not json', new ApiError(200, 'The reports service sent an unreadable answer.'))
  assert.equal(calls[0].url, '/api/v1/reports/sources?site=demo&model=linear')
  assert.ok(calls.every((c) => c.auth === 'Bearer s3cret'))
  const down = client({ token: () => 't', fetchImpl: async () => { throw new TypeError('fetch failed') } })
  assert.equal((await down('/x').catch((e) => e)).status, 0)
})

test('filters are read from the query string and sent to the API', () => {
  const s = readState('?channel=Paid%20Search&device=mobile&lead_type=fax&country=&region=x', NOW)
  assert.deepEqual(s.filters, { channel: 'Paid Search', device: 'mobile' })
  assert.deepEqual(reportParams(s), { site: 'demo', from: '2026-10-25', to: '2026-11-23', channel: 'Paid Search', device: 'mobile' })
})

test('a row drills down channel → source → campaign → keyword, and the path leads back', () => {
  const s = readState('?device=mobile', NOW)
  const a = drillInto(s, 'Paid Search')
  assert.deepEqual(a, { filters: { device: 'mobile', channel: 'Paid Search' }, by: 'source' })
  const b = drillInto({ ...s, ...a }, 'google')
  assert.deepEqual(b, { filters: { device: 'mobile', channel: 'Paid Search', source: 'google' }, by: 'campaign' })
  const c = drillInto({ ...s, ...b }, 'brand')
  assert.equal(c.by, 'keyword')
  assert.equal(drillInto({ ...s, ...c }, 'crm'), null)
  assert.equal(drillInto({ ...s, by: 'country' }, 'DE'), null)
  const path = drillPath({ ...s, ...c })
  assert.deepEqual(path.map((p) => [p.dim, p.value]), [['channel', 'Paid Search'], ['source', 'google'], ['campaign', 'brand']])
  assert.deepEqual(path[0].back, { filters: { device: 'mobile' }, by: 'channel' })
  assert.deepEqual(path[1].back, { filters: { device: 'mobile', channel: 'Paid Search' }, by: 'source' })
  // A source filter without a channel is no path from the top.
  assert.deepEqual(drillPath(readState('?source=google', NOW)), [])
})

test('a range too long for daily points is charted by week, then by month', () => {
  assert.equal(intervalFor('2026-01-01', '2026-12-31', 'day'), 'day')
  assert.equal(intervalFor('2022-01-01', '2026-12-31', 'day'), 'week')
  assert.equal(intervalFor('2022-01-01', '2026-12-31', 'month'), 'month')
})
