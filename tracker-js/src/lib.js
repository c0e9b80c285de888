// Pure helpers of the snippet: no DOM globals here, so node tests can run them.

// A random UUID v4. crypto.randomUUID exists only in secure contexts, and
// sites still run on plain http; a blob URL ends with a random v4 UUID in
// every browser and context, in fewer bytes than building one. The empty
// blobs stay registered until the page unloads: a few bytes each.
export const uuid = () => URL.createObjectURL(new Blob()).slice(-36)

// Ids from cookies and links end up in a cookie: nothing but a UUID's characters.
export const isId = (v) => /^[\da-f-]{36}$/i.test(v)

// The collector base URL: the script's own URL without its file name, so
// https://www.example.com/tp/t.js posts to https://www.example.com/tp/e.
export const apiBase = (api, src) => (api || new URL('.', src).href).replace(/\/$/, '')

export const readCookie = (all, name) => all.match('(^|; )' + name + '=([^;]*)')?.[2]

// Whether the visitor opted out: the _tp_optout cookie (1 out, 0 in) when
// set, else Global Privacy Control.
export const optedOut = (cookies, gpc) => {
  const choice = readCookie(cookies, '_tp_optout')
  return choice ? choice == '1' : !!gpc
}

// What a submitted form tells: the names of the fields a visitor filled in
// and, when one of them holds an email address, that address. Only the email
// field's value is ever read.
export const formFields = (elements) => {
  const fields = []
  let email
  for (const el of elements) {
    const name = el.name || el.id
    const hint = [name, el.id, el.autocomplete, el.type].join()
    // Buttons and hidden fields are not listed; fields whose name, id,
    // autocomplete or type suggest a secret are neither listed nor read.
    if (
      !name ||
      /submit|button|reset|image|hidden/.test(el.type) ||
      /pass|pwd|secret|token|card|cv[vc]|csc|iban|ssn|(^|[\W_])(cc|pin)/i.test(hint) ||
      fields.includes(name)
    )
      continue
    fields.push(name)
    if (!email && /mail/i.test(hint)) email = el.value?.trim().match(/^\S+@\S+\.\S+$/)?.[0]
  }
  return [fields, email]
}

// The link with the visitor id added when it leads to one of the site's
// other domains (or their subdomains), else the link as it was (also when
// the site lists none: domains undefined).
export const decorate = (href, host, domains, vid) => {
  const u = new URL(href)
  if (u.hostname == host || !domains?.some((d) => ('.' + u.hostname).endsWith('.' + d))) return href
  u.searchParams.set('_tp_vid', vid)
  return u.href
}

// How long to wait before sending a batch again after an answer with this
// status (0: network error), or 0 when the batch is done: delivered, or
// refused for good (a 4xx other than 408/429).
export const retryDelay = (status, retryAfter, tries) =>
  status && status != 408 && status != 429 && status < 500
    ? 0
    : 1e3 * (retryAfter > 0 ? retryAfter : Math.min(2 ** tries, 300))

// The address without one query parameter, and that parameter's value (null
// when absent).
export const takeParam = (href, name) => {
  const u = new URL(href)
  const v = u.searchParams.get(name)
  // Cut from the query as written: searchParams would re-encode the rest (%20 to +).
  u.search = u.search.replace(RegExp('([?&])' + name + '=[^&]*&?'), '$1').replace(/[?&]$/, '')
  return [v, u.href]
}
