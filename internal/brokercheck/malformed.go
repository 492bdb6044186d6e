package brokercheck

import (
	"github.com/linnet-mqtt/linnet/packet"
)

// Checks of malformed input: each connects normally (unless the CONNECT
// itself is the bad packet), sends one packet the broker must refuse and
// expects the connection to end. A PINGREQ follows the bad packet where
// the stream is still in step, so that a broker which carries on is caught
// by its PINGRESP at once rather than by the timeout.

func secondConnect(r *run) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	if err := c.send(r.newConnect(r.id("c"), true)); err != nil {
		return nil
	}
	return c.expectClose("MQTT-3.1.0-2", true, nil)
}

func refusingConnack(p packet.Packet) bool {
	a, ok := p.(*packet.Connack)
	return ok && a.ReturnCode != packet.Accepted
}

func badProtocolName(r *run) error {
	c, err := r.dial("c")
	if err != nil {
		return err
	}
	p := r.newConnect(r.id("c"), true)
	p.ProtocolName, p.ProtocolLevel = "MQTX", 4
	if err := c.send(p); err != nil {
		return nil
	}
	// The server may close, with or without a refusing CONNACK; it must
	// not accept the connection as MQTT 3.1.1.
	return c.expectClose("MQTT-3.1.2-1", false, refusingConnack)
}

func badProtocolLevel(r *run) error {
	c, err := r.dial("c")
	if err != nil {
		return err
	}
	p := r.newConnect(r.id("c"), true)
	p.ProtocolName, p.ProtocolLevel = packet.ProtocolName311, 6
	if err := c.send(p); err != nil {
		return violation("MQTT-3.1.2-2", "the broker closed before its CONNACK 0x01: %v", err)
	}
	got, err := c.read("CONNACK 0x01")
	if err != nil {
		if isClosedErr(err) {
			return violation("MQTT-3.1.2-2", "the broker closed without CONNACK 0x01 for protocol level 6")
		}
		return must("MQTT-3.1.2-2", err)
	}
	ack, ok := got.(*packet.Connack)
	if !ok || ack.ReturnCode != packet.RefusedProtocolVersion {
		return violation("MQTT-3.1.2-2", "the broker answered %v to protocol level 6; want CONNACK 0x01", got)
	}
	return c.expectClose("MQTT-3.1.2-2", false, nil)
}

func connectReserved(r *run) error {
	c, err := r.dial("c")
	if err != nil {
		return err
	}
	p := r.newConnect(r.id("c"), true)
	p.Reserved = true
	if err := c.send(p); err != nil {
		return nil
	}
	// [MQTT-3.1.4-1]: a CONNECT that does not conform is closed without
	// a CONNACK.
	if err := c.expectCloseBad("MQTT-3.1.2-3", "MQTT-3.1.4-1", false, func(p packet.Packet) bool {
		_, ok := p.(*packet.Connack)
		return ok
	}); err != nil {
		return err
	}
	if len(c.seen) > 0 {
		return violation("MQTT-3.1.4-1", "the broker sent %v before closing; a CONNECT that does not conform is closed without CONNACK", c.seen[0])
	}
	return nil
}

// reservedFlags sends a packet of type t with the valid body of its kind
// and the fixed-header flags given instead of the required ones.
func reservedFlags(t packet.Type, flags byte) func(r *run) error {
	return func(r *run) error {
		c, _, err := r.session("c", r.id("c"), true)
		if err != nil {
			return err
		}
		var body []byte
		switch t {
		case packet.TypeSubscribe:
			f := r.topic("f")
			body = append([]byte{0, 1, byte(len(f) >> 8), byte(len(f))}, f...)
			body = append(body, 1)
		case packet.TypeUnsubscribe:
			f := r.topic("f")
			body = append([]byte{0, 1, byte(len(f) >> 8), byte(len(f))}, f...)
		}
		if err := c.send(&packet.Raw{Header: byte(t)<<4 | flags, Body: body}); err != nil {
			return nil
		}
		return c.expectClose("MQTT-2.2.2-2", true, nil)
	}
}

func reservedFlagsPubrel(r *run) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	if err := c.send(&packet.Publish{QoS: 2, Topic: r.topic("t"), PacketID: 4, Payload: []byte("x")}); err != nil {
		return err
	}
	if _, err := expect[*packet.Pubrec](c, "PUBREC"); err != nil {
		return err
	}
	if err := c.send(&packet.Raw{Header: byte(packet.TypePubrel) << 4, Body: []byte{0, 4}}); err != nil {
		return nil
	}
	return c.expectClose("MQTT-3.6.1-1", true, nil)
}

func remainingLength5(r *run) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	// PUBLISH with the remaining length ff ff ff ff 01: five bytes.
	if err := c.sendBytes([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x01, 'a'}, "PUBLISH with a 5-byte remaining length"); err != nil {
		return nil
	}
	return c.expectClose("MQTT-4.8.0-1", false, nil)
}

func publishQoS3(r *run) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	if err := c.send(&packet.Publish{QoS: 3, Topic: r.topic("t"), PacketID: 1, Payload: []byte("x")}); err != nil {
		return nil
	}
	return c.expectClose("MQTT-3.3.1-4", true, nil)
}

func subscribeEmpty(r *run) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	if err := c.send(&packet.Subscribe{PacketID: 1}); err != nil {
		return nil
	}
	return c.expectClose("MQTT-3.8.3-3", true, nil)
}

func subscribeQoS3(r *run) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	if err := c.send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: r.topic("t"), QoS: 3}}}); err != nil {
		return nil
	}
	return c.expectClose("MQTT-3.8.3-4", true, nil)
}

// badTopic publishes at QoS 1 to topic and expects a close.
func badTopic(r *run, rule, topic string) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	if err := c.send(&packet.Publish{QoS: 1, Topic: topic, PacketID: 1, Payload: []byte("x")}); err != nil {
		return nil
	}
	return c.expectClose(rule, true, nil)
}

func topicInvalidUTF8(r *run) error {
	return badTopic(r, "MQTT-1.5.3-1", r.topic("\xff\xfe"))
}

func topicSurrogate(r *run) error {
	return badTopic(r, "MQTT-1.5.3-1", r.topic("\xed\xa0\x80"))
}

func topicNull(r *run) error {
	return badTopic(r, "MQTT-1.5.3-2", r.topic("a\x00b"))
}

func publishWildcard(r *run) error {
	if err := badTopic(r, "MQTT-3.3.2-2", r.topic("+")); err != nil {
		return err
	}
	return badTopic(r, "MQTT-3.3.2-2", r.topic("#"))
}

func publishEmptyTopic(r *run) error {
	return badTopic(r, "MQTT-4.7.3-1", "")
}
