import assert from 'node:assert/strict'
import { test } from 'node:test'
import { apiBase, decorate, formFields, isId, optedOut, readCookie, retryDelay, takeParam, uuid } from '../src/lib.js'

test('uuid makes distinct version 4 UUIDs', () => {
  const seen = new Set()
  for (let i = 0; i < 1000; i++) {
    const id = uuid()
    assert.match(id, /^[\da-f]{8}-[\da-f]{4}-4[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/)
    seen.add(id)
  }
  assert.equal(seen.size, 1000)
})

test('isId accepts only what is safe to put in a cookie', () => {
  const f = (v, want) => assert.equal(isId(v), want, String(v))
  f(uuid(), true)
  f('0F1E2D3C-4B5A-4968-8776-655443322110', true)
  f(undefined, false)
  f('', false)
  f('abc', false)
  f('0f1e2d3c-4b5a-4968-8776-65544332211;domain=evil.com', false)
  f('0f1e2d3c-4b5a-4968-8776-65544332211g', false)
})

test('optedOut follows the choice the visitor made, else Global Privacy Control', () => {
  const f = (cookies, gpc, want) => assert.equal(optedOut(cookies, gpc), want, `${cookies} gpc=${gpc}`)
  f('', undefined, false)
  f('', true, true)
  f('_tp_id=abc; _tp_optout=1', false, true)
  f('_tp_optout=0; _tp_id=abc', true, false)
  f('x_tp_optout=1', undefined, false)
})

test('apiBase posts next to the script unless data-api says otherwise', () => {
  const f = (api, src, want) => assert.equal(apiBase(api, src), want)
  f(undefined, 'http://127.0.0.1:8080/t.js', 'http://127.0.0.1:8080')
  f(undefined, 'https://www.example.com/tp/t.js', 'https://www.example.com/tp')
  f(undefined, 'https://t.example.com/t.js?v=2/3', 'https://t.example.com')
  f(undefined, 'https://t.example.com/js/t.js#x', 'https://t.example.com/js')
  f('https://c.example.com/', 'https://cdn.example.com/t.js', 'https://c.example.com')
  f('https://c.example.com/tp', 'https://cdn.example.com/t.js', 'https://c.example.com/tp')
})

test('readCookie finds one cookie by its exact name', () => {
  const f = (all, name, want) => assert.equal(readCookie(all, name), want)
  f('_tp_id=abc', '_tp_id', 'abc')
  f('a=1; _tp_id=abc; b=2', '_tp_id', 'abc')
  f('x_tp_id=no; _tp_id=yes', '_tp_id', 'yes')
  f('_tp_id_old=no', '_tp_id', undefined)
  f('', '_tp_optout', undefined)
  f('_tp_optout=0', '_tp_optout', '0')
})

// A stand-in for form.elements whose value getters record every read.
const fieldsOf = (specs) => {
  const read = []
  const elements = specs.map(([type, name, value, extra]) => ({
    type,
    name,
    id: '',
    autocomplete: '',
    ...extra,
    get value() {
      read.push(name)
      return value
    },
  }))
  return { elements, read }
}

test('formFields lists fields, finds the email and reads no other value', () => {
  const f = (specs, wantFields, wantEmail, wantRead) => {
    const { elements, read } = fieldsOf(specs)
    const [fields, email] = formFields(elements)
    assert.deepEqual(fields, wantFields)
    assert.equal(email, wantEmail)
    assert.deepEqual(read, wantRead)
  }
  f(
    [
      ['text', 'name', 'Ada'],
      ['email', 'email', ' ada@example.com '],
      ['textarea', 'message', 'hello'],
      ['submit', 'send', 'Send'],
    ],
    ['name', 'email', 'message'],
    'ada@example.com',
    ['email'],
  )
  // Secrets by type, name, id or autocomplete: not listed, never read.
  f(
    [
      ['password', 'login', 'hunter2'],
      ['text', 'user_password', 'hunter2'],
      ['text', 'cc_number', '4111111111111111'],
      ['tel', 'ccnum', '4111111111111111', { autocomplete: 'cc-number' }],
      ['text', 'x1', '123', { id: 'cvv' }],
      ['text', 'cvc', '123'],
      ['text', 'card-expiry', '12/30'],
      ['text', 'iban', 'DE89370400440532013000'],
      ['text', 'ssn', '078-05-1120'],
      ['text', 'pin', '1234'],
      ['hidden', 'csrf_token', 'abc'],
      ['text', 'email_password', 'a@b.co'],
    ],
    [],
    undefined,
    [],
  )
  // Ordinary names that merely contain "cc" or "pin" are kept.
  f(
    [
      ['text', 'account', 'x'],
      ['text', 'shipping', 'x'],
      ['checkbox', 'accept', 'on'],
    ],
    ['account', 'shipping', 'accept'],
    undefined,
    [],
  )
  // The email is found by autocomplete or name; a value that is not an
  // address is not an email; the first address wins; radio groups list once.
  f(
    [
      ['text', 'contact', 'not an address', { autocomplete: 'email' }],
      ['text', 'work_mail', 'b@example.org'],
      ['email', 'other_email', 'c@example.org'],
      ['radio', 'plan', 'a'],
      ['radio', 'plan', 'b'],
    ],
    ['contact', 'work_mail', 'other_email', 'plan'],
    'b@example.org',
    ['contact', 'work_mail'],
  )
  // Unnamed fields are skipped; an id stands in for a missing name.
  f(
    [
      ['text', '', 'x'],
      ['email', '', 'd@example.com', { id: 'newsletter-email' }],
    ],
    ['newsletter-email'],
    'd@example.com',
    [''],
  )
})

test('decorate adds the visitor id to links to the configured domains only', () => {
  const vid = '0f1e2d3c-4b5a-4968-8776-655443322110'
  const f = (href, want) => assert.equal(decorate(href, 'www.a.com', ['a.com', 'b.com'], vid), want)
  f('https://b.com/pricing', `https://b.com/pricing?_tp_vid=${vid}`)
  f('https://shop.b.com/?x=1#top', `https://shop.b.com/?x=1&_tp_vid=${vid}#top`)
  f(`https://b.com/?_tp_vid=old`, `https://b.com/?_tp_vid=${vid}`)
  f('https://a.com/', `https://a.com/?_tp_vid=${vid}`)
  f('https://www.a.com/about', 'https://www.a.com/about')
  f('https://notb.com/', 'https://notb.com/')
  f('https://b.com.evil.net/', 'https://b.com.evil.net/')
  f('https://other.org/', 'https://other.org/')
  assert.equal(decorate('https://b.com/', 'www.a.com', [''], vid), 'https://b.com/')
  assert.equal(decorate('https://b.com/', 'www.a.com', undefined, vid), 'https://b.com/')
})

test('retryDelay retries failures with backoff and drops refused batches', () => {
  const f = (status, retryAfter, tries, want) => assert.equal(retryDelay(status, retryAfter, tries), want)
  f(204, null, 3, 0)
  f(200, null, 0, 0)
  f(400, null, 0, 0)
  f(403, null, 0, 0)
  f(413, null, 0, 0)
  f(0, 0, 0, 1000)
  f(0, 0, 1, 2000)
  f(0, 0, 4, 16000)
  f(0, 0, 30, 300000)
  f(503, '7', 0, 7000)
  f(429, '2', 5, 2000)
  f(503, 'Wed, 21 Oct 2015 07:28:00 GMT', 2, 4000)
  f(500, null, 0, 1000)
  f(408, null, 1, 2000)
})

test('takeParam removes one query parameter and keeps the rest of the address', () => {
  const f = (href, wantValue, wantHref) => assert.deepEqual(takeParam(href, '_tp_vid'), [wantValue, wantHref])
  f('https://b.com/p?_tp_vid=abc', 'abc', 'https://b.com/p')
  f('https://b.com/p?utm_source=x&_tp_vid=abc&gclid=1#h', 'abc', 'https://b.com/p?utm_source=x&gclid=1#h')
  f('https://b.com/p?utm_source=x', null, 'https://b.com/p?utm_source=x')
  // The rest of the query stays as the site wrote it: no re-encoding of spaces or escapes.
  f('https://b.com/s?q=red%20shoes&_tp_vid=abc&t=a+b&x=%2F', 'abc', 'https://b.com/s?q=red%20shoes&t=a+b&x=%2F')
  f('https://b.com/s?_tp_vid=abc&flag&q=%7E', 'abc', 'https://b.com/s?flag&q=%7E')
  f('https://b.com/s?x_tp_vid=1&_tp_vid=abc', 'abc', 'https://b.com/s?x_tp_vid=1')
})
