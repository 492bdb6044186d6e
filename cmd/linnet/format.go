package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/linnet-mqtt/linnet/client"
)

// The -F output format of sub, as mosquitto_sub reads it:
//
//	%t topic  %p payload  %x %X payload in hex  %l payload length  %q QoS
//	%r retained (1 or 0)  %m message id  %I ISO 8601 time  %U Unix time with
//	nanoseconds  %j JSON with the payload as a string  %J JSON with the
//	payload as JSON  %% a percent sign
//	@ followed by a strftime letter (@Y, @H, @N for nanoseconds, @@ for @)
//	\n \t \r \v \a \e \0 \\ escapes
//
// with an optional '-' (left align), '0' (pad with zeros), field width and
// precision after the '%'. The MQTT 5 properties (%A %C %D %E %F %P %R %S)
// are always absent in MQTT 3.1.1: they print blanks to the field width, or
// nothing.

// fmtOp is one piece of a compiled format: literal text, or a conversion.
type fmtOp struct {
	lit       string
	conv      byte // '%' conversion letter; 0 for literal text
	strftime  byte // '@' conversion letter
	leftAlign bool
	zeroPad   bool
	width     int
	precision int // -1: none
}

// compileFormat checks a -F format and compiles it. The errors name the
// bad specifier as mosquitto_sub does.
func compileFormat(f string) ([]fmtOp, error) {
	var ops []fmtOp
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			ops = append(ops, fmtOp{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '%':
			op := fmtOp{precision: -1}
			j := i + 1
			if j < len(f) && (f[j] == '-' || f[j] == '0') {
				op.leftAlign = f[j] == '-'
				op.zeroPad = f[j] == '0'
				j++
				if op.leftAlign && j < len(f) && f[j] == '0' {
					op.zeroPad = true // accepted, and ignored when left-aligned
					j++
				}
			}
			for ; j < len(f) && f[j] >= '0' && f[j] <= '9'; j++ {
				op.width = min(op.width*10+int(f[j]-'0'), 1<<16)
			}
			if j < len(f) && f[j] == '.' {
				op.precision = 0
				for j++; j < len(f) && f[j] >= '0' && f[j] <= '9'; j++ {
					op.precision = min(op.precision*10+int(f[j]-'0'), 1<<16)
				}
			}
			if j >= len(f) {
				return nil, errors.New("incomplete format specifier at the end")
			}
			if !strings.ContainsRune("%ACDEFIlmPpqRSrtjJUxX", rune(f[j])) {
				return nil, fmt.Errorf("invalid format specifier '%c'", f[j])
			}
			op.conv = f[j]
			i = j
			if op.conv == '%' {
				lit.WriteByte('%')
				continue
			}
			flush()
			ops = append(ops, op)
		case '@':
			if i == len(f)-1 {
				return nil, errors.New("incomplete format specifier '@' at the end")
			}
			i++
			if f[i] == '@' {
				lit.WriteByte('@')
				continue
			}
			flush()
			ops = append(ops, fmtOp{strftime: f[i], precision: -1})
		case '\\':
			if i == len(f)-1 {
				return nil, errors.New("incomplete escape specifier '\\' at the end")
			}
			i++
			c, ok := map[byte]byte{'\\': '\\', '0': 0, 'a': '\a', 'e': 0x1b, 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}[f[i]]
			if !ok {
				return nil, fmt.Errorf("invalid escape specifier '%c'", f[i])
			}
			lit.WriteByte(c)
		default:
			lit.WriteByte(f[i])
		}
	}
	flush()
	return ops, nil
}

// render appends m formatted by ops to b, at time now. A %J whose payload
// is not JSON prints nothing and makes the error, as in mosquitto_sub; the
// rest of the format is still printed.
func render(b []byte, ops []fmtOp, m *client.Message, now time.Time, pretty bool) ([]byte, error) {
	var first error
	for _, op := range ops {
		switch {
		case op.conv == 0 && op.strftime == 0:
			b = append(b, op.lit...)
		case op.strftime != 0:
			b = appendStrftime(b, op.strftime, now)
		default:
			var err error
			if b, err = renderConv(b, op, m, now, pretty); err != nil && first == nil {
				first = err
			}
		}
	}
	return b, first
}

func renderConv(b []byte, op fmtOp, m *client.Message, now time.Time, pretty bool) ([]byte, error) {
	switch op.conv {
	case 't':
		return appendStr(b, m.Topic, op), nil
	case 'p':
		return appendPayload(b, m.Payload, op, 0), nil
	case 'x':
		return appendPayload(b, m.Payload, op, 1), nil
	case 'X':
		return appendPayload(b, m.Payload, op, 2), nil
	case 'l':
		return appendInt(b, len(m.Payload), op), nil
	case 'm':
		return appendInt(b, int(m.MessageID), op), nil
	case 'q':
		return append(b, '0'+byte(m.QoS)), nil
	case 'r':
		if m.Retain {
			return append(b, '1'), nil
		}
		return append(b, '0'), nil
	case 'I':
		return appendStr(b, now.Format("2006-01-02T15:04:05-0700"), op), nil
	case 'U':
		return fmt.Appendf(b, "%d.%09d", now.Unix(), now.Nanosecond()), nil
	case 'j':
		return appendJSON(b, m, now, nil, pretty), nil
	case 'J':
		var payload *jsonNode
		if len(m.Payload) > 0 {
			var err error
			if payload, err = parseJSON(m.Payload); err != nil {
				return b, fmt.Errorf("the payload on topic %s is not valid JSON (for %%J)", m.Topic)
			}
		}
		return appendJSON(b, m, now, payload, pretty), nil
	case 'A', 'E', 'F', 'S':
		pad := byte(' ')
		if op.zeroPad {
			pad = '0'
		}
		return append(b, bytes.Repeat([]byte{pad}, op.width)...), nil
	case 'C':
		return append(b, bytes.Repeat([]byte{' '}, op.width)...), nil
	}
	return b, nil // %D %P %R: MQTT 5 properties, absent, print nothing
}

// appendStr is C's printf %s with a field width and a precision in bytes.
func appendStr(b []byte, s string, op fmtOp) []byte {
	if op.precision >= 0 && len(s) > op.precision {
		s = s[:op.precision]
	}
	pad := op.width - len(s)
	if !op.leftAlign {
		b = appendPad(b, ' ', pad)
	}
	b = append(b, s...)
	if op.leftAlign {
		b = appendPad(b, ' ', pad)
	}
	return b
}

// appendInt is C's printf %d, %-Nd or %0Nd.
func appendInt(b []byte, v int, op fmtOp) []byte {
	s := strconv.Itoa(v)
	pad := op.width - len(s)
	switch {
	case op.leftAlign:
		b = append(b, s...)
		return appendPad(b, ' ', pad)
	case op.zeroPad && v < 0:
		return append(appendPad(append(b, '-'), '0', pad), s[1:]...)
	case op.zeroPad:
		return append(appendPad(b, '0', pad), s...)
	}
	return append(appendPad(b, ' ', pad), s...)
}

// appendPayload writes the payload raw (hex 0) or in hex (1 lower case, 2
// upper case). With a field width the payload is cut to the width, and, as
// mosquitto_sub does, a hex payload is then cut to half of it.
func appendPayload(b []byte, p []byte, op fmtOp, hexCase int) []byte {
	n, pad := len(p), op.width-len(p)
	if op.width > 0 {
		n = min(n, op.width)
		if hexCase > 0 {
			n /= 2
			pad = op.width - 2*n
		} else {
			pad = op.width - n
		}
	}
	padByte := byte(' ')
	if op.zeroPad {
		padByte = '0'
	}
	if !op.leftAlign {
		b = appendPad(b, padByte, pad)
	}
	switch hexCase {
	case 0:
		b = append(b, p[:n]...)
	case 1:
		b = hex.AppendEncode(b, p[:n])
	case 2:
		b = append(b, strings.ToUpper(hex.EncodeToString(p[:n]))...)
	}
	if op.leftAlign {
		b = appendPad(b, ' ', pad)
	}
	return b
}

func appendPad(b []byte, c byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, c)
	}
	return b
}

// appendJSON writes the %j (payload nil) or %J object with the fields and
// their order of mosquitto_sub: tst, topic, qos, retain, payloadlen, mid
// (QoS 1 and 2 only), payload. tst is local time with microseconds and the
// UTC offset. With pretty, it is indented with tabs, one field a line.
func appendJSON(b []byte, m *client.Message, now time.Time, payload *jsonNode, pretty bool) []byte {
	type field struct{ k, v string }
	fields := []field{
		{"tst", cString(now.Format("2006-01-02T15:04:05.000000-0700"))},
		{"topic", cString(m.Topic)},
		{"qos", strconv.Itoa(int(m.QoS))},
		{"retain", map[bool]string{true: "1", false: "0"}[m.Retain]},
		{"payloadlen", strconv.Itoa(len(m.Payload))},
	}
	if m.QoS > 0 {
		fields = append(fields, field{"mid", strconv.Itoa(int(m.MessageID))})
	}
	switch {
	case len(m.Payload) == 0:
		fields = append(fields, field{"payload", "null"})
	case payload != nil:
		fields = append(fields, field{"payload", string(appendNode(nil, payload, 2, pretty))})
	default:
		fields = append(fields, field{"payload", cString(string(m.Payload))})
	}
	b = append(b, '{')
	for i, f := range fields {
		if pretty {
			b = append(b, "\n\t"...)
		} else if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.k...)
		b = append(b, "\":"...)
		if pretty {
			b = append(b, '\t')
		}
		b = append(b, f.v...)
		if pretty && i < len(fields)-1 {
			b = append(b, ',')
		}
	}
	if pretty {
		b = append(b, '\n')
	}
	return append(b, '}')
}

// cString quotes s as a JSON string the way mosquitto_sub's JSON library
// does: the payload is a C string, so it ends at the first NUL byte; '"',
// '\\' and control characters are escaped, other bytes are written as they
// are (not checked as UTF-8).
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			if c < 0x20 {
				b = fmt.Appendf(b, `\u%04x`, c)
			} else {
				b = append(b, c)
			}
		}
	}
	return string(append(b, '"'))
}
