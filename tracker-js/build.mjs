// Bundles and minifies the snippet and the parts it loads into dist/, each with
// its gzip encoding (dist/*.js.gz, which the collector serves), and prints their
// sizes. Imported by the tests to check that the committed files are current.
import { gzipAsync } from '@gfx/zopfli'
import { build } from 'esbuild'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync } from 'node:zlib'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
// The path of a built file: dist('t.js').
export const dist = (name) => here('dist/' + name)

// The snippet every site loads, and the parts it loads for the sites that use
// them: cross-domain links (data-domains) and call tracking (data-calls).
// Budgets are bytes gzipped.
export const PARTS = [
  { entry: 'src/tracker.js', name: 't.js', budget: 2048 },
  { entry: 'src/links.js', name: 'l.js', budget: 1024 },
  { entry: 'src/calls.js', name: 'c.js', budget: 2048 },
].map((p) => ({ ...p, output: dist(p.name) }))

export async function bundle(entry) {
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

// Zopfli writes plain gzip that every client reads, ~30 bytes smaller than
// gzip -9 for the snippet; it is too slow to run in the collector at start, so it
// runs here. Its output is the same on every run.
export const gzip = async (code) => Buffer.from(await gzipAsync(code, { numiterations: 100 }))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const { entry, name, budget, output } of PARTS) {
    const code = await bundle(entry)
    const gz = await gzip(code)
    writeFileSync(output, code)
    writeFileSync(output + '.gz', gz)
    const br = brotliCompressSync(code).length
    console.log(`dist/${name}: ${code.length} bytes, ${gz.length} gzip, ${br} brotli (budget ${budget} gzip)`)
    if (gz.length > budget) {
      console.error(`dist/${name} is over budget by ${gz.length - budget} bytes gzipped`)
      process.exit(1)
    }
  }
}
