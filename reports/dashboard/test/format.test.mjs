import assert from 'node:assert/strict'
import { test } from 'node:test'
import { change, coded, compactMoney, count, fractional, keyLabel, medianDays, money, multiple, NONE, ratio, share, timestamp, unconvertedText } from '../web/src/format.js'

test('whole leads and sales show no decimals, fractions two; counts none', () => {
  const f = (fn, n, want) => assert.equal(fn(n), want, `${fn.name}(${n})`)
  f(fractional, 12.3456, '12.35')
  f(fractional, 0.005, '0.01')
  f(fractional, 1234.5, '1,234.50')
  f(fractional, 321, '321')
  f(fractional, 3.999999, '4')
  f(fractional, 0.004, '0')
  f(fractional, 0, '0')
  f(fractional, null, NONE)
  f(fractional, NaN, NONE)
  f(count, 10063, '10,063')
  f(count, 0, '0')
  f(count, undefined, NONE)
})

test('money has two decimals and a currency when known', () => {
  const f = (n, cur, want) => assert.equal(money(n, cur), want)
  f(53260.857, '', '53,260.86')
  f(1250, 'EUR', '€1,250.00')
  f(1250, 'USD', '$1,250.00')
  f(1250, 'eur<b>', '1,250.00')
  f(-20, '', '-20.00')
  f(null, 'EUR', NONE)
})

test('ROI and rates are percentages, "—" when null', () => {
  const f = (fn, x, want) => assert.equal(fn(x), want)
  f(ratio, 6.431, '643.1%')
  f(ratio, -0.25, '-25.0%')
  f(ratio, 0, '0.0%')
  f(ratio, null, '—')
  f(share, 1, '100%')
  f(share, 1 / 3, '33.3%')
  f(share, 0, '0%')
  f(medianDays, 3.25, '3.3 d')
  f(medianDays, null, '—')
})

test('timestamps are shown in UTC and keys are labelled when empty', () => {
  assert.equal(timestamp('2026-10-20T10:15:00Z'), '2026-10-20 10:15 UTC')
  assert.equal(timestamp('2026-10-20T12:15:00+02:00'), '2026-10-20 10:15 UTC')
  assert.equal(timestamp('yesterday'), 'yesterday')
  assert.equal(timestamp(''), NONE)
  assert.equal(keyLabel(''), '(none)')
  assert.equal(keyLabel(null), '(none)')
  assert.equal(keyLabel('<b>x</b>'), '<b>x</b>')
})

test('ROAS is a multiple; unconverted amounts carry their currency code', () => {
  assert.equal(multiple(4), '4.00×')
  assert.equal(multiple(null), NONE)
  assert.equal(coded(13066, 'CHF'), 'CHF 13,066.00')
  assert.equal(coded(5, 'chf<b>'), '5.00')
  assert.equal(unconvertedText([{ currency: 'CHF', revenue: 200, cost: 0 }, { currency: 'USD', revenue: 0, cost: 1.5 }]), 'CHF 200.00 revenue · USD 1.50 cost')
  assert.equal(unconvertedText([]), '')
  assert.equal(unconvertedText(undefined), '')
})

test('changes from the previous period are signed percentages', () => {
  const f = (now, before, want) => assert.equal(change(now, before), want, `${now} vs ${before}`)
  f(112.5, 100, '+12.5%')
  f(97, 100, '−3.0%')
  f(5, 5, '±0.0%')
  f(5, 0, 'new')
  f(0, 0, '')
  f(null, 4, '')
  f(-50, -100, '+50.0%')
})

test('chart ticks of money carry the currency', () => {
  assert.equal(compactMoney(1250, 'EUR'), '€1.3K')
  assert.equal(compactMoney(1250000, 'USD'), '$1.3M')
  assert.equal(compactMoney(1250, ''), '1.3K')
  assert.equal(compactMoney(null, 'EUR'), NONE)
})
