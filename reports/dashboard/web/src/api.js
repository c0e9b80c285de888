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
}

// get(path, params, signal, body) sends a GET, or with a body a POST of it as JSON (an
// email looked up stays out of URLs and access logs).
export function client({ token, base = '', fetchImpl = (...a) => fetch(...a) }) {
  return async function get(path, params, signal, body) {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') q.set(k, v)
    let res
    try {
      const headers = { Authorization: `Bearer ${token()}`, Accept: 'application/json' }
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
      answer = text ? JSON.parse(text) : null
    } catch {
      answer = null
    }
    if (!res.ok) {
      const reason = answer && typeof answer.error === 'string' && answer.error ? answer.error : `HTTP ${res.status}`
      throw new ApiError(res.status, reason)
    }
    if (answer === null || typeof answer !== 'object') throw new ApiError(res.status, 'The reports service sent an unreadable answer.')
    return answer
  }
}
