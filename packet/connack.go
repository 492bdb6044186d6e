package packet

import "strconv"

// Connack is the server's answer to CONNECT (§3.2).
type Connack struct {
	SessionPresent bool       // the server resumed a stored session
	ReturnCode     ReturnCode // Accepted, or why the connection is refused
}

var (
	errConnackFlags    = perr(TypeConnack, "MQTT-2.2.2-1", ErrReservedFlags, "reserved fixed-header flags")
	errConnackLen      = perr(TypeConnack, "§3.2.1", ErrMalformed, "remaining length other than 2")
	errConnackAckFlags = perr(TypeConnack, "§3.2.2.1", ErrReservedFlags, "reserved acknowledge flag bits set")
	errConnackCode     = perr(TypeConnack, "§3.2.2.3", ErrInvalidReturnCode, "reserved return code")
	errConnackPresent  = perr(TypeConnack, "MQTT-3.2.2-4", ErrMalformed, "session present with a refusal")
)

// Type returns TypeConnack.
func (p *Connack) Type() Type { return TypeConnack }

// Len returns 4.
func (p *Connack) Len() int { return 4 }

// Append appends the encoded packet to b; see Packet.
func (p *Connack) Append(b []byte) ([]byte, error) { return p.appendTo(b, true) }

func (p *Connack) appendTo(b []byte, strict bool) ([]byte, error) {
	if strict {
		if !p.ReturnCode.Valid() {
			return b, errConnackCode
		}
		if p.SessionPresent && p.ReturnCode != Accepted {
			return b, errConnackPresent // [MQTT-3.2.2-4]
		}
	}
	var ack byte
	if p.SessionPresent {
		ack = 1
	}
	return append(b, byte(TypeConnack)<<4, 2, ack, byte(p.ReturnCode)), nil
}

func (p *Connack) decode(flags byte, body []byte, _ *interner) error {
	switch {
	case flags != 0:
		return errConnackFlags // [MQTT-2.2.2-1] [MQTT-2.2.2-2]
	case len(body) != 2:
		return errConnackLen
	case body[0]&0xfe != 0:
		return errConnackAckFlags // bits 7-1 are reserved and 0
	}
	p.SessionPresent, p.ReturnCode = body[0] == 1, ReturnCode(body[1])
	if !p.ReturnCode.Valid() {
		return errConnackCode
	}
	if p.SessionPresent && p.ReturnCode != Accepted {
		return errConnackPresent // [MQTT-3.2.2-4]
	}
	return nil
}

func (p *Connack) String() string {
	b := lineBuf("CONNACK{code=")
	b = strconv.AppendUint(b, uint64(p.ReturnCode), 10)
	b = append(b, " ("...)
	b = append(b, p.ReturnCode.String()...)
	b = append(b, ") session_present="...)
	b = strconv.AppendBool(b, p.SessionPresent)
	return string(append(b, '}'))
}
