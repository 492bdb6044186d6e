// Package packet encodes and decodes the control packets of MQTT 3.1.1
// (OASIS Standard, 29 October 2014), plus the CONNECT of MQTT 3.1
// (protocol name "MQIsdp", level 3) for servers that predate 3.1.1.
//
// It is strict both ways: every rule of the spec that shows in a packet's
// bytes is checked when decoding and when encoding, and a violation is a
// *ProtocolError that names the normative statement it breaks, such as
// [MQTT-3.3.1-4]. It imports only the standard library.
//
// # Usage
//
// Encoding appends to a caller's buffer and allocates nothing when the
// buffer has room (see Packet.Len):
//
//	pub := &packet.Publish{QoS: packet.QoS1, PacketID: 7, Topic: "a/b", Payload: data}
//	buf, err := pub.Append(buf[:0])
//
// A Reader reads packets from a stream, with a maximum packet size that is
// checked before any buffer grows; a Writer writes each packet, or each
// batch of queued packets, in one Write call:
//
//	r := packet.NewReader(conn)
//	r.SetMaxPacketSize(1 << 20)
//	for {
//		p, err := r.ReadPacket()
//		if err != nil { ... }
//		switch p := p.(type) {
//		case *packet.Publish: ...
//		}
//	}
//
// Decode decodes one packet from a byte slice. ValidateTopicName,
// ValidateTopicFilter and MatchTopic implement the topic rules of §4.7,
// including shared subscription filters ($share/<group>/<filter>) matched
// on their filter part.
//
// # Concurrency
//
// Packets are plain values. A Reader or a Writer belongs to one goroutine at
// a time; the package functions are safe for concurrent use.
//
// # Errors
//
// Every violation of the spec is a *ProtocolError: errors.Is(err,
// ErrProtocol) holds for all of them, errors.Is(err, ErrInvalidQoS) (or
// another kind sentinel) for a class of them, and
// errors.Is(err, &ProtocolError{Rule: "MQTT-3.3.1-4"}) for one rule. A
// stream that ends between packets is io.EOF and inside one
// io.ErrUnexpectedEOF. The errors of the decoder are preallocated, so a
// failing decode does not allocate either; treat them as read-only.
//
// Some checks go further than the numbered statements, where the spec says
// MUST in prose: the CONNACK's reserved acknowledge bits, its reserved return
// codes, a SUBACK without return codes, and remaining lengths that disagree
// with the fields. Their errors name the section (§3.2.2.1) instead.
//
// # Limitations
//
// Packets from a Reader are only valid until its next ReadPacket; use Clone
// (or the Clone method of a type) to keep one. A Reader interns the strings
// it decodes (topic names and filters) in a small bounded table so that
// steady-state reading does not allocate; a peer that sends a new topic in
// every packet costs one string allocation a packet.
//
// The decoder accepts a CONNECT with an empty client id and clean session 0,
// which a client must not send [MQTT-3.1.3-7], because a server answers it
// with CONNACK 0x02 rather than dropping the connection; Append refuses it.
// A non-minimal remaining length (0x80 0x00 for 0) is accepted, as the spec
// does not forbid it.
//
// AllowIllegalWrites on a Writer, AppendIllegal and the Raw type exist to
// send what a broker must refuse; a remaining length longer than four bytes
// cannot be expressed through them and must be written as bytes.
package packet
