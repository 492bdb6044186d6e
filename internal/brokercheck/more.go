package brokercheck

import (
	"github.com/linnet-mqtt/linnet/packet"
)

// Checks of single statements beyond the interoperability scenarios. Each
// waits for what it expects up to its limit and fences what it must not
// see: a PINGREQ for what the broker sends on its own connection's
// account (a SUBACK's retained messages), a marker message from the same
// publisher for what the broker routes from another connection.

func connectAccepted(r *run) error {
	c, err := r.dial("c")
	if err != nil {
		return err
	}
	ack, err := c.connect(r.newConnect(r.id("c"), true))
	if err != nil {
		return must("MQTT-3.1.4-4", err)
	}
	if ack.ReturnCode != packet.Accepted {
		return violation("MQTT-3.1.4-4", "CONNACK %v to a valid CONNECT", ack.ReturnCode)
	}
	if ack.SessionPresent {
		return violation("MQTT-3.2.2-1", "CONNACK Session Present=1 for CleanSession=1")
	}
	c.disconnect()
	return nil
}

func clientID23(r *run) error {
	const chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	id := r.id("i")
	for i := 0; len(id) < 23; i++ {
		id += string(chars[(i*7)%len(chars)])
	}
	c, err := r.dial("c")
	if err != nil {
		return err
	}
	ack, err := c.connect(r.newConnect(id, true))
	if err != nil {
		return must("MQTT-3.1.3-5", err)
	}
	if ack.ReturnCode != packet.Accepted {
		return violation("MQTT-3.1.3-5", "CONNACK %v to the 23-character client id %q", ack.ReturnCode, id)
	}
	c.disconnect()
	return nil
}

func sessionTakeover(r *run) error {
	id := r.id("t")
	old, _, err := r.session("old", id, true)
	if err != nil {
		return err
	}
	if _, _, err := r.session("new", id, true); err != nil {
		return err
	}
	p, err := old.read("the broker to close the older connection")
	switch {
	case err == nil:
		if _, ok := p.(*packet.Disconnect); ok {
			// The connection was ended, but with a packet only a
			// client sends in MQTT 3.1.1 (MQTT 5 servers send it).
			return violation("§2.2.1", "the broker sent DISCONNECT, a client-to-server packet in MQTT 3.1.1, to the older connection of client id %s", id)
		}
		return violation("MQTT-3.1.4-2", "the older connection of client id %s got %v instead of being closed", id, p)
	case !isClosedErr(err):
		return must("MQTT-3.1.4-2", err)
	}
	return nil
}

func refusedConnectIgnoresRest(r *run) error {
	c, err := r.dial("c")
	if err != nil {
		return err
	}
	// An empty client id with CleanSession=0 is refused [MQTT-3.1.3-8];
	// a PUBLISH and a PINGREQ follow in the same write.
	var b []byte
	for _, p := range []packet.Packet{r.newConnect("", false),
		&packet.Publish{QoS: 1, Topic: r.topic("t"), PacketID: 1, Payload: []byte("after a refused CONNECT")},
		&packet.Pingreq{}} {
		var err error
		if b, err = packet.AppendIllegal(b, p); err != nil {
			return err
		}
	}
	if err := c.sendBytes(b, "CONNECT (empty client id, CleanSession=0), PUBLISH, PINGREQ"); err != nil {
		return nil
	}
	for {
		p, err := c.read("the broker to close the connection")
		if err != nil {
			if isClosedErr(err) {
				return nil
			}
			if isReservedRefusal(err) {
				// A refusal all the same; what matters here is
				// that nothing after it is answered.
				return c.expectClose("MQTT-3.1.4-5", false, nil)
			}
			return must("MQTT-3.1.4-5", err)
		}
		if a, ok := p.(*packet.Connack); ok && a.ReturnCode != packet.Accepted {
			continue
		}
		if a, ok := p.(*packet.Connack); ok {
			// No refusal to look past (aedes accepts): the rule broken
			// is the one that demands the refusal.
			return violation("MQTT-3.1.3-8", "the broker accepted the CONNECT with an empty client id and CleanSession=0 (%v) instead of refusing it, so what it does after a refusal cannot be seen", a)
		}
		return violation("MQTT-3.1.4-5", "after refusing the CONNECT the broker answered %v", p)
	}
}

// deliver has a subscriber on filter at subQoS (packet id 1) and returns
// it with a publisher.
func deliver(r *run, filter string, subQoS packet.QoS) (sub, pub *conn, err error) {
	sub, err = r.subscribed("sub", r.id("s"), true, packet.Subscription{Filter: filter, QoS: subQoS})
	if err != nil {
		return nil, nil, err
	}
	pub, err = r.publisher()
	return sub, pub, err
}

func bomKept(r *run) error {
	topic := r.topic("\xef\xbb\xbfbom")
	sub, pub, err := deliver(r, topic, 0)
	if err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: topic, PacketID: 1, Payload: []byte("bom")}); err != nil {
		return err
	}
	m, err := sub.receive("the message on a topic with U+FEFF")
	if err != nil {
		return must("MQTT-1.5.3-3", err)
	}
	if m.Topic != topic {
		return violation("MQTT-1.5.3-3", "the topic arrived as [% x], sent as [% x]", m.Topic, topic)
	}
	return nil
}

func serverPacketIDs(r *run) error {
	sub, pub, err := deliver(r, r.topic("t"), 1)
	if err != nil {
		return err
	}
	const n = 3
	for i := range n {
		if err := pub.publish(&packet.Publish{QoS: 1, Topic: r.topic("t"), PacketID: uint16(i + 1), Payload: []byte{byte('a' + i)}}); err != nil {
			return err
		}
	}
	ids := map[uint16]bool{}
	var got []*packet.Publish
	for len(got) < n {
		m, err := sub.receive("three messages, left unanswered")
		if err != nil {
			return must("MQTT-2.3.1-4", err)
		}
		if m.Dup {
			return violation("MQTT-4.3.2-1", "the first delivery of a QoS 1 message has DUP=1: %v", m)
		}
		if ids[m.PacketID] {
			return violation("MQTT-2.3.1-4", "packet id %d is used for two unacknowledged messages at once", m.PacketID)
		}
		ids[m.PacketID] = true
		got = append(got, m)
	}
	for _, m := range got {
		if err := sub.ack(m); err != nil {
			return err
		}
	}
	return nil
}

func idsEchoed(r *run) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	if err := c.subscribeOK(0xfffe, packet.Subscription{Filter: r.topic("t"), QoS: 0}); err != nil {
		return must("MQTT-3.8.4-2", err)
	}
	return c.unsubscribe(0x1234, r.topic("t"))
}

func dupNotForwarded(r *run) error {
	sub, pub, err := deliver(r, r.topic("t"), 1)
	if err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{Dup: true, QoS: 1, Topic: r.topic("t"), PacketID: 1, Payload: []byte("dup")}); err != nil {
		return err
	}
	m, err := sub.receive("the message")
	if err != nil {
		return must("MQTT-3.3.1-3", err)
	}
	if m.Dup {
		return violation("MQTT-3.3.1-3", "a first delivery carries DUP=1, copied from the publisher's PUBLISH")
	}
	return sub.ack(m)
}

// retainedThen publishes a retained QoS 1 message "first" to topic, then
// second, and returns what a new subscription to topic gets: want
// messages, then whatever came before a PINGRESP. The topic's retained
// message is cleared again. (mochi sends retained messages after it
// answers a PINGREQ that follows the SUBSCRIBE, so a PINGREQ fence alone
// would miss them.)
func retainedThen(r *run, topic string, second *packet.Publish, want int) ([]*packet.Publish, error) {
	pub, err := r.publisher()
	if err != nil {
		return nil, err
	}
	defer func() { _ = pub.send(&packet.Publish{Retain: true, Topic: topic}) }()
	if err := pub.publish(&packet.Publish{QoS: 1, Retain: true, Topic: topic, PacketID: 1, Payload: []byte("first")}); err != nil {
		return nil, err
	}
	if err := pub.publish(second); err != nil {
		return nil, err
	}
	// A marker after the second message: once it is routed, so is the
	// second, and the broker has stored or dropped it.
	marker := r.topic("marker")
	watch, err := r.subscribed("watch", r.id("w"), true, packet.Subscription{Filter: marker, QoS: 0})
	if err != nil {
		return nil, err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: marker, PacketID: 3, Payload: []byte("marker")}); err != nil {
		return nil, err
	}
	if _, err := watch.receive("the marker"); err != nil {
		return nil, err
	}
	later, err := r.subscribed("later", r.id("n"), true, packet.Subscription{Filter: topic, QoS: 1})
	if err != nil {
		return nil, err
	}
	got, err := later.receiveUntil("the retained message", func(m []*packet.Publish) bool { return len(m) == want })
	if err != nil {
		return got, err
	}
	more, err := later.fencePublishes()
	return append(got, more...), err
}

func retainedQoS0Replaces(r *run) error {
	topic := r.topic("r")
	got, err := retainedThen(r, topic, &packet.Publish{Retain: true, Topic: topic, Payload: []byte("second")}, 0)
	if err != nil {
		return err
	}
	for _, m := range got {
		if string(m.Payload) == "first" {
			return violation("MQTT-3.3.1-7", "a new subscription got the retained message that a retained QoS 0 message replaced")
		}
	}
	return nil
}

func nonRetainedKeepsRetained(r *run) error {
	topic := r.topic("r")
	got, err := retainedThen(r, topic, &packet.Publish{QoS: 1, Topic: topic, PacketID: 2, Payload: []byte("second")}, 1)
	if err != nil {
		return must("MQTT-3.3.1-12", err)
	}
	if len(got) != 1 || string(got[0].Payload) != "first" {
		return violation("MQTT-3.3.1-12", "after a message with RETAIN=0 a new subscription got %q, want the retained %q only", payloads(got), "first")
	}
	if !got[0].Retain {
		return violation("MQTT-3.3.1-8", "the retained message sent to a new subscription carries RETAIN=0")
	}
	return nil
}

// willOnClose connects a client with a will on r.topic("will") (retain as
// given), drops its network connection and waits for the will on a
// subscription made before. It returns the will as received.
func willOnClose(r *run, retain bool) (*packet.Publish, error) {
	willTopic := r.topic("will")
	watch, err := r.subscribed("watch", r.id("w"), true, packet.Subscription{Filter: willTopic, QoS: 1})
	if err != nil {
		return nil, err
	}
	c, err := r.dial("leaver")
	if err != nil {
		return nil, err
	}
	p := r.newConnect(r.id("v"), true)
	p.WillFlag, p.WillQoS, p.WillRetain, p.WillTopic, p.WillMessage = true, 1, retain, willTopic, []byte("gone")
	ack, err := c.connect(p)
	if err != nil {
		return nil, err
	}
	if ack.ReturnCode != packet.Accepted {
		return nil, &setupError{"CONNACK " + ack.ReturnCode.String()}
	}
	c.drop()
	m, err := watch.receive("the will")
	if err != nil {
		return nil, must("MQTT-3.1.2-8", err)
	}
	if m.Topic != willTopic || string(m.Payload) != "gone" {
		return nil, violation("MQTT-3.1.2-8", "got %v, want the will", m)
	}
	return m, watch.ack(m)
}

func willNotRetained(r *run) error {
	if _, err := willOnClose(r, false); err != nil {
		return err
	}
	later, err := r.subscribed("later", r.id("n"), true, packet.Subscription{Filter: r.topic("will"), QoS: 1})
	if err != nil {
		return err
	}
	got, err := later.fencePublishes()
	if err != nil {
		return err
	}
	if len(got) > 0 {
		return violation("MQTT-3.1.2-16", "a will with Will Retain=0 was kept as a retained message: %v", got[0])
	}
	return nil
}

func willRetained(r *run) error {
	if _, err := willOnClose(r, true); err != nil {
		return err
	}
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	defer func() { _ = pub.send(&packet.Publish{Retain: true, Topic: r.topic("will")}) }()
	later, err := r.subscribed("later", r.id("n"), true, packet.Subscription{Filter: r.topic("will"), QoS: 1})
	if err != nil {
		return err
	}
	got, err := later.receiveUntil("the retained will", func(m []*packet.Publish) bool { return len(m) > 0 })
	if err != nil {
		return must("MQTT-3.1.2-17", err)
	}
	if string(got[0].Payload) != "gone" || !got[0].Retain {
		return violation("MQTT-3.1.2-17", "a new subscription got %v, want the will retained", got[0])
	}
	return nil
}
