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
  lifecycle: '/api/v1/reports/lifecycle',
  calls: '/api/v1/reports/calls',
  journeys: '/api/v1/journeys',
  sites: '/api/v1/sites',
}

export function client({ token, base = '', fetchImpl = (...a) => fetch(...a) }) {
  return async function get(path, params, signal) {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') q.set(k, v)
    let res
    try {
      res = await fetchImpl(`${base}${path}?${q}`, {
        headers: { Authorization: `Bearer ${token()}`, Accept: 'application/json' },
        cache: 'no-store',
        signal,
      })
    } catch (err) {
      if (err && err.name === 'AbortError') throw err
      throw new ApiError(0, 'The reports service cannot be reached.')
    }
    const text = await res.text()
    let body = null
    try {
      body = text ? JSON.parse(text) : null
    } catch {
      body = null
    }
    if (!res.ok) {
      const reason = body && typeof body.error === 'string' && body.error ? body.error : `HTTP ${res.status}`
      throw new ApiError(res.status, reason)
    }
    if (body === null || typeof body !== 'object') throw new ApiError(res.status, 'The reports service sent an unreadable answer.')
    return body
  }
}
