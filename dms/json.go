package dms

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small strict JSON scanner for the few shapes the package reads and
// writes (the join-network object, the heartbeat body, the simulator's
// "deviceId"), so that a constrained build links neither encoding/json nor
// the reflect code it brings. It follows RFC 8259 as encoding/json does
// (FuzzJSON holds it to encoding/json): the same values are valid, strings
// decode to the same text (invalid UTF-8 and lone surrogates become
// U+FFFD), nesting is limited to the same depth. It never panics and
// allocates only the strings it returns and the member list.

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

// JSONSyntaxError is malformed JSON in a payload the package reads: a
// join-network message, a heartbeat body from the status provider.
type JSONSyntaxError struct {
	Offset int    // the byte where the JSON stopped making sense
	Reason string // what was wrong there
}

func (e *JSONSyntaxError) Error() string {
	return "dms: malformed JSON at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

func synErr(off int, reason string) *JSONSyntaxError {
	return &JSONSyntaxError{Offset: off, Reason: reason}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// checkJSON returns nil when b is one JSON value with optional white space
// around it.
func checkJSON(b []byte) error {
	i := skipWS(b, 0)
	end, err := skipValue(b, i, 0)
	if err != nil {
		return err
	}
	if end = skipWS(b, end); end != len(b) {
		return synErr(end, "data after the value")
	}
	return nil
}

// skipValue returns the end of the value that starts at b[i].
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, synErr(i, "unexpected end")
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return i, synErr(i, "nested too deep")
		}
		return skipContainer(b, i, depth+1)
	case c == '"':
		return skipString(b, i)
	case c == 't':
		return skipWord(b, i, "true")
	case c == 'f':
		return skipWord(b, i, "false")
	case c == 'n':
		return skipWord(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(b, i)
	}
	return i, synErr(i, "not the start of a value")
}

func skipWord(b []byte, i int, w string) (int, error) {
	if len(b)-i < len(w) || string(b[i:i+len(w)]) != w {
		return i, synErr(i, "not "+w)
	}
	return i + len(w), nil
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func skipNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, synErr(i, "no digit in a number")
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, synErr(j, "no digit after the decimal point")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, synErr(j, "no digit in an exponent")
		}
		i = j
	}
	return i, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// skipString returns the end of the string literal at b[i] (a '"').
func skipString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i++
			if i >= len(b) {
				return i, synErr(i, "unexpected end in a string")
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return i, synErr(i, "bad \\u escape")
				}
				i += 4
			default:
				return i, synErr(i, "bad escape")
			}
		case c < 0x20:
			return i, synErr(i, "control character in a string")
		}
	}
	return i, synErr(i, "unexpected end in a string")
}

// skipContainer returns the end of the object or array at b[i].
func skipContainer(b []byte, i, depth int) (int, error) {
	obj := b[i] == '{'
	closing := byte(']')
	if obj {
		closing = '}'
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == closing {
		return i + 1, nil
	}
	for {
		var err error
		if obj {
			if i >= len(b) || b[i] != '"' {
				return i, synErr(i, "object key is not a string")
			}
			if i, err = skipString(b, i); err != nil {
				return i, err
			}
			if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
				return i, synErr(i, "no colon after an object key")
			}
			i = skipWS(b, i+1)
		}
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		switch {
		case i >= len(b):
			return i, synErr(i, "unexpected end")
		case b[i] == ',':
			i = skipWS(b, i+1)
		case b[i] == closing:
			return i + 1, nil
		default:
			return i, synErr(i, "no comma or end of container")
		}
	}
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// decodeString returns the text of a string literal that skipString
// accepted (quotes included), as encoding/json decodes it.
func decodeString(lit []byte) string {
	s := lit[1 : len(lit)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			i++
			switch s[i] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(s[i+1:])
				i += 5
				if utf16.IsSurrogate(r) {
					if len(s)-i >= 6 && s[i] == '\\' && s[i+1] == 'u' && isHex(s[i+2]) && isHex(s[i+3]) &&
						isHex(s[i+4]) && isHex(s[i+5]) {
						if d := utf16.DecodeRune(r, hex4(s[i+2:])); d != utf8.RuneError {
							r = d
							i += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
				continue
			default: // " \ /
				out = append(out, s[i])
			}
			i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, n := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r) // RuneError for invalid UTF-8
			i += n
		}
	}
	return string(out)
}

// jsonMember is one member of an object: its decoded key and the bytes of
// its value.
type jsonMember struct {
	key   string
	value []byte
}

// jsonObject returns the members of the object b (white space around it
// allowed), in order, duplicates included.
func jsonObject(b []byte) ([]jsonMember, error) {
	if err := checkJSON(b); err != nil {
		return nil, err
	}
	i := skipWS(b, 0)
	if b[i] != '{' {
		return nil, synErr(i, "not an object")
	}
	var out []jsonMember
	i = skipWS(b, i+1)
	for b[i] != '}' {
		kEnd, _ := skipString(b, i)
		key := decodeString(b[i:kEnd])
		v := skipWS(b, skipWS(b, kEnd)+1)
		vEnd, _ := skipValue(b, v, 1)
		out = append(out, jsonMember{key: key, value: b[v:vEnd]})
		i = skipWS(b, vEnd)
		if b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return out, nil
}

// lookup returns the value of the last member named key (encoding/json
// keeps the last of duplicate keys too).
func lookup(members []jsonMember, key string) ([]byte, bool) {
	for i := len(members) - 1; i >= 0; i-- {
		if members[i].key == key {
			return members[i].value, true
		}
	}
	return nil, false
}

// jsonStringValue decodes v as a JSON string; ok is false when v is
// another kind of value.
func jsonStringValue(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	return decodeString(v), true
}

// appendJSONString appends s as a JSON string literal. Invalid UTF-8
// becomes U+FFFD, as with encoding/json.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
