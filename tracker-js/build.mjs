// Bundles and minifies src/tracker.js into dist/t.js and prints its size.
// Imported by the tests to check that the committed dist/t.js is current.
import { build } from 'esbuild'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, gzipSync } from 'node:zlib'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
export const OUTPUT = here('dist/t.js')
// The call-tracking part, loaded by t.js for sites with number pools only.
export const CALLS_OUTPUT = here('dist/c.js')
export const CALLS_BUDGET = 2048 // bytes gzipped
export const BUDGET = 3072 // bytes gzipped (the goal is 2,048)

export async function bundle(entry = 'src/tracker.js') {
  const result = await build({
    entryPoints: [here(entry)],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    legalComments: 'none',
    write: false,
    logLevel: 'warning',
  })
  return Buffer.from(result.outputFiles[0].contents)
}

export const gzipSize = (code) => gzipSync(code, { level: 9 }).length

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [entry, out, budget] of [
    ['src/tracker.js', OUTPUT, BUDGET],
    ['src/calls.js', CALLS_OUTPUT, CALLS_BUDGET],
  ]) {
    const code = await bundle(entry)
    writeFileSync(out, code)
    const name = out.slice(out.lastIndexOf('dist/'))
    const gz = gzipSize(code)
    const br = brotliCompressSync(code).length
    console.log(`${name}: ${code.length} bytes, ${gz} gzip, ${br} brotli (budget ${budget} gzip)`)
    if (gz > budget) {
      console.error(`${name} is over budget by ${gz - budget} bytes gzipped`)
      process.exit(1)
    }
  }
}
