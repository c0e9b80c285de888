// Builds web/ into dist/, which is committed and embedded in the Go binary.
// Asset names carry content hashes, so the server can cache them for a year.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

export const root = fileURLToPath(new URL('./web', import.meta.url))
export const outDir = fileURLToPath(new URL('./dist', import.meta.url))

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2020',
    // One script and one stylesheet, no preload helper or inline code (CSP).
    modulePreload: false,
    assetsInlineLimit: 0,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 300,
  },
})
