package reports

import "math/bits"

// exactSum sums credits exactly whatever their order, in 128-bit units of 2^-52 of a
// credit. The lifecycle counts its entries in the order ClickHouse sends them, which varies
// from one ask to the next: float sums in varying order differ in their last bits, enough
// to round a rate that falls halfway at its seventh decimal one way or the other.
type exactSum struct{ hi, lo uint64 }

const exactUnit = 1 << 52

// add adds c (a credit: at least 0, less than 4096).
func (s *exactSum) add(c float64) {
	s.plus(exactSum{lo: uint64(c * exactUnit)})
}

func (s *exactSum) plus(o exactSum) {
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, o.lo, 0)
	s.hi += o.hi + carry
}

func (s exactSum) float() float64 {
	return float64(s.hi)*(1<<64/exactUnit) + float64(s.lo)/exactUnit
}
