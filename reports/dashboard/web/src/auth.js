// The admin token arrives in the URL fragment (#token=...), which browsers do
// not send to servers or in Referer headers; the page then removes it from the
// address bar and keeps it in sessionStorage for this tab only.
const KEY = 'touchpoint.token'

// Splits a location.hash into the token and the fragment left without it.
export function takeToken(hash) {
  const params = new URLSearchParams(String(hash || '').replace(/^#/, ''))
  const token = (params.get('token') || '').trim()
  params.delete('token')
  const rest = params.toString()
  return { token, rest: rest ? '#' + rest : '' }
}

export function loadToken(storage, loc, history) {
  const { token, rest } = takeToken(loc.hash)
  if (token) {
    storage.setItem(KEY, token)
    history.replaceState(history.state, '', loc.pathname + loc.search + rest)
    return token
  }
  return storage.getItem(KEY) || ''
}

export const saveToken = (storage, token) => storage.setItem(KEY, token)
export const clearToken = (storage) => storage.removeItem(KEY)
