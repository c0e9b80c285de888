// Bundles and minifies src/tracker.js into dist/t.js and prints its size.
// Imported by the tests to check that the committed dist/t.js is current.
import { build } from 'esbuild'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, gzipSync } from 'node:zlib'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
export const OUTPUT = here('dist/t.js')
export const BUDGET = 3072 // bytes gzipped (the goal is 2,048)

export async function bundle() {
  const result = await build({
    entryPoints: [here('src/tracker.js')],
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
  const code = await bundle()
  writeFileSync(OUTPUT, code)
  const gz = gzipSize(code)
  const br = brotliCompressSync(code).length
  console.log(`dist/t.js: ${code.length} bytes, ${gz} gzip, ${br} brotli (budget ${BUDGET} gzip)`)
  if (gz > BUDGET) {
    console.error(`dist/t.js is over budget by ${gz - BUDGET} bytes gzipped`)
    process.exit(1)
  }
}
