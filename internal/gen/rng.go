package gen

import (
	"math/rand/v2"
	"strconv"
)

// Stream tags keep the random streams of different parts of the generator
// independent of each other.
const (
	tagWorld uint64 = iota + 1
	tagCell
	tagStory
	tagAccess
	tagRecords
	tagSession
	tagDigest
)

// mix is SplitMix64's finaliser: a fast, well-distributed 64-bit hash step.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hashOf combines values into one 64-bit hash.
func hashOf(vals ...uint64) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for _, v := range vals {
		h = mix(h ^ v)
	}
	return h
}

// hashString hashes s (FNV-1a followed by mix).
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix(h)
}

// newRand returns an independent PCG stream for the given seed and stream
// key values.
func newRand(seed int64, vals ...uint64) *rand.Rand {
	h := hashOf(append([]uint64{uint64(seed)}, vals...)...)
	return rand.New(rand.NewPCG(h, mix(h^0x5851f42d4c957f2d)))
}

const (
	hexLower  = "0123456789abcdef"
	hexUpper  = "0123456789ABCDEF"
	alnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowerAlnm = "abcdefghijklmnopqrstuvwxyz0123456789"
	upperAlnm = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	keyChars  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // IAM unique-id alphabet
	b64Chars  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// appendRandChars appends n characters drawn from set.
func appendRandChars(b []byte, r *rand.Rand, set string, n int) []byte {
	var x uint64
	left := 0
	for range n {
		if left == 0 {
			x = r.Uint64()
			left = 8
		}
		b = append(b, set[int(x&0xff)%len(set)])
		x >>= 8
		left--
	}
	return b
}

// randChars returns n characters drawn from set.
func randChars(r *rand.Rand, set string, n int) string {
	return string(appendRandChars(make([]byte, 0, n), r, set, n))
}

// hashChars derives n characters of set from a hash, for values that must be
// stable functions of their inputs (session keys, ids).
func hashChars(h uint64, set string, n int) string {
	b := make([]byte, n)
	for i := range n {
		h = mix(h + uint64(i))
		b[i] = set[h%uint64(len(set))]
	}
	return string(b)
}

// appendUUID appends a random version-4 UUID.
func appendUUID(b []byte, r *rand.Rand) []byte {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // variant 10
	var u [16]byte
	for i := range 8 {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexLower[c>>4], hexLower[c&15])
	}
	return b
}

// uuid returns a random version-4 UUID string.
func uuid(r *rand.Rand) string { return string(appendUUID(make([]byte, 0, 36), r)) }

// pick returns a uniformly chosen element.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// chance reports true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// weighted is a cumulative-weight table for fast weighted choice.
type weighted struct {
	cum   []float64
	total float64
}

func newWeighted(ws []float64) weighted {
	w := weighted{cum: make([]float64, len(ws))}
	for i, x := range ws {
		w.total += x
		w.cum[i] = w.total
	}
	return w
}

// pick returns an index with probability proportional to its weight.
func (w *weighted) pick(r *rand.Rand) int {
	x := r.Float64() * w.total
	lo, hi := 0, len(w.cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if w.cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// itoa is strconv.Itoa, shorter at call sites.
func itoa(i int) string { return strconv.Itoa(i) }
