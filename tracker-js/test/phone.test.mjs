import assert from 'node:assert/strict'
import { test } from 'node:test'
import { restyle, same, swapText } from '../src/phone.js'

test('same number however written', () => {
  assert.ok(same('+442079460000', '+44 20 7946 0000'))
  assert.ok(same('(020) 7946 0000', '+442079460000'))
  assert.ok(same('020-7946-0000', '0044 20 7946 0000'))
  assert.ok(!same('+442079460000', '+442079460001'))
  assert.ok(!same('+442079460000', '+12079460000'))
  assert.ok(!same('0000', '+440000'))
  assert.ok(same('+1 (555) 010-0000', '5550100000'))
  assert.ok(same('1-555-010-0000', '+15550100000'))
  assert.ok(same('(555) 010-0000', '1 555 010 0000'))
  assert.ok(same('1.555.010.0000', '555-010-0000'))
  assert.ok(!same('(555) 010-0000', '2 555 010 0000'))
  assert.ok(!same('555.010.0000', '+1 555 010 0001'))
})

test('a number written in the style it replaces', () => {
  assert.equal(restyle('+44 20 7946 0000', '+442079460123'), '+44 20 7946 0123')
  assert.equal(restyle('(020) 7946-0000', '+442079460123'), '(020) 7946-0123')
  assert.equal(restyle('0044 20 7946 0000', '+442079460123'), '0044 20 7946 0123')
  assert.equal(restyle('0800 123 456', '+442079460123', '+44800123456'), '+442079460123') // other length: as given
  assert.equal(restyle('+1 415 555 0100', '+442079460123'), '+442079460123')
  assert.equal(restyle('1-555-010-0000', '+15550100123', '(555) 010-0000'), '1-555-010-0123')
  assert.equal(restyle('(555) 010-0000', '+15550100123', '+1 555 010 0000'), '(555) 010-0123')
  assert.equal(restyle('+1 (555) 010-0000', '+15550100123'), '+1 (555) 010-0123')
})

test('text keeps everything but the number', () => {
  assert.equal(
    swapText('Call us on 020 7946 0000 or +44 20 7946 0000 (order 12345678).', ['+442079460000'], '+442079460123'),
    'Call us on 020 7946 0123 or +44 20 7946 0123 (order 12345678).',
  )
  assert.equal(swapText('Call 020 7946 0001 today', ['020 7946 0000'], '+442079460123'), 'Call 020 7946 0001 today')
  assert.equal(
    swapText('Call (555) 010-0000, 1-555-010-0000 or +1 555.010.0000', ['(555) 010-0000'], '+15550100123'),
    'Call (555) 010-0123, 1-555-010-0123 or +1 555.010.0123',
  )
})
