// Pure helpers of the call-tracking part (c.js): finding a phone number as a
// page writes it and writing another one in its place, in the same style.

const digits = (s) => s.replace(/\D/g, '')
const intl = (s) => /^\D*(\+|00)/.test(s)

// The number as E.164 digits when written with its country code, else its
// national significant digits (no trunk prefix), and which of the two it is.
const key = (s) => [intl(s) ? digits(s).replace(/^00/, '') : digits(s).replace(/^0+/, ''), intl(s)]

// Both national: a North American number without and with its leading 1.
const nanp = (a, b) => a.length == 10 && b == '1' + a

// Whether a and b are the same number, however written: equal, or the
// national digits of one (at least seven) ending the other's international
// ones. The collector's internal/phone.Same decides the same way.
export const same = (a, b) => {
  const [ka, ia] = key(a)
  const [kb, ib] = key(b)
  if (!ka || !kb) return false
  if (ia == ib) return ka == kb || (!ia && (nanp(ka, kb) || nanp(kb, ka)))
  const [n, i] = ia ? [kb, ka] : [ka, kb]
  return n.length > 6 && i.endsWith(n)
}

// Number `to` (E.164) written in the style of `shown`, which is the number
// `was`: to's digits replace shown's one by one, spaces, dots, dashes and
// brackets kept; a national style keeps its trunk prefix. When the two
// numbers differ in length (a country code or national number of another
// length), `to` as given.
export const restyle = (shown, to, was = shown) => {
  const d = digits(shown)
  let t = digits(to)
  if (intl(was) && key(was)[0].length != t.length) return to
  if (intl(shown)) t = (/^\D*00/.test(shown) ? '00' : '') + t
  else {
    const trunk = d.match(/^0*/)[0]
    t = trunk + t.slice(t.length - d.length + trunk.length)
  }
  if (t.length != d.length) return to
  let i = 0
  return shown.replace(/\d/g, () => t[i++])
}

// Runs of text that look like a phone number: digits with the spaces, dots,
// dashes, slashes and brackets people write between them.
export const NUMBER = /(\+|\b)[\d(][\d\s().\/-]{5,}\d/g

// The text with every number that is one of `from` written as `to`, in its
// own style.
export const swapText = (text, from, to) =>
  text.replace(NUMBER, (m) => {
    const f = from.find((f) => same(m, f))
    return f ? restyle(m, to, f) : m
  })
