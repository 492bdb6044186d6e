package packet

import (
	"slices"
	"strconv"
)

// Raw is a packet given as its first byte and its body, for conformance
// tests and fuzzers that need bytes no other type can express: reserved
// flag bits, a reserved packet type, fields that contradict their flags.
// The encoder adds the remaining length. Append accepts a Raw only when it
// decodes as a legal packet; AppendIllegal writes any Raw.
type Raw struct {
	Header byte   // packet type in the high nibble, flags in the low one
	Body   []byte // everything after the remaining length
}

// Type returns the packet type in Header, which may be a reserved one.
func (p *Raw) Type() Type { return Type(p.Header >> 4) }

// Len returns the encoded length of the packet.
func (p *Raw) Len() int { return packetLen(len(p.Body)) }

// Append appends the packet to b after checking that it decodes as a legal
// packet of its type; see Packet.
func (p *Raw) Append(b []byte) ([]byte, error) { return p.appendTo(b, true) }

func (p *Raw) appendTo(b []byte, strict bool) ([]byte, error) {
	if strict {
		q := New(p.Type())
		if q == nil {
			return b, errTypeReserved
		}
		if err := q.decode(p.Header&0x0f, p.Body, nil); err != nil {
			return b, err
		}
	}
	if len(p.Body) > MaxRemainingLength {
		return b, errRemainingLengthTooBig
	}
	b = AppendRemainingLength(append(b, p.Header), len(p.Body))
	return append(b, p.Body...), nil
}

func (p *Raw) decode(flags byte, body []byte, _ *interner) error {
	p.Header = p.Header&0xf0 | flags
	p.Body = body
	return nil
}

// Clone returns a copy of p that shares no memory with it.
func (p *Raw) Clone() *Raw { return &Raw{Header: p.Header, Body: slices.Clone(p.Body)} }

func (p *Raw) String() string {
	b := lineBuf("RAW{type=")
	b = append(b, p.Type().String()...)
	b = append(b, " flags="...)
	for i := 3; i >= 0; i-- { // the four flag bits, high first, as %04b wrote them
		b = append(b, '0'+p.Header>>i&1)
	}
	b = append(b, " body="...)
	b = strconv.AppendInt(b, int64(len(p.Body)), 10)
	return string(append(b, " bytes}"...))
}
