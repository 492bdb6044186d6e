package store

import (
	"hash/fnv"
	"strings"
)

// Path names from client ids, server URIs and keys.
//
// escapeName maps any string to one path component, injectively, the same on
// every operating system:
//   - the bytes a-z, 0-9, '.', '_' and '-' stand for themselves; every other
//     byte, upper-case letters included, becomes %XX (upper-case hex). Upper
//     case is escaped so that two ids differing only in case stay apart on
//     case-insensitive file systems (macOS, Windows);
//   - the empty string becomes "%" (a lone '%' is never produced otherwise);
//   - a name of only dots has every dot escaped, and a trailing dot is
//     escaped (Windows drops trailing dots);
//   - a Windows device name (con, prn, aux, nul, com0-9, lpt0-9, also with an
//     extension) has its first byte escaped;
//   - a result longer than maxNameLen keeps a readable prefix and ends in '~'
//     followed by 32 hex digits of the FNV-128a hash of the input. '~' is
//     never produced otherwise, so such names cannot collide with short ones.
//
// Every short result decodes back to its input (unescapeName), which is why
// the mapping is injective. Long results are not: FNV is not a cryptographic
// hash, and two inputs can be made to share a hashed name on purpose. The
// file store therefore never trusts a hashed name alone: a directory with a
// hashed name holds its original name in a file (see checkDirName); keys
// live whole inside the log and are never file names. A collision is an
// error matching ErrNameCollision, never two names sharing one path. FNV
// instead of SHA-256 keeps crypto/sha256, and the FIPS machinery its package
// initialisation brings, out of programs built without TLS (the linnet_notls
// tag; otherwise transport, which this package imports for Redact, brings
// crypto/tls anyway).

// maxNameLen bounds one escaped component, leaving room for the suffixes of
// the earlier layout's record files (and quarantined copies) within the
// usual 255-byte limit.
const maxNameLen = 120

const (
	hexUpper = "0123456789ABCDEF"
	lowerHex = "0123456789abcdef" // the hash suffix, as before (hex.EncodeToString)
)

func plainByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

func escapeName(s string) string {
	if s == "" {
		return "%"
	}
	allDots := strings.Trim(s, ".") == ""
	escFirst := windowsDeviceName(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		esc := !plainByte(c) ||
			(c == '.' && (allDots || i == len(s)-1)) ||
			(i == 0 && escFirst)
		if esc {
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&0x0f])
		} else {
			b.WriteByte(c)
		}
	}
	name := b.String()
	if len(name) <= maxNameLen {
		return name
	}
	prefix := name[:maxNameLen-33]
	// Do not cut an escape sequence in half.
	if i := strings.LastIndexByte(prefix, '%'); i >= 0 && i > len(prefix)-3 {
		prefix = prefix[:i]
	}
	// The prefix must not end in a dot either (Windows would drop it).
	prefix = strings.TrimRight(prefix, ".")
	sum := hashName(s)
	b.Reset()
	b.Grow(len(prefix) + 1 + 2*len(sum))
	b.WriteString(prefix)
	b.WriteByte('~')
	for _, c := range sum {
		b.WriteByte(lowerHex[c>>4])
		b.WriteByte(lowerHex[c&0x0f])
	}
	return b.String()
}

// hashName is the hash of long names: FNV-128a. A variable so that tests can
// force collisions.
var hashName = func(s string) (sum [16]byte) {
	h := fnv.New128a()
	h.Write([]byte(s))
	h.Sum(sum[:0])
	return sum
}

// hashedName reports whether name is a hashed (long) result of escapeName.
func hashedName(name string) bool { return strings.IndexByte(name, '~') >= 0 }

// unescapeName inverts escapeName for names without a hash suffix. ok is
// false for anything escapeName does not produce.
func unescapeName(name string) (s string, ok bool) {
	if name == "%" {
		return "", true
	}
	if name == "" || strings.IndexByte(name, '~') >= 0 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '%' {
			if !plainByte(c) {
				return "", false
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(name) {
			return "", false
		}
		hi, lo := unhex(name[i+1]), unhex(name[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	s = b.String()
	if escapeName(s) != name {
		return "", false
	}
	return s, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// windowsDeviceName reports whether s, up to its first dot, is a reserved
// Windows device name in lower case (upper case is escaped anyway).
func windowsDeviceName(s string) bool {
	base, _, _ := strings.Cut(s, ".")
	switch base {
	case "con", "prn", "aux", "nul":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "com") || strings.HasPrefix(base, "lpt")) {
		return '0' <= base[3] && base[3] <= '9'
	}
	return false
}
