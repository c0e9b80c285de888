import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { PARTS, bundle, gzip } from '../build.mjs'

for (const { entry, name, budget, output } of PARTS) {
  const built = await bundle(entry)
  const gz = await gzip(built)

  test(`dist/${name} and its gzip encoding are what ${entry} builds to (run npm run build and commit them)`, () => {
    assert.ok(readFileSync(output).equals(built), `dist/${name} is stale`)
    assert.ok(readFileSync(output + '.gz').equals(gz), `dist/${name}.gz is stale`)
  })

  test(`dist/${name} fits its budget of ${budget} bytes gzipped`, (t) => {
    t.diagnostic(`${name}: ${built.length} bytes, ${gz.length} gzipped`)
    assert.ok(gz.length <= budget, `${name} is ${gz.length} bytes gzipped`)
  })
}
