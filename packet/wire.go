package packet

import "io"

// AppendRemainingLength appends n as the variable-length integer of §2.2.3:
// seven bits a byte, least significant group first, the high bit marking
// that another byte follows. n must be in [0, MaxRemainingLength]; larger
// values are encoded in the bits that fit, so callers check first.
func AppendRemainingLength(b []byte, n int) []byte {
	for {
		d := byte(n & 0x7f)
		n >>= 7
		if n == 0 {
			return append(b, d)
		}
		b = append(b, d|0x80)
	}
}

// ParseRemainingLength decodes the variable-length integer at the start of
// b and returns its value and how many bytes it took. It returns
// io.ErrUnexpectedEOF when b ends before the integer does, and a
// *ProtocolError when the integer runs longer than four bytes.
func ParseRemainingLength(b []byte) (n, size int, err error) {
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		n |= int(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return n, i + 1, nil
		}
	}
	return 0, 0, errRemainingLengthTooLong // §2.2.3: at most four bytes
}

// RemainingLengthSize returns how many bytes AppendRemainingLength uses for n.
func RemainingLengthSize(n int) int {
	switch {
	case n < 1<<7:
		return 1
	case n < 1<<14:
		return 2
	case n < 1<<21:
		return 3
	}
	return 4
}

// packetLen is the whole length of a packet whose remaining length is rl.
func packetLen(rl int) int { return 1 + RemainingLengthSize(rl) + rl }

// appendHeader appends a fixed header; it fails when rl cannot be encoded.
func appendHeader(b []byte, t Type, flags byte, rl int) ([]byte, error) {
	if rl > MaxRemainingLength {
		return b, typed(errRemainingLengthTooBig, t)
	}
	b = append(b, byte(t)<<4|flags&0x0f)
	return AppendRemainingLength(b, rl), nil
}

func appendUint16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

// appendString appends a length-prefixed string (§1.5.3). The caller has
// checked that len(s) <= 65535.
func appendString(b []byte, s string) []byte {
	return append(appendUint16(b, uint16(len(s))), s...)
}

// appendBytes appends length-prefixed binary data (§3.1.3.3).
func appendBytes(b []byte, p []byte) []byte {
	return append(appendUint16(b, uint16(len(p))), p...)
}

// validUTF8 checks the rules every MQTT string obeys: well-formed UTF-8
// without surrogates [MQTT-1.5.3-1] and without U+0000 [MQTT-1.5.3-2].
// U+FEFF is an ordinary character and is kept [MQTT-1.5.3-3]. It works on
// strings and byte slices alike, so the decoder checks bytes before it makes
// a string of them.
func validUTF8[T string | []byte](s T) *ProtocolError {
	if cleanASCII(s, false) {
		return nil
	}
	n := len(s)
	for i := 0; i < n; {
		// Eight ASCII bytes without U+0000 at a time: the common case.
		if i+8 <= n {
			if w := load64(s, i); w&highBits == 0 && !hasZeroByte(w) {
				i += 8
				continue
			}
		}
		c := s[i]
		if c < 0x80 {
			if c == 0 {
				return errUTF8Null // [MQTT-1.5.3-2]
			}
			i++
			continue
		}
		// The well-formed sequences of Unicode's table 3-7: lo and hi bound
		// the second byte, which is where overlong forms, surrogates
		// (ED A0..BF) and code points over U+10FFFF are ruled out.
		var size int
		lo, hi := byte(0x80), byte(0xbf)
		switch {
		case c >= 0xc2 && c <= 0xdf:
			size = 2
		case c == 0xe0:
			size, lo = 3, 0xa0
		case c == 0xed:
			size, hi = 3, 0x9f
		case c >= 0xe1 && c <= 0xef:
			size = 3
		case c == 0xf0:
			size, lo = 4, 0x90
		case c >= 0xf1 && c <= 0xf3:
			size = 4
		case c == 0xf4:
			size, hi = 4, 0x8f
		default:
			return errUTF8Invalid // [MQTT-1.5.3-1]
		}
		if i+size > n || s[i+1] < lo || s[i+1] > hi {
			return errUTF8Invalid // [MQTT-1.5.3-1]
		}
		for j := 2; j < size; j++ {
			if s[i+j] < 0x80 || s[i+j] > 0xbf {
				return errUTF8Invalid // [MQTT-1.5.3-1]
			}
		}
		i += size
	}
	return nil
}

// Word-at-a-time helpers for the string checks. They read eight bytes with
// shifts, which the compiler turns into one load; no unsafe.
const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// load64 returns the eight bytes of s from i, little-endian. The caller
// checks i+8 <= len(s).
func load64[T string | []byte](s T, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// hasZeroByte reports whether any byte of w is 0. Borrows can mark bytes
// above a zero byte too, but never when there is no zero byte, so the
// answer is exact.
func hasZeroByte(w uint64) bool { return (w-lowBits)&^w&highBits != 0 }

// byteMask returns w with the high bit of each byte that equals c set and
// every other bit clear. Unlike hasZeroByte it is exact byte by byte, so the
// set bits give the positions of c.
func byteMask(w uint64, c byte) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	x := w ^ lowBits*uint64(c)
	return ^((x&low7 + low7) | x | low7)
}

// hasByte reports whether any byte of w is c.
func hasByte(w uint64, c byte) bool { return hasZeroByte(w ^ lowBits*uint64(c)) }

// cleanASCII reports whether s is ASCII without U+0000 (and, with noWild,
// without '+' and '#'), checking eight bytes at a time without branches; the
// last word overlaps the one before it. Strings under eight bytes report
// false and take the byte-by-byte checks.
//
// For an ASCII byte b, b+0x7f has its high bit set exactly when b != 0, and
// does not carry into the next byte. A byte of 0x80 or more may carry and
// spoil the answer for the byte above it, but it clears its own high bit in
// good (through &^ w), so the word fails all the same: the result is exact.
func cleanASCII[T string | []byte](s T, noWild bool) bool {
	const low7 = 0x7f7f7f7f7f7f7f7f
	n := len(s)
	if n < 8 {
		return false
	}
	good := uint64(highBits)
	if noWild {
		// Two words a round, the last one overlapping.
		check := func(w uint64) uint64 {
			x := (w | lowBits*0x08) ^ lowBits*'+' // 0 where w is '+' or '#': they differ only in bit 3
			return (w + low7) &^ w & (x + low7)
		}
		i := 0
		for ; i+16 <= n; i += 16 {
			good &= check(load64(s, i)) & check(load64(s, i+8))
		}
		if i < n {
			good &= check(load64(s, min(i, n-8))) & check(load64(s, n-8))
		}
	} else {
		for i := 0; i < n; i += 8 {
			w := load64(s, min(i, n-8))
			good &= (w + low7) &^ w
		}
	}
	return good == highBits
}

// wildcards has a high bit set in some byte exactly when w holds a '+' or a
// '#' (the borrow may mark bytes above one too). The two differ only in bit
// 3, so one zero-byte test finds both.
func wildcards(w uint64) uint64 {
	x := (w | lowBits*0x08) ^ lowBits*'+'
	return (x - lowBits) &^ x
}

// reader is a cursor over the body of one packet. Every read fails with the
// packet's malformed error when the body is too short; it never panics.
type reader struct {
	b   []byte
	off int
	bad *ProtocolError // the packet type's "fields do not fit" error
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.bad
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) uint16() (uint16, error) {
	if len(r.b)-r.off < 2 {
		return 0, r.bad
	}
	v := uint16(r.b[r.off])<<8 | uint16(r.b[r.off+1])
	r.off += 2
	return v, nil
}

// bytes reads length-prefixed binary data; the result aliases the body.
func (r *reader) bytes() ([]byte, error) {
	n, err := r.uint16()
	if err != nil {
		return nil, err
	}
	if len(r.b)-r.off < int(n) {
		return nil, r.bad
	}
	p := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return p, nil
}

// utf8 reads a length-prefixed string and checks it with validUTF8.
// The result is interned through in when in is not nil.
func (r *reader) utf8(t Type, in *interner) (string, error) {
	p, err := r.bytes()
	if err != nil {
		return "", err
	}
	if e := validUTF8(p); e != nil {
		return "", typed(e, t)
	}
	return in.string(p), nil
}

// packetID reads a packet identifier that must not be 0; zero is the
// packet type's error for 0 [MQTT-2.3.1-1].
func (r *reader) packetID(zero *ProtocolError) (uint16, error) {
	id, err := r.uint16()
	if err != nil {
		return 0, err
	}
	if id == 0 {
		return 0, zero
	}
	return id, nil
}

// filter reads a length-prefixed topic filter of a t packet and checks it
// (§4.7, [MQTT-1.5.3-1], [MQTT-1.5.3-2]).
func (r *reader) filter(t Type, in *interner) (string, error) {
	b, err := r.bytes()
	if err != nil {
		return "", err
	}
	f, e := in.topicFilter(b)
	if e != nil {
		return "", typed(e, t)
	}
	return f, nil
}

// interner turns byte slices into strings, reusing a string it made before
// for the same bytes. A Reader uses one so that decoding PUBLISH packets on
// a handful of topics allocates nothing in steady state. It is bounded: once
// full, it starts over.
type interner struct {
	m map[string]string
	// recent is a direct-mapped cache in front of m: a connection that
	// sees a few topics finds them here with one comparison, without
	// hashing.
	recent [8]string
	// checked holds strings that passed validTopicName (names) and
	// validTopicFilter (filters), so that a topic seen again is neither
	// checked nor hashed again. Only strings that passed go in.
	names, filters [8]string
}

func internSlot(p []byte) int { return (len(p) + int(p[len(p)-1])) & 7 }

// topicName checks a PUBLISH topic name and interns it.
func (in *interner) topicName(p []byte) (string, *ProtocolError) {
	if in == nil || len(p) == 0 {
		if e := topicNameError(p); e != nil {
			return "", e
		}
		return in.string(p), nil
	}
	slot := &in.names[internSlot(p)]
	if *slot == string(p) {
		return *slot, nil
	}
	if e := topicNameError(p); e != nil {
		return "", e
	}
	*slot = in.string(p)
	return *slot, nil
}

// topicFilter checks a topic filter and interns it.
func (in *interner) topicFilter(p []byte) (string, *ProtocolError) {
	if in == nil || len(p) == 0 {
		if e := validTopicFilter(p); e != nil {
			return "", e
		}
		return in.string(p), nil
	}
	slot := &in.filters[internSlot(p)]
	if *slot == string(p) {
		return *slot, nil
	}
	if e := validTopicFilter(p); e != nil {
		return "", e
	}
	*slot = in.string(p)
	return *slot, nil
}

const internMax = 256     // distinct strings kept
const internMaxLen = 1024 // longer strings are never interned

func (in *interner) string(p []byte) string {
	if in == nil || len(p) > internMaxLen {
		return string(p)
	}
	if len(p) == 0 {
		return ""
	}
	slot := &in.recent[internSlot(p)]
	if *slot == string(p) { // no allocation for this comparison
		return *slot
	}
	if s, ok := in.m[string(p)]; ok { // nor for this lookup
		*slot = s
		return s
	}
	if in.m == nil || len(in.m) >= internMax {
		in.m = make(map[string]string) // no size hint: most connections see a few topics
	}
	s := string(p)
	in.m[s] = s
	*slot = s
	return s
}
