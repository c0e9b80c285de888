// Cross-domain links (l.js): loaded by the snippet for sites that list their
// other domains (data-domains). A click on a link to one of them adds the
// visitor id as _tp_vid, which the snippet on the landing page adopts.
import { decorate, isId, optedOut, readCookie } from './lib.js'

const d = document
const domains = new URL(d.currentScript.src).searchParams.get('domains')?.split(/[\s,]+/)

const click = (ev) => {
  const a = ev.target.closest('a[href]')
  // The snippet's cookies tell its state: no _tp_id before consent (with
  // data-consent="required") or after an opt-out.
  const c = d.cookie
  const vid = readCookie(c, '_tp_id')
  if (!a || !isId(vid) || optedOut(c, navigator.globalPrivacyControl)) return
  // Only links to the other domains change: others keep their attribute.
  const href = decorate(a.href, location.hostname, domains, vid)
  if (href != a.href) a.href = href
}
d.addEventListener('click', click, true)
d.addEventListener('auxclick', click, true)
