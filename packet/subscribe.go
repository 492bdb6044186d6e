package packet

import (
	"slices"
	"strconv"
)

// Subscription is one topic filter of a SUBSCRIBE with the maximum QoS the
// client asks for.
type Subscription struct {
	Filter string
	QoS    QoS // 0, 1 or 2; the upper six bits of the byte are reserved [MQTT-3.8.3-4]
}

// Subscribe asks the server for subscriptions (§3.8). Its fixed-header
// flags are 0010 [MQTT-3.8.1-1].
type Subscribe struct {
	PacketID      uint16 // non-zero [MQTT-2.3.1-1]
	Subscriptions []Subscription
}

var (
	errSubscribeFlags  = perr(TypeSubscribe, "MQTT-3.8.1-1", ErrReservedFlags, "fixed-header flags other than 0010")
	errSubscribeZeroID = perr(TypeSubscribe, "MQTT-2.3.1-1", ErrZeroPacketID, "packet identifier 0")
	errSubscribeEmpty  = perr(TypeSubscribe, "MQTT-3.8.3-3", ErrEmptyPayload, "no topic filter")
	errSubscribeQoS    = perr(TypeSubscribe, "MQTT-3.8.3-4", ErrInvalidQoS, "requested QoS over 2 or reserved bits set")
	errSubscribeShort  = perr(TypeSubscribe, "§3.8.3", ErrMalformed, "payload ends inside a topic filter")
)

// Type returns TypeSubscribe.
func (p *Subscribe) Type() Type { return TypeSubscribe }

func (p *Subscribe) remainingLength() int {
	n := 2
	for _, s := range p.Subscriptions {
		n += 3 + len(s.Filter)
	}
	return n
}

// Len returns the encoded length of the packet.
func (p *Subscribe) Len() int { return packetLen(p.remainingLength()) }

// Append appends the encoded packet to b; see Packet.
func (p *Subscribe) Append(b []byte) ([]byte, error) { return p.appendTo(b, true) }

func (p *Subscribe) appendTo(b []byte, strict bool) ([]byte, error) {
	if strict {
		switch {
		case p.PacketID == 0:
			return b, errSubscribeZeroID // [MQTT-2.3.1-1]
		case len(p.Subscriptions) == 0:
			return b, errSubscribeEmpty // [MQTT-3.8.3-3]
		}
	}
	// One pass checks the filters (strict) and their lengths and adds up
	// the remaining length.
	rl := 2
	for k := range p.Subscriptions {
		s := &p.Subscriptions[k]
		if strict {
			if e := validTopicFilter(s.Filter); e != nil {
				return b, typed(e, TypeSubscribe) // [MQTT-3.8.3-1] and §4.7
			}
			if !s.QoS.Valid() {
				return b, errSubscribeQoS // [MQTT-3.8.3-4]
			}
		}
		if len(s.Filter) > 65535 {
			return b, typed(errStringTooLong, TypeSubscribe)
		}
		rl += 3 + len(s.Filter)
	}
	if rl > MaxRemainingLength {
		return b, typed(errRemainingLengthTooBig, TypeSubscribe)
	}
	n := packetLen(rl)
	b = slices.Grow(b, n)
	off := len(b)
	b = b[:off+n]
	w := b[off:]
	w[0] = byte(TypeSubscribe)<<4 | 0x02
	i := len(AppendRemainingLength(w[1:1], rl)) + 1
	w[i], w[i+1] = byte(p.PacketID>>8), byte(p.PacketID)
	i += 2
	for k := range p.Subscriptions {
		s := &p.Subscriptions[k]
		w[i], w[i+1] = byte(len(s.Filter)>>8), byte(len(s.Filter))
		i += 2 + copy(w[i+2:], s.Filter)
		w[i] = byte(s.QoS)
		i++
	}
	return b, nil
}

func (p *Subscribe) decode(flags byte, body []byte, in *interner) error {
	if flags != 0x02 {
		return errSubscribeFlags // [MQTT-3.8.1-1]
	}
	r := reader{b: body, bad: errSubscribeShort}
	var err error
	if p.PacketID, err = r.packetID(errSubscribeZeroID); err != nil { // [MQTT-2.3.1-1]
		return err
	}
	p.Subscriptions = p.Subscriptions[:0]
	for r.remaining() > 0 {
		f, err := r.filter(TypeSubscribe, in) // [MQTT-3.8.3-1] and §4.7
		if err != nil {
			return err
		}
		q, err := r.byte()
		if err != nil {
			return err
		}
		if q > 2 {
			return errSubscribeQoS // [MQTT-3.8.3-4]
		}
		p.Subscriptions = append(p.Subscriptions, Subscription{Filter: f, QoS: QoS(q)})
	}
	if len(p.Subscriptions) == 0 {
		return errSubscribeEmpty // [MQTT-3.8.3-3]
	}
	return nil
}

// Clone returns a copy of p that shares no memory with it.
func (p *Subscribe) Clone() *Subscribe {
	return &Subscribe{PacketID: p.PacketID, Subscriptions: slices.Clone(p.Subscriptions)}
}

func (p *Subscribe) String() string {
	b := lineBuf("SUBSCRIBE{id=")
	b = strconv.AppendUint(b, uint64(p.PacketID), 10)
	for _, s := range p.Subscriptions {
		b = strconv.AppendQuote(append(b, ' '), s.Filter)
		b = strconv.AppendUint(append(b, ':'), uint64(s.QoS), 10)
	}
	return string(append(b, '}'))
}

// Suback answers a SUBSCRIBE with one return code per filter, in order
// (§3.9).
type Suback struct {
	PacketID    uint16
	ReturnCodes []SubackCode
}

var (
	errSubackFlags  = perr(TypeSuback, "MQTT-2.2.2-1", ErrReservedFlags, "reserved fixed-header flags")
	errSubackZeroID = perr(TypeSuback, "MQTT-2.3.1-7", ErrZeroPacketID, "packet identifier 0")
	errSubackEmpty  = perr(TypeSuback, "§3.9.3", ErrEmptyPayload, "no return code")
	errSubackCode   = perr(TypeSuback, "MQTT-3.9.3-2", ErrInvalidReturnCode, "return code other than 0x00, 0x01, 0x02, 0x80")
	errSubackShort  = perr(TypeSuback, "§3.9.2", ErrMalformed, "remaining length under 2")
)

// Type returns TypeSuback.
func (p *Suback) Type() Type { return TypeSuback }

// Len returns the encoded length of the packet.
func (p *Suback) Len() int { return packetLen(2 + len(p.ReturnCodes)) }

// Append appends the encoded packet to b; see Packet.
func (p *Suback) Append(b []byte) ([]byte, error) { return p.appendTo(b, true) }

func (p *Suback) appendTo(b []byte, strict bool) ([]byte, error) {
	if strict {
		switch {
		case p.PacketID == 0:
			return b, errSubackZeroID
		case len(p.ReturnCodes) == 0:
			return b, errSubackEmpty
		}
		for _, c := range p.ReturnCodes {
			if !c.Valid() {
				return b, errSubackCode // [MQTT-3.9.3-2]
			}
		}
	}
	b0 := b
	b, err := appendHeader(b, TypeSuback, 0, 2+len(p.ReturnCodes))
	if err != nil {
		return b0, err
	}
	b = appendUint16(b, p.PacketID)
	for _, c := range p.ReturnCodes {
		b = append(b, byte(c))
	}
	return b, nil
}

func (p *Suback) decode(flags byte, body []byte, _ *interner) error {
	switch {
	case flags != 0:
		return errSubackFlags // [MQTT-2.2.2-1] [MQTT-2.2.2-2]
	case len(body) < 2:
		return errSubackShort
	}
	p.PacketID = uint16(body[0])<<8 | uint16(body[1])
	if p.PacketID == 0 {
		return errSubackZeroID
	}
	if len(body) == 2 {
		return errSubackEmpty
	}
	p.ReturnCodes = p.ReturnCodes[:0]
	for _, c := range body[2:] {
		if !SubackCode(c).Valid() {
			return errSubackCode // [MQTT-3.9.3-2]
		}
		p.ReturnCodes = append(p.ReturnCodes, SubackCode(c))
	}
	return nil
}

// Clone returns a copy of p that shares no memory with it.
func (p *Suback) Clone() *Suback {
	return &Suback{PacketID: p.PacketID, ReturnCodes: slices.Clone(p.ReturnCodes)}
}

func (p *Suback) String() string {
	// The codes as fmt's %v wrote them: each by its String method, "[a b]".
	b := lineBuf("SUBACK{id=")
	b = strconv.AppendUint(b, uint64(p.PacketID), 10)
	b = append(b, " codes=["...)
	for i, c := range p.ReturnCodes {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, c.String()...)
	}
	return string(append(b, "]}"...))
}
