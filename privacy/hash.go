package privacy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
)

// Kinds of identifiers, as in the identity graph.
const (
	kindVisitor = 'v'
	kindEmail   = 'e' // an email's SHA-256, as stored
	kindUser    = 'u'
)

// IDSHA256 is how erased_identifiers holds an identifier: hex SHA-256 of site, kind and
// the identifier, each ended by a zero byte.
func IDSHA256(site string, kind byte, id string) string {
	h := sha256.New()
	h.Write([]byte(site))
	h.Write([]byte{0, kind, 0})
	h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil))
}

// sipHash64 is ClickHouse's sipHash64 of s (SipHash-2-4, zero key). Deletions match rows
// by sipHash64(column) against these values: a mutation's condition is kept in
// system.mutations and on disk in clear, so it names no identifier.
func sipHash64(s string) uint64 {
	v0, v1, v2, v3 := uint64(0x736f6d6570736575), uint64(0x646f72616e646f6d), uint64(0x6c7967656e657261), uint64(0x7465646279746573)
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	b := []byte(s)
	for len(b) >= 8 {
		m := binary.LittleEndian.Uint64(b)
		v3 ^= m
		round()
		round()
		v0 ^= m
		b = b[8:]
	}
	var last [8]byte
	copy(last[:], b)
	last[7] = byte(len(s))
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	round()
	round()
	v0 ^= m
	v2 ^= 0xff
	for range 4 {
		round()
	}
	return v0 ^ v1 ^ v2 ^ v3
}
