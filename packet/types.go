package packet

import (
	"io"
	"strconv"
)

// Type is the MQTT control packet type, the high nibble of the first byte
// (§2.2.1).
type Type byte

// The fourteen control packet types of MQTT 3.1.1.
const (
	TypeConnect     Type = 1
	TypeConnack     Type = 2
	TypePublish     Type = 3
	TypePuback      Type = 4
	TypePubrec      Type = 5
	TypePubrel      Type = 6
	TypePubcomp     Type = 7
	TypeSubscribe   Type = 8
	TypeSuback      Type = 9
	TypeUnsubscribe Type = 10
	TypeUnsuback    Type = 11
	TypePingreq     Type = 12
	TypePingresp    Type = 13
	TypeDisconnect  Type = 14
)

var typeNames = [16]string{"RESERVED(0)", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
	"PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "RESERVED(15)"}

func (t Type) String() string {
	if t < 16 {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is one of the fourteen packet types.
func (t Type) Valid() bool { return t >= TypeConnect && t <= TypeDisconnect }

// QoS is a quality-of-service level (§4.3).
type QoS byte

// The three QoS levels.
const (
	QoS0 QoS = 0 // at most once
	QoS1 QoS = 1 // at least once
	QoS2 QoS = 2 // exactly once
)

func (q QoS) String() string {
	if q <= QoS2 {
		return "QoS" + strconv.Itoa(int(q))
	}
	return "QoS(" + strconv.Itoa(int(q)) + ")"
}

// Valid reports whether q is 0, 1 or 2.
func (q QoS) Valid() bool { return q <= QoS2 }

// ReturnCode is a CONNACK return code (§3.2.2.3).
type ReturnCode byte

// The CONNACK return codes of MQTT 3.1.1; 6 to 255 are reserved.
const (
	Accepted                   ReturnCode = 0
	RefusedProtocolVersion     ReturnCode = 1
	RefusedIdentifierRejected  ReturnCode = 2
	RefusedServerUnavailable   ReturnCode = 3
	RefusedBadUserNamePassword ReturnCode = 4
	RefusedNotAuthorized       ReturnCode = 5
)

var returnCodeNames = [6]string{"accepted", "unacceptable protocol version", "identifier rejected",
	"server unavailable", "bad user name or password", "not authorized"}

func (c ReturnCode) String() string {
	if int(c) < len(returnCodeNames) {
		return returnCodeNames[c]
	}
	return "reserved return code " + strconv.Itoa(int(c))
}

// Valid reports whether c is one of the six return codes the spec defines.
func (c ReturnCode) Valid() bool { return c <= RefusedNotAuthorized }

// SubackCode is one return code of a SUBACK: the QoS granted to a filter,
// or SubackFailure.
type SubackCode byte

// SUBACK return codes (§3.9.3).
const (
	SubackQoS0    SubackCode = 0x00
	SubackQoS1    SubackCode = 0x01
	SubackQoS2    SubackCode = 0x02
	SubackFailure SubackCode = 0x80
)

func (c SubackCode) String() string {
	switch c {
	case SubackQoS0, SubackQoS1, SubackQoS2:
		return "granted " + QoS(c).String()
	case SubackFailure:
		return "failure"
	}
	return "reserved SUBACK code 0x" + strconv.FormatUint(uint64(c), 16)
}

// Valid reports whether c is 0x00, 0x01, 0x02 or 0x80 [MQTT-3.9.3-2].
func (c SubackCode) Valid() bool { return c <= SubackQoS2 || c == SubackFailure }

// Failed reports whether c refuses the subscription.
func (c SubackCode) Failed() bool { return c == SubackFailure }

// lineBuf starts the line that a packet's String method builds with
// strconv's Append functions. It is inlined, so its 128 bytes, enough for
// the usual line, stay on the caller's stack and the method allocates only
// the string it returns.
func lineBuf(prefix string) []byte { return append(make([]byte, 0, 128), prefix...) }

// Packet is an MQTT control packet. The types of this package are its only
// implementations: *Connect, *Connack, *Publish, *Puback, *Pubrec, *Pubrel,
// *Pubcomp, *Subscribe, *Suback, *Unsubscribe, *Unsuback, *Pingreq,
// *Pingresp, *Disconnect and *Raw.
type Packet interface {
	// Type returns the control packet type.
	Type() Type
	// Len returns the length of the whole encoded packet, fixed header
	// included: len(p.Append(nil)) == p.Len() for every legal packet.
	Len() int
	// Append appends the encoded packet to b after checking that it obeys
	// the spec, and returns the extended buffer. It allocates only when
	// cap(b) is too small. An illegal packet leaves b unchanged and returns
	// a *ProtocolError.
	Append(b []byte) ([]byte, error)
	// String describes the packet for logs; secrets are redacted.
	String() string

	// appendTo encodes the packet; strict checks it first.
	appendTo(b []byte, strict bool) ([]byte, error)
	// decode fills the packet from its fixed-header flags and body. in,
	// when not nil, interns strings so that steady-state decoding does not
	// allocate.
	decode(flags byte, body []byte, in *interner) error
}

// MaxRemainingLength is the largest remaining length a fixed header can
// express (§2.2.3).
const MaxRemainingLength = 268435455

// MaxPacketSize is the largest possible MQTT packet: a 5-byte fixed header
// and the largest remaining length.
const MaxPacketSize = 1 + 4 + MaxRemainingLength

// AppendIllegal appends p to b without checking it against the spec, for
// conformance tests and fuzzers that must send what a broker should refuse.
// A client never uses it. It fails only when p cannot be encoded at all
// (a string over 65535 bytes, a packet over the size limit).
func AppendIllegal(b []byte, p Packet) ([]byte, error) {
	return p.appendTo(b, false)
}

// New returns a new, zero packet of type t, or nil when t is not one of the
// fourteen types.
func New(t Type) Packet {
	switch t {
	case TypeConnect:
		return new(Connect)
	case TypeConnack:
		return new(Connack)
	case TypePublish:
		return new(Publish)
	case TypePuback:
		return new(Puback)
	case TypePubrec:
		return new(Pubrec)
	case TypePubrel:
		return new(Pubrel)
	case TypePubcomp:
		return new(Pubcomp)
	case TypeSubscribe:
		return new(Subscribe)
	case TypeSuback:
		return new(Suback)
	case TypeUnsubscribe:
		return new(Unsubscribe)
	case TypeUnsuback:
		return new(Unsuback)
	case TypePingreq:
		return new(Pingreq)
	case TypePingresp:
		return new(Pingresp)
	case TypeDisconnect:
		return new(Disconnect)
	}
	return nil
}

// Decode decodes the first packet in b, returning it and the number of
// bytes it took. Strings and slices of the packet point into b: keep b
// unchanged while the packet is in use, or Clone it.
//
// An empty b is io.EOF, a b that holds only the start of a packet is
// io.ErrUnexpectedEOF, and a packet that breaks the spec is a
// *ProtocolError.
func Decode(b []byte) (Packet, int, error) {
	if len(b) == 0 {
		return nil, 0, io.EOF
	}
	t, flags, rl, hl, err := parseFixedHeader(b)
	if err != nil {
		return nil, 0, err
	}
	n := hl + rl
	if len(b) < n {
		return nil, 0, io.ErrUnexpectedEOF
	}
	p := New(t)
	if err := p.decode(flags, b[hl:n], nil); err != nil {
		return nil, 0, err
	}
	return p, n, nil
}

// parseFixedHeader reads the first byte and the remaining length. It returns
// io.ErrUnexpectedEOF when b ends inside the header.
func parseFixedHeader(b []byte) (t Type, flags byte, rl, hl int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, 0, io.ErrUnexpectedEOF
	}
	t, flags = Type(b[0]>>4), b[0]&0x0f
	if !t.Valid() {
		return t, flags, 0, 0, errTypeReserved
	}
	rl, n, err := ParseRemainingLength(b[1:])
	if err != nil {
		return t, flags, 0, 0, err
	}
	return t, flags, rl, 1 + n, nil
}

// Clone returns a deep copy of p that shares no memory with p, for keeping a
// packet past the next read of the Reader that returned it.
func Clone(p Packet) Packet {
	switch p := p.(type) {
	case *Connect:
		return p.Clone()
	case *Publish:
		return p.Clone()
	case *Subscribe:
		return p.Clone()
	case *Suback:
		return p.Clone()
	case *Unsubscribe:
		return p.Clone()
	case *Raw:
		return p.Clone()
	case *Connack:
		c := *p
		return &c
	case *Puback:
		c := *p
		return &c
	case *Pubrec:
		c := *p
		return &c
	case *Pubrel:
		c := *p
		return &c
	case *Pubcomp:
		c := *p
		return &c
	case *Unsuback:
		c := *p
		return &c
	case *Pingreq:
		return &Pingreq{}
	case *Pingresp:
		return &Pingresp{}
	case *Disconnect:
		return &Disconnect{}
	}
	return nil
}
