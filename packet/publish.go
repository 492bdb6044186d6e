package packet

import (
	"slices"
	"strconv"
)

// Publish carries an application message (§3.3), in either direction.
//
// A Publish returned by a Reader borrows the Reader's buffer: Payload is
// valid until the next ReadPacket. Use Clone to keep it.
type Publish struct {
	Dup      bool   // a re-delivery [MQTT-3.3.1-1]; never on QoS 0 [MQTT-3.3.1-2]
	QoS      QoS    // 0, 1 or 2 [MQTT-3.3.1-4]
	Retain   bool   // the server keeps the message for future subscribers
	Topic    string // a topic name: no wildcards [MQTT-3.3.2-2]
	PacketID uint16 // non-zero for QoS 1 and 2 [MQTT-2.3.1-1]; not encoded for QoS 0 [MQTT-2.3.1-5]
	Payload  []byte
}

var (
	errPublishQoS3    = perr(TypePublish, "MQTT-3.3.1-4", ErrInvalidQoS, "QoS 3")
	errPublishDupQoS0 = perr(TypePublish, "MQTT-3.3.1-2", ErrReservedFlags, "DUP set on a QoS 0 message")
	errPublishZeroID  = perr(TypePublish, "MQTT-2.3.1-1", ErrZeroPacketID, "packet identifier 0 on a QoS 1 or 2 message")
	errPublishShort   = perr(TypePublish, "§3.3.2", ErrMalformed, "variable header longer than the packet")
	errPublishTopic   = perr(TypePublish, "MQTT-3.3.2-2", ErrInvalidTopic, "wildcard in the topic name")
	errPublishEmpty   = perr(TypePublish, "MQTT-4.7.3-1", ErrInvalidTopic, "empty topic name")
)

// Type returns TypePublish.
func (p *Publish) Type() Type { return TypePublish }

func (p *Publish) remainingLength() int {
	n := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS != QoS0 {
		n += 2
	}
	return n
}

// Len returns the encoded length of the packet.
func (p *Publish) Len() int { return packetLen(p.remainingLength()) }

// Append appends the encoded packet to b; see Packet.
func (p *Publish) Append(b []byte) ([]byte, error) { return p.appendTo(b, true) }

func (p *Publish) check() *ProtocolError {
	switch {
	case !p.QoS.Valid():
		return errPublishQoS3 // [MQTT-3.3.1-4]
	case p.Dup && p.QoS == QoS0:
		return errPublishDupQoS0 // [MQTT-3.3.1-2]
	case p.QoS != QoS0 && p.PacketID == 0:
		return errPublishZeroID // [MQTT-2.3.1-1]
	}
	if t := p.Topic; len(t) <= 65535 && cleanASCII(t, true) {
		return nil // the common case, without the calls below
	}
	return topicNameError(p.Topic)
}

// topicNameError checks a PUBLISH topic, naming the PUBLISH rules.
func topicNameError[T string | []byte](topic T) *ProtocolError {
	switch e := validTopicName(topic); e {
	case nil:
		return nil
	case errTopicWildcard:
		return errPublishTopic // [MQTT-3.3.2-2]
	case errTopicEmpty:
		return errPublishEmpty // [MQTT-4.7.3-1]
	default:
		return typed(e, TypePublish)
	}
}

func (p *Publish) appendTo(b []byte, strict bool) ([]byte, error) {
	b, err := p.appendHead(b, strict, len(p.Payload))
	if err != nil {
		return b, err
	}
	return append(b, p.Payload...), nil
}

// AppendHead appends the packet without its payload to b: the fixed header
// (whose remaining length counts the payload) and the variable header. The
// wire form is the result followed by p.Payload, so a writer with a
// vectored write (net.Buffers) or an io.Writer can send a large payload
// without copying it into the packet buffer. The checks are those of
// Append.
func (p *Publish) AppendHead(b []byte) ([]byte, error) {
	return p.appendHead(b, true, 0)
}

// appendHead appends everything before the payload, reserving capacity for
// reserve more bytes.
func (p *Publish) appendHead(b []byte, strict bool, reserve int) ([]byte, error) {
	if strict {
		if e := p.check(); e != nil {
			return b, e
		}
	}
	if len(p.Topic) > 65535 {
		return b, typed(errStringTooLong, TypePublish)
	}
	var flags byte
	if p.Dup {
		flags |= 0x08
	}
	flags |= byte(p.QoS&3) << 1
	if p.Retain {
		flags |= 0x01
	}
	rl := p.remainingLength()
	if rl > MaxRemainingLength {
		return b, typed(errRemainingLengthTooBig, TypePublish)
	}
	// One capacity check, then the fields by index.
	n := packetLen(rl) - len(p.Payload)
	b = slices.Grow(b, n+reserve)
	off := len(b)
	b = b[:off+n]
	w := b[off:]
	w[0] = byte(TypePublish)<<4 | flags
	i := len(AppendRemainingLength(w[1:1], rl)) + 1
	w[i], w[i+1] = byte(len(p.Topic)>>8), byte(len(p.Topic))
	i += 2 + copy(w[i+2:], p.Topic)
	if p.QoS != QoS0 {
		w[i], w[i+1] = byte(p.PacketID>>8), byte(p.PacketID)
	}
	return b, nil
}

func (p *Publish) decode(flags byte, body []byte, in *interner) error {
	p.Dup, p.QoS, p.Retain = flags&0x08 != 0, QoS(flags>>1&3), flags&0x01 != 0
	if p.QoS == 3 {
		return errPublishQoS3 // [MQTT-3.3.1-4]
	}
	if p.Dup && p.QoS == QoS0 {
		return errPublishDupQoS0 // [MQTT-3.3.1-2]
	}
	// [MQTT-3.3.2-1]: the topic comes first, then the packet identifier
	// for QoS 1 and 2 only [MQTT-2.3.1-5]. Fields are read by hand here,
	// the hot path of a client.
	if len(body) < 2 {
		return errPublishShort
	}
	tl := int(body[0])<<8 | int(body[1])
	off := 2 + tl
	if p.QoS != QoS0 {
		off += 2
	}
	if len(body) < off {
		return errPublishShort
	}
	topic, e := in.topicName(body[2 : 2+tl])
	if e != nil {
		return e
	}
	p.Topic = topic
	p.PacketID = 0
	if p.QoS != QoS0 {
		p.PacketID = uint16(body[off-2])<<8 | uint16(body[off-1])
		if p.PacketID == 0 {
			return errPublishZeroID // [MQTT-2.3.1-1]
		}
	}
	p.Payload = body[off:len(body):len(body)]
	return nil
}

// Clone returns a copy of p that shares no memory with it.
func (p *Publish) Clone() *Publish {
	c := *p
	c.Payload = slices.Clone(p.Payload)
	return &c
}

func (p *Publish) String() string {
	b := lineBuf("PUBLISH{topic=")
	b = strconv.AppendQuote(b, p.Topic)
	b = append(b, " qos="...)
	b = strconv.AppendUint(b, uint64(p.QoS), 10)
	b = append(b, " id="...)
	b = strconv.AppendUint(b, uint64(p.PacketID), 10)
	b = append(b, " dup="...)
	b = strconv.AppendBool(b, p.Dup)
	b = append(b, " retain="...)
	b = strconv.AppendBool(b, p.Retain)
	b = append(b, " payload="...)
	b = strconv.AppendInt(b, int64(len(p.Payload)), 10)
	return string(append(b, " bytes}"...))
}
