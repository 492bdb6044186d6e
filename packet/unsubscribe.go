package packet

import (
	"slices"
	"strconv"
)

// Unsubscribe removes subscriptions (§3.10). Its fixed-header flags are
// 0010 [MQTT-3.10.1-1].
type Unsubscribe struct {
	PacketID uint16 // non-zero [MQTT-2.3.1-1]
	Filters  []string
}

var (
	errUnsubscribeFlags  = perr(TypeUnsubscribe, "MQTT-3.10.1-1", ErrReservedFlags, "fixed-header flags other than 0010")
	errUnsubscribeZeroID = perr(TypeUnsubscribe, "MQTT-2.3.1-1", ErrZeroPacketID, "packet identifier 0")
	errUnsubscribeEmpty  = perr(TypeUnsubscribe, "MQTT-3.10.3-2", ErrEmptyPayload, "no topic filter")
	errUnsubscribeShort  = perr(TypeUnsubscribe, "§3.10.3", ErrMalformed, "payload ends inside a topic filter")
)

// Type returns TypeUnsubscribe.
func (p *Unsubscribe) Type() Type { return TypeUnsubscribe }

func (p *Unsubscribe) remainingLength() int {
	n := 2
	for _, f := range p.Filters {
		n += 2 + len(f)
	}
	return n
}

// Len returns the encoded length of the packet.
func (p *Unsubscribe) Len() int { return packetLen(p.remainingLength()) }

// Append appends the encoded packet to b; see Packet.
func (p *Unsubscribe) Append(b []byte) ([]byte, error) { return p.appendTo(b, true) }

func (p *Unsubscribe) appendTo(b []byte, strict bool) ([]byte, error) {
	if strict {
		switch {
		case p.PacketID == 0:
			return b, errUnsubscribeZeroID // [MQTT-2.3.1-1]
		case len(p.Filters) == 0:
			return b, errUnsubscribeEmpty // [MQTT-3.10.3-2]
		}
		for _, f := range p.Filters {
			if e := validTopicFilter(f); e != nil {
				return b, typed(e, TypeUnsubscribe) // [MQTT-3.10.3-1] and §4.7
			}
		}
	}
	for _, f := range p.Filters {
		if len(f) > 65535 {
			return b, typed(errStringTooLong, TypeUnsubscribe)
		}
	}
	b0 := b
	b, err := appendHeader(b, TypeUnsubscribe, 0x02, p.remainingLength())
	if err != nil {
		return b0, err
	}
	b = appendUint16(b, p.PacketID)
	for _, f := range p.Filters {
		b = appendString(b, f)
	}
	return b, nil
}

func (p *Unsubscribe) decode(flags byte, body []byte, in *interner) error {
	if flags != 0x02 {
		return errUnsubscribeFlags // [MQTT-3.10.1-1]
	}
	r := reader{b: body, bad: errUnsubscribeShort}
	var err error
	if p.PacketID, err = r.packetID(errUnsubscribeZeroID); err != nil { // [MQTT-2.3.1-1]
		return err
	}
	p.Filters = p.Filters[:0]
	for r.remaining() > 0 {
		f, err := r.filter(TypeUnsubscribe, in) // [MQTT-3.10.3-1] and §4.7
		if err != nil {
			return err
		}
		p.Filters = append(p.Filters, f)
	}
	if len(p.Filters) == 0 {
		return errUnsubscribeEmpty // [MQTT-3.10.3-2]
	}
	return nil
}

// Clone returns a copy of p that shares no memory with it.
func (p *Unsubscribe) Clone() *Unsubscribe {
	return &Unsubscribe{PacketID: p.PacketID, Filters: slices.Clone(p.Filters)}
}

func (p *Unsubscribe) String() string {
	// The filters as fmt's %q wrote a []string: ["a/+" "b/#"].
	b := lineBuf("UNSUBSCRIBE{id=")
	b = strconv.AppendUint(b, uint64(p.PacketID), 10)
	b = append(b, " filters=["...)
	for i, f := range p.Filters {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendQuote(b, f)
	}
	return string(append(b, "]}"...))
}
