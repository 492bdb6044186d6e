package mqttfuzz

import (
	"fmt"
	"math/rand/v2"

	"github.com/linnet-mqtt/linnet/packet"
)

// Chunk is one write of a case: normally one packet, legal or mutated.
type Chunk struct {
	// Desc says what the chunk is: the packet as decoded, or the mutation
	// that made it undecodable.
	Desc  string
	Bytes []byte
}

// Case is one input: the chunks written, in order, on one connection.
type Case struct {
	Seed   uint64 // the run's seed
	Index  int    // the case's number in the run; Seed and Index regenerate it
	Chunks []Chunk
}

// rngFor returns the generator of case index of a run: each case can be
// regenerated from the seed and its index alone.
func rngFor(seed uint64, index int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(index)))
}

// Generate returns case index of the run with seed: a valid sequence of
// packets (CONNECT first, then SUBSCRIBE, PUBLISH at each QoS, acks,
// UNSUBSCRIBE, PINGREQ, maybe DISCONNECT) with topics under prefix, then
// mutated at the level of fields and of bytes.
func Generate(seed uint64, index int, prefix string) Case {
	rng := rngFor(seed, index)
	g := &gen{rng: rng, prefix: prefix}
	pkts := g.sequence()
	c := Case{Seed: seed, Index: index}
	for _, p := range pkts {
		c.Chunks = append(c.Chunks, g.encode(p))
	}
	g.mutateSequence(&c)
	return c
}

type gen struct {
	rng    *rand.Rand
	prefix string
	id     uint16
}

func (g *gen) nextID() uint16 {
	g.id++
	if g.id == 0 {
		g.id = 1
	}
	return g.id
}

func (g *gen) topic() string {
	levels := []string{"a", "b", "sensor", "x/y", "$sys", "", "a/b/c/d/e/f/g/h"}
	return g.prefix + "/" + levels[g.rng.IntN(len(levels))]
}

func (g *gen) filter() string {
	filters := []string{"a", "#", "+", "+/b", "a/#", "x/+/z", "b"}
	return g.prefix + "/" + filters[g.rng.IntN(len(filters))]
}

func (g *gen) payload() []byte {
	n := []int{0, 1, 5, 64, 300}[g.rng.IntN(5)]
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.IntN(256))
	}
	return b
}

// sequence returns a valid packet sequence.
func (g *gen) sequence() []packet.Packet {
	c := &packet.Connect{ClientID: fmt.Sprintf("%sf%d", g.prefix, g.rng.IntN(1000)), CleanSession: g.rng.IntN(4) != 0,
		KeepAlive: uint16(g.rng.IntN(120))}
	if g.rng.IntN(3) == 0 {
		c.WillFlag, c.WillTopic, c.WillMessage, c.WillQoS, c.WillRetain = true, g.topic(), g.payload(), packet.QoS(g.rng.IntN(3)), g.rng.IntN(2) == 0
	}
	if g.rng.IntN(4) == 0 {
		c.UsernameFlag, c.Username = true, "fuzz"
		if g.rng.IntN(2) == 0 {
			c.PasswordFlag, c.Password = true, []byte("secret")
		}
	}
	out := []packet.Packet{c}
	n := 1 + g.rng.IntN(8)
	for range n {
		switch g.rng.IntN(9) {
		case 0, 1:
			s := &packet.Subscribe{PacketID: g.nextID()}
			for range 1 + g.rng.IntN(3) {
				s.Subscriptions = append(s.Subscriptions, packet.Subscription{Filter: g.filter(), QoS: packet.QoS(g.rng.IntN(3))})
			}
			out = append(out, s)
		case 2, 3, 4:
			q := packet.QoS(g.rng.IntN(3))
			p := &packet.Publish{QoS: q, Retain: g.rng.IntN(4) == 0, Topic: g.topic(), Payload: g.payload()}
			if q > 0 {
				p.PacketID = g.nextID()
			}
			out = append(out, p)
			if q == 2 && g.rng.IntN(2) == 0 {
				out = append(out, &packet.Pubrel{PacketID: p.PacketID})
			}
		case 5:
			id := uint16(1 + g.rng.IntN(int(g.id)+1))
			acks := []packet.Packet{&packet.Puback{PacketID: id}, &packet.Pubrec{PacketID: id}, &packet.Pubrel{PacketID: id}, &packet.Pubcomp{PacketID: id}}
			out = append(out, acks[g.rng.IntN(len(acks))])
		case 6:
			out = append(out, &packet.Unsubscribe{PacketID: g.nextID(), Filters: []string{g.filter()}})
		case 7:
			out = append(out, &packet.Pingreq{})
		case 8:
			if g.rng.IntN(3) == 0 {
				out = append(out, &packet.Disconnect{})
			}
		}
	}
	return out
}

// encode mutates the fields of p with some probability (to values a broker
// must refuse) and encodes it, legal or not.
func (g *gen) encode(p packet.Packet) Chunk {
	desc := ""
	if g.rng.IntN(4) == 0 {
		desc = g.mutateFields(p)
	}
	b, err := packet.AppendIllegal(nil, p)
	if err != nil { // cannot be encoded at all: send it legal
		desc = ""
		b, _ = packet.AppendIllegal(nil, p)
	}
	ch := Chunk{Bytes: b}
	if g.rng.IntN(5) == 0 {
		d := g.mutateBytes(&ch.Bytes)
		if desc != "" {
			d = desc + ", then " + d
		}
		desc = d
	}
	ch.Desc = describe(ch.Bytes, desc)
	return ch
}

// describe decodes b for the chunk's description, with the mutation.
func describe(b []byte, mutation string) string {
	s := ""
	if p, n, err := packet.Decode(b); err == nil && n == len(b) {
		s = p.String()
	} else if err != nil {
		s = "undecodable (" + err.Error() + ")"
	} else {
		s = fmt.Sprintf("%v and %d more bytes", p, len(b)-n)
	}
	if mutation != "" {
		s = "mutated: " + mutation + ": " + s
	}
	return s
}

// mutateFields changes one field of p to a value the spec forbids or that
// stresses the broker, and says what it did.
func (g *gen) mutateFields(p packet.Packet) string {
	r := g.rng
	switch p := p.(type) {
	case *packet.Connect:
		switch r.IntN(8) {
		case 0:
			p.ProtocolLevel = byte(r.IntN(256))
			return fmt.Sprintf("protocol level %d", p.ProtocolLevel)
		case 1:
			p.ProtocolName = []string{"MQTX", "", "MQIsdp", "mqtt"}[r.IntN(4)]
			return fmt.Sprintf("protocol name %q", p.ProtocolName)
		case 2:
			p.Reserved = true
			return "reserved connect flag set"
		case 3:
			p.ClientID, p.CleanSession = "", false
			return "empty client id, CleanSession=0"
		case 4:
			p.WillQoS = 3
			p.WillFlag = true
			return "will QoS 3"
		case 5:
			p.PasswordFlag, p.Password, p.UsernameFlag = true, []byte("pw"), false
			return "password without user name"
		case 6:
			p.ClientID = string([]byte{0xff, 0xfe, 'x'})
			return "client id with invalid UTF-8"
		default:
			p.WillFlag, p.WillTopic = true, g.prefix+"/#"
			return "will topic with a wildcard"
		}
	case *packet.Publish:
		switch r.IntN(7) {
		case 0:
			p.QoS = 3
			return "QoS 3"
		case 1:
			p.Topic = g.prefix + "/+/x"
			return "wildcard in topic name"
		case 2:
			p.Topic = g.prefix + "/a\x00b"
			return "U+0000 in topic"
		case 3:
			p.Topic = ""
			return "empty topic"
		case 4:
			p.Dup, p.QoS, p.PacketID = true, 0, 0
			return "DUP on QoS 0"
		case 5:
			if p.QoS > 0 {
				p.PacketID = 0
				return "packet id 0"
			}
			p.Topic = g.prefix + "/\xed\xa0\x80"
			return "surrogate in topic"
		default:
			p.Payload = make([]byte, 70000)
			return "64 KiB payload"
		}
	case *packet.Subscribe:
		switch r.IntN(5) {
		case 0:
			p.Subscriptions = nil
			return "no filters"
		case 1:
			p.Subscriptions[0].QoS = packet.QoS(3 + r.IntN(253))
			return fmt.Sprintf("requested QoS byte %#x", byte(p.Subscriptions[0].QoS))
		case 2:
			p.Subscriptions[0].Filter = g.prefix + "/a#"
			return "# not alone in its level"
		case 3:
			p.Subscriptions[0].Filter = ""
			return "empty filter"
		default:
			p.PacketID = 0
			return "packet id 0"
		}
	case *packet.Unsubscribe:
		if r.IntN(2) == 0 {
			p.Filters = nil
			return "no filters"
		}
		p.PacketID = 0
		return "packet id 0"
	case *packet.Puback:
		p.PacketID = uint16(r.IntN(65536))
		return "unknown packet id"
	case *packet.Pubrec:
		p.PacketID = 0
		return "packet id 0"
	case *packet.Pubrel:
		p.PacketID = uint16(r.IntN(65536))
		return "unknown packet id"
	case *packet.Pubcomp:
		p.PacketID = uint16(r.IntN(65536))
		return "unknown packet id"
	}
	return ""
}

// mutateBytes changes the encoded packet and says how.
func (g *gen) mutateBytes(b *[]byte) string {
	r := g.rng
	buf := *b
	switch r.IntN(8) {
	case 0:
		i := r.IntN(len(buf))
		bit := byte(1) << r.IntN(8)
		buf[i] ^= bit
		return fmt.Sprintf("bit %#02x of byte %d flipped", bit, i)
	case 1:
		buf[0] = buf[0]&0xf0 | byte(r.IntN(16))
		return fmt.Sprintf("fixed-header flags %04b", buf[0]&0x0f)
	case 2:
		buf[0] = byte(r.IntN(16))<<4 | buf[0]&0x0f
		return fmt.Sprintf("packet type %d", buf[0]>>4)
	case 3:
		if len(buf) > 2 {
			n := 1 + r.IntN(len(buf)-1)
			*b = buf[:n]
			return fmt.Sprintf("truncated to %d bytes", n)
		}
		*b = buf[:1]
		return "truncated to 1 byte"
	case 4:
		*b = append([]byte{buf[0], 0xff, 0xff, 0xff, 0xff, 0x7f}, buf[2:]...)
		return "remaining length of 5 bytes"
	case 5:
		n, size, err := packet.ParseRemainingLength(buf[1:])
		if err == nil {
			n += 1 + r.IntN(8)
			enc := packet.AppendRemainingLength(nil, n)
			*b = append(append([]byte{buf[0]}, enc...), buf[1+size:]...)
			return fmt.Sprintf("remaining length says %d, more than there is", n)
		}
		return "unchanged"
	case 6:
		extra := make([]byte, 1+r.IntN(16))
		for i := range extra {
			extra[i] = byte(r.IntN(256))
		}
		*b = append(buf, extra...)
		return fmt.Sprintf("%d random bytes appended", len(extra))
	default:
		// A remaining length in a non-minimal encoding: 0x80 0x80 0x00
		// style padding is legal up to four bytes.
		n, size, err := packet.ParseRemainingLength(buf[1:])
		if err == nil && size < 4 {
			enc := packet.AppendRemainingLength(nil, n)
			for len(enc) < 4 {
				enc[len(enc)-1] |= 0x80
				enc = append(enc, 0)
			}
			*b = append(append([]byte{buf[0]}, enc...), buf[1+size:]...)
			return "remaining length padded to 4 bytes"
		}
		return "unchanged"
	}
}

// mutateSequence changes the order or number of chunks.
func (g *gen) mutateSequence(c *Case) {
	r := g.rng
	if r.IntN(4) != 0 || len(c.Chunks) < 2 {
		return
	}
	switch r.IntN(4) {
	case 0: // no CONNECT first
		c.Chunks = c.Chunks[1:]
	case 1: // CONNECT twice
		c.Chunks = append(c.Chunks[:2:2], c.Chunks[1:]...)
		c.Chunks[1] = c.Chunks[0]
	case 2: // swap two
		i, j := r.IntN(len(c.Chunks)), r.IntN(len(c.Chunks))
		c.Chunks[i], c.Chunks[j] = c.Chunks[j], c.Chunks[i]
	default: // repeat one many times
		i := r.IntN(len(c.Chunks))
		for range 20 {
			c.Chunks = append(c.Chunks, c.Chunks[i])
		}
	}
}
