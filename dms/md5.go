package dms

import (
	"math"
	"math/bits"
)

// The password scheme needs MD5 of a short string, and constant-time
// comparison on the server side. Both are written here from RFC 1321 rather
// than taken from crypto/md5 and crypto/subtle: those import the crypto
// package and its FIPS 140 module (DRBG, AES, SHA-2, SHA-3), about 0.15 MB
// that a constrained device's agent would link for one hash.
// TestMD5LikeCrypto holds md5Sum to crypto/md5.

// md5Shifts are the rotations of RFC 1321, four per round.
var md5Shifts = [4][4]int{{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}}

// md5K is the table T of RFC 1321: the integer part of 2^32 * |sin(i+1)|.
var md5K = func() (k [64]uint32) {
	for i := range k {
		k[i] = uint32(math.Floor(math.Abs(math.Sin(float64(i+1))) * (1 << 32)))
	}
	return k
}()

// md5Sum returns the MD5 digest of msg (RFC 1321).
func md5Sum(msg []byte) [16]byte {
	h := [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	n := len(msg)
	// Padding: a 1 bit, zeros up to 56 bytes mod 64, the length in bits.
	padded := make([]byte, 0, (n+8)/64*64+64)
	padded = append(padded, msg...)
	padded = append(padded, 0x80)
	for len(padded)%64 != 56 {
		padded = append(padded, 0)
	}
	bitLen := uint64(n) * 8
	for i := range 8 {
		padded = append(padded, byte(bitLen>>(8*i)))
	}
	var m [16]uint32
	for off := 0; off < len(padded); off += 64 {
		for i := range m {
			p := padded[off+4*i:]
			m[i] = uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
		}
		a, b, c, d := h[0], h[1], h[2], h[3]
		for i := range 64 {
			var f uint32
			var g int
			switch i / 16 {
			case 0:
				f, g = b&c|^b&d, i
			case 1:
				f, g = d&b|^d&c, (5*i+1)%16
			case 2:
				f, g = b^c^d, (3*i+5)%16
			default:
				f, g = c^(b|^d), 7*i%16
			}
			f += a + md5K[i] + m[g]
			a, d, c = d, c, b
			b += bits.RotateLeft32(f, md5Shifts[i/16][i%4])
		}
		h[0] += a
		h[1] += b
		h[2] += c
		h[3] += d
	}
	var out [16]byte
	for i, v := range h {
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	return out
}

// equalConstantTime reports whether a and b are equal, in a time that
// depends on their length only.
func equalConstantTime(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return v == 0
}
