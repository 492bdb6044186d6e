package packet

// PINGREQ, PINGRESP and DISCONNECT are a fixed header alone: flags 0000 and
// a remaining length of 0. emptyRules holds their errors.
type emptyRules struct {
	t        Type
	badFlags *ProtocolError
	badLen   *ProtocolError
}

func newEmptyRules(t Type) *emptyRules {
	return &emptyRules{
		t:        t,
		badFlags: perr(t, "MQTT-2.2.2-1", ErrReservedFlags, "reserved fixed-header flags"),
		badLen:   perr(t, "§"+sectionOf(t), ErrMalformed, "remaining length other than 0"),
	}
}

var (
	pingreqRules    = newEmptyRules(TypePingreq)
	pingrespRules   = newEmptyRules(TypePingresp)
	disconnectRules = newEmptyRules(TypeDisconnect)
)

func (r *emptyRules) decode(flags byte, body []byte) error {
	if flags != 0 {
		return r.badFlags // [MQTT-2.2.2-1] [MQTT-2.2.2-2]
	}
	if len(body) != 0 {
		return r.badLen
	}
	return nil
}

func (r *emptyRules) append(b []byte) []byte { return append(b, byte(r.t)<<4, 0) }

// Pingreq asks the server to show it is alive (§3.12).
type Pingreq struct{}

// Type returns TypePingreq.
func (*Pingreq) Type() Type { return TypePingreq }

// Len returns 2.
func (*Pingreq) Len() int { return 2 }

// Append appends the encoded packet to b; see Packet.
func (*Pingreq) Append(b []byte) ([]byte, error)           { return pingreqRules.append(b), nil }
func (*Pingreq) appendTo(b []byte, _ bool) ([]byte, error) { return pingreqRules.append(b), nil }
func (*Pingreq) decode(flags byte, body []byte, _ *interner) error {
	return pingreqRules.decode(flags, body)
}
func (*Pingreq) String() string { return "PINGREQ" }

// Pingresp answers a PINGREQ (§3.13).
type Pingresp struct{}

// Type returns TypePingresp.
func (*Pingresp) Type() Type { return TypePingresp }

// Len returns 2.
func (*Pingresp) Len() int { return 2 }

// Append appends the encoded packet to b; see Packet.
func (*Pingresp) Append(b []byte) ([]byte, error)           { return pingrespRules.append(b), nil }
func (*Pingresp) appendTo(b []byte, _ bool) ([]byte, error) { return pingrespRules.append(b), nil }
func (*Pingresp) decode(flags byte, body []byte, _ *interner) error {
	return pingrespRules.decode(flags, body)
}
func (*Pingresp) String() string { return "PINGRESP" }

// Disconnect is the client's last packet on a connection (§3.14).
type Disconnect struct{}

// Type returns TypeDisconnect.
func (*Disconnect) Type() Type { return TypeDisconnect }

// Len returns 2.
func (*Disconnect) Len() int { return 2 }

// Append appends the encoded packet to b; see Packet.
func (*Disconnect) Append(b []byte) ([]byte, error)           { return disconnectRules.append(b), nil }
func (*Disconnect) appendTo(b []byte, _ bool) ([]byte, error) { return disconnectRules.append(b), nil }
func (*Disconnect) decode(flags byte, body []byte, _ *interner) error {
	return disconnectRules.decode(flags, body)
}
func (*Disconnect) String() string { return "DISCONNECT" }
