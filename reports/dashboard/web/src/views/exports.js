// Ad exports: offline conversions for Google Ads and Microsoft Advertising as the CSV
// files those platforms import, previewed here and downloaded as they are.
import { ApiError, PATHS } from '../api.js'
import { field, h, message, replace, select } from '../dom.js'
import { count } from '../format.js'
import { MODELS, MODEL_NAMES } from '../state.js'

const PLATFORMS = [
  ['google-ads', 'Google Ads'],
  ['microsoft-ads', 'Microsoft Advertising'],
]
const TYPES = ['lead', 'sale', 'mql', 'sql', 'opportunity', 'customer']
const DEFAULTS = { platform: 'google-ads', type: 'lead', name: '', model: 'last_click', timezone: '+0000' }
const PREVIEW_LINES = 12

export async function exportsView(root, ctx) {
  const s = ctx.state
  const form = { ...DEFAULTS, ...(ctx.exportForm || {}) }
  const params = () => ({ site: s.site, from: s.from, to: s.to, type: form.type, name: form.name || form.type, model: form.model, timezone: form.timezone })
  const fileName = () => `${form.platform}-${s.site}-${s.from}-${s.to}.csv`.replace(/[^\w.-]+/g, '_')
  const out = h('div', { class: 'export-out', 'data-testid': 'export-preview' })
  const status = h('div', { class: 'export-status' })

  const input = (name, props = {}) =>
    h('input', { type: 'text', name, value: form[name], spellcheck: 'false', autocomplete: 'off', onchange: (e) => (form[name] = e.target.value.trim()), ...props })
  const controls = h(
    'form',
    {
      class: 'card export-form',
      'data-testid': 'export-form',
      onsubmit: (e) => {
        e.preventDefault()
        ctx.exportForm = { ...form }
        ctx.redraw()
      },
    },
    field('Platform', select({ name: 'platform', onchange: (e) => (form.platform = e.target.value) }, PLATFORMS, form.platform)),
    field('Conversion type', input('type', { list: 'tp-conversion-types', required: true })),
    h('datalist', { id: 'tp-conversion-types' }, TYPES.map((t) => h('option', { value: t }))),
    field('Conversion name in the platform', input('name', { placeholder: form.type, maxlength: 100 })),
    field('Credited touch', select({ name: 'export_model', onchange: (e) => (form.model = e.target.value) }, MODELS.map((m) => [m, MODEL_NAMES[m]]), form.model)),
    field('Time zone', input('timezone', { placeholder: '+0000', title: 'An offset like +0100, or for Google Ads a zone name like Europe/London' })),
    h('button', { type: 'submit', class: 'button', text: 'Preview' }),
    h('button', {
      type: 'button',
      class: 'button',
      'data-testid': 'export-download',
      text: 'Download CSV',
      onclick: async () => {
        ctx.exportForm = { ...form }
        try {
          const csv = await ctx.text(PATHS.exports + form.platform, params())
          ctx.download(fileName(), csv, false)
        } catch (err) {
          replace(status, message('error', `Could not export: ${err.message}`))
        }
      },
    }),
  )
  const note = h(
    'p',
    { class: 'card-note' },
    'One row per conversion whose credited touch carries the platform’s click id (Google Ads: gclid, or gbraid/wbraid from iOS; Microsoft: msclkid), with the value in the conversion’s own currency. ',
    'Upload it in Google Ads under Goals › Conversions › Uploads (or schedule it in Data Manager) and in Microsoft Advertising under Conversions › Offline conversions. ',
    'The name must be the conversion action’s name there, exactly.',
  )
  replace(root, controls, note, status, out)

  // Microsoft's template names its time zone by a fixed offset only.
  if (form.platform === 'microsoft-ads' && !/^([+-]\d{2}:?\d{2}|UTC|Z|)$/.test(form.timezone)) {
    replace(out, message('error', 'Microsoft Advertising takes a fixed offset as the time zone, such as +0100 or -0500.'))
    return
  }
  let csv
  try {
    csv = await ctx.text(PATHS.exports + form.platform, params())
  } catch (err) {
    // What the service refuses (a name, a time zone) is said under the form, which stays.
    if (!(err instanceof ApiError) || err.status === 401 || err.status === 0) throw err
    replace(out, message('error', `Could not export: ${err.message}`))
    return
  }
  const lines = csv.replace(/\r?\n$/, '').split(/\r?\n/)
  const rows = Math.max(lines.length - 2, 0)
  replace(
    out,
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', text: `${PLATFORMS.find(([p]) => p === form.platform)[1]} file` }), h('span', { class: 'card-note', 'data-testid': 'export-rows', text: `${count(rows)} conversions` })),
      rows === 0 ? message('info', 'No conversion of this type in the date range has a credited touch with a click id of this platform.') : null,
      h('pre', { class: 'csv-preview', text: lines.slice(0, PREVIEW_LINES).join('\n') + (lines.length > PREVIEW_LINES ? `\n… ${count(lines.length - PREVIEW_LINES)} more lines` : '') }),
    ),
  )
}
