// The reports API client: every call carries the access token, and failures
// become ApiError with the server's reason ({"error": "..."}) when it gave one.
export class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.name = 'ApiError'
    this.status = status
  }
}

export const PATHS = {
  sources: '/api/v1/reports/sources',
  series: '/api/v1/reports/series',
  lifecycle: '/api/v1/reports/lifecycle',
  calls: '/api/v1/reports/calls',
  leads: '/api/v1/leads',
  journeys: '/api/v1/journeys',
  sites: '/api/v1/sites',
  deliveries: '/api/v1/webhooks/deliveries',
  exports: '/api/v1/exports/', // + google-ads or microsoft-ads
}

// get(path, params, signal, body) sends a GET, or with a body a POST of it as JSON, and
// returns the JSON answer; get.text(path, params, signal) returns the answer as text
// (the CSV exports).
export function client({ token, base = '', fetchImpl = (...a) => fetch(...a) }) {
  async function call(path, params, signal, body, accept) {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') q.set(k, v)
    let res
    try {
      const headers = { Authorization: `Bearer ${token()}`, Accept: accept }
      if (body) headers['Content-Type'] = 'application/json'
      res = await fetchImpl(`${base}${path}?${q}`, {
        method: body ? 'POST' : 'GET',
        headers,
        body: body ? JSON.stringify(body) : undefined,
        cache: 'no-store',
        signal,
      })
    } catch (err) {
      if (err && err.name === 'AbortError') throw err
      throw new ApiError(0, 'The reports service cannot be reached.')
    }
    const text = await res.text()
    let answer = null
    try {
      answer = text && accept === 'application/json' ? JSON.parse(text) : null
    } catch {
      answer = null
    }
    if (!res.ok) {
      let reason = answer && typeof answer.error === 'string' && answer.error ? answer.error : ''
      if (!reason && accept !== 'application/json') {
        try {
          reason = String(JSON.parse(text).error || '')
        } catch {}
      }
      throw new ApiError(res.status, reason || `HTTP ${res.status}`)
    }
    if (accept !== 'application/json') return text
    if (answer === null || typeof answer !== 'object') throw new ApiError(res.status, 'The reports service sent an unreadable answer.')
    return answer
  }
  const get = (path, params, signal, body) => call(path, params, signal, body, 'application/json')
  get.text = (path, params, signal) => call(path, params, signal, undefined, 'text/csv')
  return get
}
