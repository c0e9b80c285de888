import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cell, fileName, toCSV } from '../web/src/csv.js'
import { csvRows, csvTitle, sortRows, sourceColumns } from '../web/src/columns.js'
import { callColumns } from '../web/src/views/calls.js'

test('cells are quoted when needed and formulas defused', () => {
  const f = (v, want) => assert.equal(cell(v), want, JSON.stringify(v))
  f('google', 'google')
  f('a,b', '"a,b"')
  f('say "hi"', '"say ""hi"""')
  f('two\nlines', '"two\nlines"')
  f(' padded', '" padded"')
  f('=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`)
  f('+1', "'+1")
  f('-1', "'-1")
  f('@SUM(A1)', "'@SUM(A1)")
  f('<script>alert(1)</script>', '<script>alert(1)</script>')
  f(-12.5, '-12.5')
  f(0, '0')
  f(null, '')
  f(NaN, '')
})

test('a source report exports its columns, rows in table order and totals', () => {
  const rows = [
    { key: 'b', visitors: 10, sessions: 12, leads: 1.006, leads_by_type: { form: 1.006, call: 0, chat: 0, other: 0 }, call_clicks: 4, sales: 0.333333, revenue: 99.999, cost: 50, clicks: 40, impressions: 800, cost_per_lead: 49.7, cost_per_sale: 150, roas: 2, roi: 0.99998, unconverted: [] },
    { key: '(none)', visitors: 3, sessions: 3, leads: 0, leads_by_type: { form: 0, call: 0, chat: 0, other: 0 }, call_clicks: 0, sales: 0, revenue: 0, cost: 0, clicks: 0, impressions: 0, cost_per_lead: null, cost_per_sale: null, roas: null, roi: null, unconverted: [] },
  ]
  const totals = { visitors: 13, sessions: 15, leads: 1.006, leads_by_type: { form: 1.006, call: 0, chat: 0, other: 0 }, call_clicks: 4, sales: 0.333333, revenue: 99.999, cost: 50, clicks: 40, impressions: 800, cost_per_lead: 49.7, cost_per_sale: 150, roas: 2, roi: 0.99998, unconverted: [] }
  const cols = sourceColumns('campaign', 'EUR', rows)
  const csv = toCSV(cols.map(csvTitle), csvRows(cols, sortRows(rows, cols.find((c) => c.id === 'visitors'), 'asc'), totals))
  assert.equal(
    csv,
    'Campaign,Visitors,Sessions,Leads,Form leads,Call leads,Chat leads,Other leads,Call clicks,Sales,Revenue (EUR),Cost (EUR),Clicks,Impressions,Cost / lead (EUR),Cost / sale (EUR),ROAS,ROI %\r\n' +
      '(none),3,3,0,0,0,0,0,0,0,0,0,0,0,,,,\r\n' +
      'b,10,12,1.01,1.01,0,0,0,4,0.33,100,50,40,800,49.7,150,2,100\r\n' +
      'Total,13,15,1.01,1.01,0,0,0,4,0.33,100,50,40,800,49.7,150,2,100\r\n',
  )
})

test('amounts without an exchange rate get a column of their own', () => {
  const rows = [{ key: 'Referral', revenue: 0, unconverted: [{ currency: 'CHF', revenue: 1250, cost: 0 }, { currency: 'USD', revenue: 0, cost: 80.5 }] }]
  const cols = sourceColumns('channel', 'GBP', rows)
  const last = cols.at(-1)
  assert.equal(csvTitle(last), 'Not converted')
  assert.equal(last.show(rows[0]), 'CHF 1,250.00 revenue · USD 80.50 cost')
  assert.equal(csvTitle(cols.find((c) => c.id === 'revenue')), 'Revenue (GBP)')
  assert.equal(sourceColumns('channel', 'GBP', [{ key: 'x', unconverted: [] }]).at(-1).id, 'roi')
})

test('sorting puts missing values last in both directions', () => {
  const roi = sourceColumns('channel').find((c) => c.id === 'roi')
  const rows = [{ key: 'a', roi: null }, { key: 'b', roi: 0.5 }, { key: 'c', roi: -1 }]
  assert.deepEqual(sortRows(rows, roi, 'desc').map((r) => r.key), ['b', 'c', 'a'])
  assert.deepEqual(sortRows(rows, roi, 'asc').map((r) => r.key), ['c', 'b', 'a'])
})

test('export file names are safe', () => {
  assert.equal(fileName('my site/../x', 'sources', 'linear'), 'touchpoint-my_site_.._x-sources-linear.csv')
})

test('the calls report exports calls, answered, first-time callers and the median duration', () => {
  const rows = [
    { key: 'google', calls: 2.5, answered: 2, first_time_callers: 1.5, median_duration: 125 },
    { key: '(unmatched call)', calls: 1, answered: 0, first_time_callers: 1, median_duration: null },
  ]
  const totals = { calls: 3.5, answered: 2, first_time_callers: 2.5, median_duration: 125 }
  const cols = callColumns('source')
  assert.equal(cols[4].show(rows[0]), '2:05')
  assert.equal(cols[4].show(rows[1]), '—')
  assert.equal(
    toCSV(cols.map(csvTitle), csvRows(cols, rows, totals)),
    'Source,Calls,Answered,First-time callers,Median duration\r\n' +
      'google,2.5,2,1.5,125\r\n' +
      '(unmatched call),1,0,1,\r\n' +
      'Total,3.5,2,2.5,125\r\n',
  )
})
