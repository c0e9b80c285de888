package event

// The JSON scanner under the event decoders: it reads exactly the JSON that
// json.Unmarshal reads the same way, and reports anything else (escapes in keys, deep
// nesting, numbers it cannot represent exactly) so that the caller falls back to
// json.Unmarshal.

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// array reads an array, each element with elem.
func (d *decoder) array(elem func() bool) bool { return d.list('[', ']', elem) }

// list reads open, elements separated by commas, each with elem, and end: an array, or an
// object whose members elem reads.
func (d *decoder) list(open, end byte, elem func() bool) bool {
	if !d.eat(open) {
		return false
	}
	for n := 0; ; n++ {
		d.ws()
		if d.peek(end) {
			d.i++
			return true
		}
		if n > 0 {
			if !d.eat(',') {
				return false
			}
			d.ws()
		}
		if !elem() {
			return false
		}
	}
}

// maxDepth bounds the nesting of skipped values; deeper input goes to json.Unmarshal.
const maxDepth = 256

// decoder reads s, data as a string, from i on. Every method returns false on anything it
// does not handle exactly as json.Unmarshal would, which sends the message to it.
type decoder struct {
	data  []byte
	s     string
	i     int
	depth int // if not 0, a lower bound than maxDepth
}

// object reads an object whose members are decoded by set, found by known (-1: not a
// field). A repeated key merges or overwrites in ways not worth copying here.
func (d *decoder) object(known func(string) int, set func(k int) bool) bool {
	if !d.eat('{') {
		return false
	}
	var seen uint32
	for n := 0; ; n++ {
		key, more, ok := d.member(n)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		k := known(key)
		if k < 0 {
			if !d.unknown(key, known) {
				return false
			}
			continue
		}
		if seen&(1<<k) != 0 || !set(k) {
			return false
		}
		seen |= 1 << k
	}
}

// member moves to the next member of an object whose '{' has been read, the n-th one, and
// past its ':'. more is false at the closing '}'. Keys with escapes or non-ASCII bytes are
// left to json.Unmarshal, as they may match a field by its case-insensitive rules.
func (d *decoder) member(n int) (key string, more, ok bool) {
	d.ws()
	if d.peek('}') {
		d.i++
		return "", false, true
	}
	if n > 0 {
		if !d.eat(',') {
			return "", false, false
		}
		d.ws()
	}
	if !d.eat('"') {
		return "", false, false
	}
	start := d.i
	d.i = special(d.data, start)
	if !d.eat('"') {
		return "", false, false
	}
	key = d.s[start : d.i-1]
	d.ws()
	if !d.eat(':') {
		return "", false, false
	}
	d.ws()
	return key, true, true
}

// unknown skips the value of a key that is no field. json.Unmarshal also matches keys to
// fields case-insensitively: such keys are left to it.
func (d *decoder) unknown(key string, known func(string) int) bool {
	var buf [16]byte
	if len(key) <= len(buf) {
		lower, upper := buf[:len(key)], false
		for i := 0; i < len(key); i++ {
			c := key[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
				upper = true
			}
			lower[i] = c
		}
		if upper && known(string(lower)) >= 0 {
			return false
		}
	}
	return d.skip(0)
}

func (d *decoder) strField(p *string) bool {
	if d.lit("null") {
		return true
	}
	v, ok := d.str()
	*p = v
	return ok
}

func (d *decoder) boolField(p *bool) bool {
	switch {
	case d.lit("null"):
		return true
	case d.lit("true"):
		*p = true
		return true
	case d.lit("false"):
		return true
	}
	return false
}

// intField reads an integer; a number with a fraction or exponent goes to json.Unmarshal,
// which refuses it.
func (d *decoder) intField(p *int64) bool {
	if d.lit("null") {
		return true
	}
	start := d.i
	if d.peek('-') {
		d.i++
	}
	digits := d.i
	if !d.digits() {
		return false
	}
	if d.i < len(d.s) {
		if c := d.s[d.i]; c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	if d.i-digits <= 18 { // cannot overflow
		var v int64
		for _, c := range []byte(d.s[digits:d.i]) {
			v = v*10 + int64(c-'0')
		}
		if digits > start {
			v = -v
		}
		*p = v
		return true
	}
	v, err := strconv.ParseInt(d.s[start:d.i], 10, 64)
	*p = v
	return err == nil
}

func (d *decoder) floatField(p *float64) bool {
	if d.lit("null") {
		return true
	}
	start := d.i
	if !d.number() {
		return false
	}
	v, err := strconv.ParseFloat(d.s[start:d.i], 64)
	*p = v
	return err == nil
}

// digits reads the integer part of a number: 0 or digits not starting with 0.
func (d *decoder) digits() bool {
	if d.i >= len(d.s) {
		return false
	}
	switch c := d.s[d.i]; {
	case c == '0':
		d.i++
		return true
	case '1' <= c && c <= '9':
		d.i++
		for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
			d.i++
		}
		return true
	}
	return false
}

// number reads a number as JSON defines it.
func (d *decoder) number() bool {
	if d.peek('-') {
		d.i++
	}
	if !d.digits() {
		return false
	}
	if d.peek('.') {
		d.i++
		if !d.moreDigits() {
			return false
		}
	}
	if d.peek('e') || d.peek('E') {
		d.i++
		if d.peek('+') || d.peek('-') {
			d.i++
		}
		if !d.moreDigits() {
			return false
		}
	}
	return true
}

// moreDigits reads one or more digits.
func (d *decoder) moreDigits() bool {
	start := d.i
	for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// str reads a string. Without escapes it is a substring of s, so costs no allocation.
// Invalid UTF-8 and lone surrogates, which json.Unmarshal replaces, are left to it.
func (d *decoder) str() (string, bool) {
	if !d.eat('"') {
		return "", false
	}
	start := d.i
	d.i = special(d.data, start)
	if d.peek('"') {
		d.i++
		return d.s[start : d.i-1], true
	}
	ascii := true
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case plain[c]:
		case c == '"':
			v := d.s[start:d.i]
			d.i++
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			return v, true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", false
		default:
			ascii = false
		}
		d.i++
	}
	return "", false
}

// plain marks the bytes that stand for themselves in a string: printable ASCII but for
// the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// special returns the index of the first byte from i on that is not plain, or len(b).
// It looks at eight bytes at a time, as most strings are all plain.
func special(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		u := binary.LittleEndian.Uint64(b[i:])
		q, bs := u^(ones*'"'), u^(ones*'\\')
		// High bits mark bytes below 0x20, from 0x80 on, quotes and backslashes; a borrow
		// may mark more bytes, but only above the first one truly marked.
		if m := ((u - ones*0x20) | u | ((q - ones) &^ q) | ((bs - ones) &^ bs)) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b) && plain[b[i]]; i++ {
	}
	return i
}

// escaped goes on with a string that started at start and has an escape at i. The
// result is never longer than the quoted text, so one allocation holds it.
func (d *decoder) escaped(start int) (string, bool) {
	end := d.i
	for {
		end = special(d.data, end)
		if end >= len(d.s) {
			return "", false
		}
		c := d.s[end]
		if c == '"' {
			break
		}
		if c < 0x20 {
			return "", false
		}
		if c == '\\' {
			end++
		}
		end++
	}
	var b strings.Builder
	b.Grow(end - start)
	b.WriteString(d.s[start:d.i])
	for {
		j := strings.IndexByte(d.s[d.i:end], '\\')
		if j < 0 {
			b.WriteString(d.s[d.i:end])
			d.i = end + 1
			v := b.String()
			if !utf8.ValidString(v) {
				return "", false
			}
			return v, true
		}
		b.WriteString(d.s[d.i : d.i+j])
		d.i += j + 2 // end is past the escape's second byte
		switch c := d.s[d.i-1]; c {
		case '"', '\\', '/':
			b.WriteByte(c)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := d.hex4(end)
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				if d.i+2 > end || d.s[d.i:d.i+2] != `\u` {
					return "", false
				}
				d.i += 2
				r2, ok := d.hex4(end)
				if !ok {
					return "", false
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", false
				}
			}
			b.WriteRune(r)
		default:
			return "", false
		}
	}
}

// hex4 reads the four hex digits of a \u escape, before end.
func (d *decoder) hex4(end int) (rune, bool) {
	if d.i+4 > end {
		return 0, false
	}
	var r rune
	for _, c := range []byte(d.s[d.i : d.i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r, true
}

// skip reads over any valid value. Skipped strings are not decoded, so any bytes but
// control characters may be in them, as json.Unmarshal allows.
func (d *decoder) skip(depth int) bool {
	if d.i >= len(d.s) {
		return false
	}
	switch c := d.s[d.i]; c {
	case '"':
		return d.skipStr()
	case '{', '[':
		if depth >= maxDepth || d.depth > 0 && depth >= d.depth {
			return false
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		return d.list(c, end, func() bool {
			if c == '{' {
				if !d.skipStr() {
					return false
				}
				d.ws()
				if !d.eat(':') {
					return false
				}
				d.ws()
			}
			return d.skip(depth + 1)
		})
	case 't':
		return d.lit("true")
	case 'f':
		return d.lit("false")
	case 'n':
		return d.lit("null")
	}
	return d.number()
}

func (d *decoder) skipStr() bool {
	if !d.eat('"') {
		return false
	}
	for d.i < len(d.s) {
		d.i = special(d.data, d.i)
		if d.i >= len(d.s) {
			return false
		}
		c := d.s[d.i]
		d.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if d.i >= len(d.s) {
				return false
			}
			d.i++
			switch d.s[d.i-1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := d.hex4(len(d.s)); !ok {
					return false
				}
			default:
				return false
			}
		}
	}
	return false
}

func (d *decoder) ws() {
	if d.i < len(d.s) && d.s[d.i] > ' ' {
		return // the collector writes no whitespace
	}
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) peek(c byte) bool { return d.i < len(d.s) && d.s[d.i] == c }

func (d *decoder) eat(c byte) bool {
	if d.peek(c) {
		d.i++
		return true
	}
	return false
}

func (d *decoder) lit(l string) bool {
	if len(d.s)-d.i >= len(l) && d.s[d.i:d.i+len(l)] == l {
		d.i += len(l)
		return true
	}
	return false
}
