import { chromium } from 'playwright-core'
import { start, TOKEN } from './server.mjs'
const s = await start()
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless'] })
const width = Number(process.argv[2] || 1366)
const view = process.argv[3] || 'sources'
const extra = process.argv[4] || ''
const p = await b.newPage({ viewport: { width, height: 900 } })
const errs = []
p.on('pageerror', (e) => errs.push(String(e)))
p.on('console', (m) => m.type() === 'error' && errs.push(m.text()))
await p.goto(`${s.url}/?site=demo&from=2026-10-01&to=2026-10-31&view=${view}${extra}#token=${TOKEN}`)
await p.waitForTimeout(1500)
await p.screenshot({ path: `/tmp/shot-${view}-${width}.png`, fullPage: true })
console.log(errs.join('\n'))
await b.close(); await s.close()
