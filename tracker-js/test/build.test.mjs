import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { BUDGET, OUTPUT, bundle, gzipSize } from '../build.mjs'

const built = await bundle()

test('dist/t.js is what the sources build to (run npm run build and commit it)', () => {
  assert.ok(readFileSync(OUTPUT).equals(built), 'dist/t.js is stale')
})

test(`the snippet fits the budget of ${BUDGET} bytes gzipped`, (t) => {
  const size = gzipSize(built)
  t.diagnostic(`t.js: ${built.length} bytes, ${size} gzipped`)
  assert.ok(size <= BUDGET, `t.js is ${size} bytes gzipped`)
})
