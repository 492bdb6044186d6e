package packet

import "strconv"

// The packets that carry only a packet identifier share their encoding:
// PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK (a fixed header, remaining
// length 2, the identifier). idRules holds what differs between them.
type idRules struct {
	t        Type
	flags    byte           // the fixed-header flags the spec sets
	badFlags *ProtocolError // the rule for other flags
	badLen   *ProtocolError // remaining length other than 2
	zeroID   *ProtocolError // an identifier of 0
}

func newIDRules(t Type, flags byte, flagRule, idRule string) *idRules {
	return &idRules{
		t:        t,
		flags:    flags,
		badFlags: perr(t, flagRule, ErrReservedFlags, "reserved fixed-header flags"),
		badLen:   perr(t, "§"+sectionOf(t)+".1", ErrMalformed, "remaining length other than 2"),
		zeroID:   perr(t, idRule, ErrZeroPacketID, "packet identifier 0"),
	}
}

func sectionOf(t Type) string { return "3." + strconv.Itoa(int(t)) }

var (
	pubackRules   = newIDRules(TypePuback, 0, "MQTT-2.2.2-1", "MQTT-2.3.1-6")
	pubrecRules   = newIDRules(TypePubrec, 0, "MQTT-2.2.2-1", "MQTT-2.3.1-6")
	pubrelRules   = newIDRules(TypePubrel, 0x02, "MQTT-3.6.1-1", "MQTT-2.3.1-6")
	pubcompRules  = newIDRules(TypePubcomp, 0, "MQTT-2.2.2-1", "MQTT-2.3.1-6")
	unsubackRules = newIDRules(TypeUnsuback, 0, "MQTT-2.2.2-1", "MQTT-2.3.1-7")
)

// idString describes a packet that carries only an identifier: "PUBACK{id=7}".
func idString(t Type, id uint16) string {
	b := strconv.AppendUint(append(lineBuf(t.String()), "{id="...), uint64(id), 10)
	return string(append(b, '}'))
}

func (r *idRules) append(b []byte, id uint16, strict bool) ([]byte, error) {
	if strict && id == 0 {
		return b, r.zeroID
	}
	return appendUint16(append(b, byte(r.t)<<4|r.flags, 2), id), nil
}

func (r *idRules) decode(flags byte, body []byte) (uint16, error) {
	if flags != r.flags {
		return 0, r.badFlags // [MQTT-2.2.2-1] [MQTT-2.2.2-2]
	}
	if len(body) != 2 {
		return 0, r.badLen
	}
	id := uint16(body[0])<<8 | uint16(body[1])
	if id == 0 {
		return 0, r.zeroID
	}
	return id, nil
}

// Puback acknowledges a QoS 1 PUBLISH (§3.4).
type Puback struct{ PacketID uint16 }

// Type returns TypePuback.
func (p *Puback) Type() Type { return TypePuback }

// Len returns 4.
func (p *Puback) Len() int { return 4 }

// Append appends the encoded packet to b; see Packet.
func (p *Puback) Append(b []byte) ([]byte, error) { return pubackRules.append(b, p.PacketID, true) }
func (p *Puback) appendTo(b []byte, strict bool) ([]byte, error) {
	return pubackRules.append(b, p.PacketID, strict)
}
func (p *Puback) decode(flags byte, body []byte, _ *interner) (err error) {
	p.PacketID, err = pubackRules.decode(flags, body)
	return err
}
func (p *Puback) String() string { return idString(TypePuback, p.PacketID) }

// Pubrec answers a QoS 2 PUBLISH: received (§3.5).
type Pubrec struct{ PacketID uint16 }

// Type returns TypePubrec.
func (p *Pubrec) Type() Type { return TypePubrec }

// Len returns 4.
func (p *Pubrec) Len() int { return 4 }

// Append appends the encoded packet to b; see Packet.
func (p *Pubrec) Append(b []byte) ([]byte, error) { return pubrecRules.append(b, p.PacketID, true) }
func (p *Pubrec) appendTo(b []byte, strict bool) ([]byte, error) {
	return pubrecRules.append(b, p.PacketID, strict)
}
func (p *Pubrec) decode(flags byte, body []byte, _ *interner) (err error) {
	p.PacketID, err = pubrecRules.decode(flags, body)
	return err
}
func (p *Pubrec) String() string { return idString(TypePubrec, p.PacketID) }

// Pubrel answers a PUBREC: release (§3.6). Its fixed-header flags are 0010
// [MQTT-3.6.1-1].
type Pubrel struct{ PacketID uint16 }

// Type returns TypePubrel.
func (p *Pubrel) Type() Type { return TypePubrel }

// Len returns 4.
func (p *Pubrel) Len() int { return 4 }

// Append appends the encoded packet to b; see Packet.
func (p *Pubrel) Append(b []byte) ([]byte, error) { return pubrelRules.append(b, p.PacketID, true) }
func (p *Pubrel) appendTo(b []byte, strict bool) ([]byte, error) {
	return pubrelRules.append(b, p.PacketID, strict)
}
func (p *Pubrel) decode(flags byte, body []byte, _ *interner) (err error) {
	p.PacketID, err = pubrelRules.decode(flags, body)
	return err
}
func (p *Pubrel) String() string { return idString(TypePubrel, p.PacketID) }

// Pubcomp answers a PUBREL: complete (§3.7).
type Pubcomp struct{ PacketID uint16 }

// Type returns TypePubcomp.
func (p *Pubcomp) Type() Type { return TypePubcomp }

// Len returns 4.
func (p *Pubcomp) Len() int { return 4 }

// Append appends the encoded packet to b; see Packet.
func (p *Pubcomp) Append(b []byte) ([]byte, error) { return pubcompRules.append(b, p.PacketID, true) }
func (p *Pubcomp) appendTo(b []byte, strict bool) ([]byte, error) {
	return pubcompRules.append(b, p.PacketID, strict)
}
func (p *Pubcomp) decode(flags byte, body []byte, _ *interner) (err error) {
	p.PacketID, err = pubcompRules.decode(flags, body)
	return err
}
func (p *Pubcomp) String() string { return idString(TypePubcomp, p.PacketID) }

// Unsuback acknowledges an UNSUBSCRIBE (§3.11).
type Unsuback struct{ PacketID uint16 }

// Type returns TypeUnsuback.
func (p *Unsuback) Type() Type { return TypeUnsuback }

// Len returns 4.
func (p *Unsuback) Len() int { return 4 }

// Append appends the encoded packet to b; see Packet.
func (p *Unsuback) Append(b []byte) ([]byte, error) { return unsubackRules.append(b, p.PacketID, true) }
func (p *Unsuback) appendTo(b []byte, strict bool) ([]byte, error) {
	return unsubackRules.append(b, p.PacketID, strict)
}
func (p *Unsuback) decode(flags byte, body []byte, _ *interner) (err error) {
	p.PacketID, err = unsubackRules.decode(flags, body)
	return err
}
func (p *Unsuback) String() string { return idString(TypeUnsuback, p.PacketID) }
