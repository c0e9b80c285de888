import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { BUDGET, CALLS_BUDGET, CALLS_OUTPUT, OUTPUT, bundle, gzipSize } from '../build.mjs'

const built = await bundle()

test('dist/t.js is what the sources build to (run npm run build and commit it)', () => {
  assert.ok(readFileSync(OUTPUT).equals(built), 'dist/t.js is stale')
})

test(`the snippet fits the budget of ${BUDGET} bytes gzipped`, (t) => {
  const size = gzipSize(built)
  t.diagnostic(`t.js: ${built.length} bytes, ${size} gzipped`)
  assert.ok(size <= BUDGET, `t.js is ${size} bytes gzipped`)
})

const calls = await bundle('src/calls.js')

test('dist/c.js is what the sources build to (run npm run build and commit it)', () => {
  assert.ok(readFileSync(CALLS_OUTPUT).equals(calls), 'dist/c.js is stale')
})

test(`the call-tracking part fits its budget of ${CALLS_BUDGET} bytes gzipped`, (t) => {
  const size = gzipSize(calls)
  t.diagnostic(`c.js: ${calls.length} bytes, ${size} gzipped`)
  assert.ok(size <= CALLS_BUDGET, `c.js is ${size} bytes gzipped`)
})
