package brokercheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/linnet-mqtt/linnet/packet"
)

// Checks of subscriptions and delivery: re-subscribing, several filters,
// unsubscribing, duplicates, fan-out, ordering, normalisation, invalid
// filters, sessions by client id, packet id zero, WebSocket framing.

func resubscribe(r *run) error {
	topic := r.topic("r")
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	defer func() { _ = pub.send(&packet.Publish{Retain: true, Topic: topic}) }()
	if err := pub.publish(&packet.Publish{QoS: 1, Retain: true, Topic: topic, PacketID: 1, Payload: []byte("kept")}); err != nil {
		return err
	}
	sub, err := r.subscribed("sub", r.id("s"), true, packet.Subscription{Filter: topic, QoS: 1})
	if err != nil {
		return err
	}
	if _, err := sub.receiveUntil("the retained message", func(m []*packet.Publish) bool { return len(m) == 1 }); err != nil {
		return must("MQTT-3.3.1-6", err)
	}
	if err := sub.subscribeOK(2, packet.Subscription{Filter: topic, QoS: 0}); err != nil {
		return err
	}
	again, err := sub.receiveUntil("the retained message again", func(m []*packet.Publish) bool { return len(m) == 1 })
	if err != nil {
		return must("MQTT-3.8.4-3", err)
	}
	if string(again[0].Payload) != "kept" {
		return violation("MQTT-3.8.4-3", "after subscribing again got %v, want the retained message re-sent", again[0])
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: topic, PacketID: 2, Payload: []byte("new")}); err != nil {
		return err
	}
	got, err := sub.markerFence(pub, r.topic("marker"), 3)
	if err != nil {
		return err
	}
	if len(got) != 1 || got[0].QoS != 0 {
		var qos []packet.QoS
		for _, m := range got {
			qos = append(qos, m.QoS)
		}
		return violation("MQTT-3.8.4-3", "after subscribing again at QoS 0 the message arrived %d times at QoS %v; want once at QoS 0", len(got), qos)
	}
	return nil
}

func subscribeMultiple(r *run) error {
	sub, _, err := r.session("sub", r.id("s"), true)
	if err != nil {
		return err
	}
	subs := []packet.Subscription{{Filter: r.topic("a"), QoS: 2}, {Filter: r.topic("b"), QoS: 0}, {Filter: r.topic("c"), QoS: 1}}
	codes, err := sub.subscribe(1, subs...)
	if err != nil {
		return must("MQTT-3.8.4-4", err)
	}
	for i, code := range codes {
		if code.Failed() || packet.QoS(code) > subs[i].QoS {
			return violation("MQTT-3.9.3-1", "SUBACK codes %v for filters at QoS 2, 0, 1", codes)
		}
	}
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	for i, s := range subs {
		if err := pub.publish(&packet.Publish{QoS: 1, Topic: s.Filter, PacketID: uint16(i + 1), Payload: []byte(s.Filter)}); err != nil {
			return err
		}
	}
	got, err := sub.receiveUntil("a message on each of the three filters", func(m []*packet.Publish) bool { return len(m) == 3 })
	if err != nil {
		return must("MQTT-3.8.4-4", err)
	}
	var topics []string
	for _, m := range got {
		topics = append(topics, m.Topic)
	}
	slices.Sort(topics)
	if want := []string{r.topic("a"), r.topic("b"), r.topic("c")}; !slices.Equal(topics, want) {
		return violation("MQTT-3.8.4-4", "got messages on %q, want one on each of %q", topics, want)
	}
	return nil
}

func unsubscribeLiteral(r *run) error {
	sub, pub, err := deliver(r, r.topic("+"), 1)
	if err != nil {
		return err
	}
	// "x" matches the filter "+" but is not the same string: nothing is
	// removed.
	if err := sub.unsubscribe(2, r.topic("x")); err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: r.topic("x"), PacketID: 1, Payload: []byte("still")}); err != nil {
		return err
	}
	if _, err := sub.receive("the message through the filter that was not removed"); err != nil {
		return must("MQTT-3.10.4-1", err)
	}
	return nil
}

func unsubscribeInflight(r *run) error {
	sub, pub, err := deliver(r, r.topic("t"), 2)
	if err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 2, Topic: r.topic("t"), PacketID: 1, Payload: []byte("x")}); err != nil {
		return err
	}
	m, err := sub.receive("the message")
	if err != nil {
		return err
	}
	if err := sub.unsubscribe(2, r.topic("t")); err != nil {
		return err
	}
	if err := sub.send(&packet.Pubrec{PacketID: m.PacketID}); err != nil {
		return err
	}
	rel, err := expect[*packet.Pubrel](sub, "PUBREL")
	if err != nil {
		return must("MQTT-3.10.4-3", err)
	}
	if rel.PacketID != m.PacketID {
		return violation("MQTT-2.3.1-6", "PUBREL for packet id %d, the PUBREC had %d", rel.PacketID, m.PacketID)
	}
	return sub.send(&packet.Pubcomp{PacketID: rel.PacketID})
}

func unsubscribeMultiple(r *run) error {
	sub, err := r.subscribed("sub", r.id("s"), true,
		packet.Subscription{Filter: r.topic("a"), QoS: 1}, packet.Subscription{Filter: r.topic("b"), QoS: 1},
		packet.Subscription{Filter: r.topic("c"), QoS: 1})
	if err != nil {
		return err
	}
	if err := sub.unsubscribe(2, r.topic("a"), r.topic("b")); err != nil {
		return err
	}
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	for i, t := range []string{"a", "b", "c"} {
		if err := pub.publish(&packet.Publish{QoS: 1, Topic: r.topic(t), PacketID: uint16(i + 1), Payload: []byte(t)}); err != nil {
			return err
		}
	}
	got, err := sub.markerFence(pub, r.topic("marker"), 5)
	if err != nil {
		return err
	}
	if len(got) != 1 || got[0].Topic != r.topic("c") {
		return violation("MQTT-3.10.4-6", "after unsubscribing from a and b in one UNSUBSCRIBE got %q, want the message on c only", payloads(got))
	}
	return nil
}

func disconnectReserved(r *run) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	if err := c.send(&packet.Raw{Header: byte(packet.TypeDisconnect)<<4 | 1}); err != nil {
		return nil
	}
	return c.expectClose("MQTT-3.14.1-1", true, nil)
}

func qos2DuplicateOnce(r *run) error {
	sub, pub, err := deliver(r, r.topic("t"), 2)
	if err != nil {
		return err
	}
	p := &packet.Publish{QoS: 2, Topic: r.topic("t"), PacketID: 5, Payload: []byte("once")}
	if err := pub.send(p); err != nil {
		return err
	}
	if _, err := expect[*packet.Pubrec](pub, "PUBREC"); err != nil {
		return err
	}
	dup := *p
	dup.Dup = true
	if err := pub.send(&dup); err != nil {
		return err
	}
	rec, err := expect[*packet.Pubrec](pub, "PUBREC for the duplicate")
	if err != nil {
		return must("MQTT-4.3.3-2", err)
	}
	if rec.PacketID != 5 {
		return violation("MQTT-2.3.1-6", "PUBREC for packet id %d, the PUBLISH had 5", rec.PacketID)
	}
	if err := pub.send(&packet.Pubrel{PacketID: 5}); err != nil {
		return err
	}
	if _, err := expect[*packet.Pubcomp](pub, "PUBCOMP"); err != nil {
		return must("MQTT-4.3.3-2", err)
	}
	first, err := sub.receiveUntil("the message", func(m []*packet.Publish) bool { return len(m) == 1 })
	if err != nil {
		return must("MQTT-4.3.3-2", err)
	}
	more, err := sub.markerFence(pub, r.topic("marker"), 6)
	if err != nil {
		return err
	}
	if n := len(first) + len(more); n != 1 {
		return violation("MQTT-4.3.3-2", "a QoS 2 message sent twice before PUBREL was delivered %d times", n)
	}
	return nil
}

func fanout(r *run) error {
	a, err := r.subscribed("a", r.id("a"), true, packet.Subscription{Filter: r.topic("t"), QoS: 1})
	if err != nil {
		return err
	}
	b, err := r.subscribed("b", r.id("b"), true, packet.Subscription{Filter: r.topic("+"), QoS: 0})
	if err != nil {
		return err
	}
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: r.topic("t"), PacketID: 1, Payload: []byte("both")}); err != nil {
		return err
	}
	for _, c := range []*conn{a, b} {
		if _, err := c.receiveUntil("the message", func(m []*packet.Publish) bool { return len(m) == 1 }); err != nil {
			return must("MQTT-4.5.0-1", err)
		}
	}
	return nil
}

func ordering(r *run) error {
	const n = 10
	for _, qos := range []packet.QoS{0, 1, 2} {
		// Client ids of their own in each round: mochi v2.7.9 can lose a
		// connection that reuses the id of one that just ended (its
		// cleanup deletes the newer one; docs/decisions.md), and the
		// messages to it go nowhere.
		topic := r.topic(fmt.Sprint("q", qos))
		sub, err := r.subscribed("sub", r.id(fmt.Sprint("s", qos)), true, packet.Subscription{Filter: topic, QoS: 2})
		if err != nil {
			return err
		}
		pub, _, err := r.session("pub", r.id(fmt.Sprint("p", qos)), true)
		if err != nil {
			return err
		}
		for i := range n {
			p := &packet.Publish{QoS: qos, Topic: topic, Payload: []byte{byte('0' + i)}}
			if qos > 0 {
				p.PacketID = uint16(i + 1)
			}
			if err := pub.publish(p); err != nil {
				return err
			}
		}
		var got []*packet.Publish
		if qos == 0 {
			// At most once: a broker may drop QoS 0 messages (mochi does
			// under load), so a marker behind them fences what came, and
			// what came must be in order.
			got, err = sub.markerFence(pub, r.topic("q0fence"), n+1)
		} else {
			got, err = sub.receiveUntil("ten messages", func(m []*packet.Publish) bool { return len(m) == n })
		}
		if err != nil {
			return must("MQTT-4.6.0-6", err)
		}
		if s := strings.Join(payloads(got), ""); !inOrder(s) || (qos > 0 && s != "0123456789") {
			return violation("MQTT-4.6.0-6", "QoS %d messages from one publisher arrived in the order %s", qos, s)
		}
		sub.disconnect()
		pub.disconnect()
	}
	return nil
}

// inOrder reports whether the digits of s increase: messages of one
// publisher, some perhaps lost, in the order they were sent.
func inOrder(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] <= s[i-1] {
			return false
		}
	}
	return true
}

func noNormalisation(r *run) error {
	composed, decomposed := r.topic("caf\u00e9"), r.topic("cafe\u0301")
	sub, pub, err := deliver(r, composed, 1)
	if err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: decomposed, PacketID: 1, Payload: []byte("decomposed")}); err != nil {
		return err
	}
	got, err := sub.markerFence(pub, r.topic("marker"), 2)
	if err != nil {
		return err
	}
	if len(got) > 0 {
		return violation("MQTT-4.7.3-4", "a message to [% x] matched the filter [% x]: the broker normalised Unicode", decomposed, composed)
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: composed, PacketID: 3, Payload: []byte("composed")}); err != nil {
		return err
	}
	if _, err := sub.receive("the message on the exact topic"); err != nil {
		return must("MQTT-4.7.3-4", err)
	}
	return nil
}

// invalidFilter subscribes to filter, which the broker must not grant: it
// closes the connection or answers 0x80.
func invalidFilter(r *run, rule, filter string) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	codes, err := c.subscribe(1, packet.Subscription{Filter: filter, QoS: 0})
	switch {
	case isClosedErr(err):
		return nil
	case err != nil:
		return must(rule, err)
	case !codes[0].Failed():
		return violation(rule, "the broker granted the invalid filter %q", filter)
	}
	return nil
}

func invalidFilters(r *run) error {
	for _, f := range []struct{ rule, filter string }{
		{"MQTT-4.7.1-2", r.topic("#/x")},
		{"MQTT-4.7.1-2", r.topic("a#")},
		{"MQTT-4.7.1-3", r.topic("a+")},
		{"MQTT-4.7.3-1", ""},
	} {
		if err := invalidFilter(r, f.rule, f.filter); err != nil {
			return err
		}
	}
	return nil
}

func sessionsByID(r *run) error {
	a, b := r.id("a"), r.id("b")
	defer r.forget(a)
	defer r.forget(b)
	if _, err := queueWhileAway(r, a, "for a"); err != nil {
		return err
	}
	c, ack, err := r.session("b", b, false)
	if err != nil {
		return err
	}
	if ack.SessionPresent {
		return violation("MQTT-3.1.3-2", "a new client id got Session Present=1")
	}
	got, err := c.fencePublishes()
	if err != nil {
		return err
	}
	if len(got) > 0 {
		return violation("MQTT-3.1.3-2", "client id %s got %v, queued for the session of %s", b, got[0], a)
	}
	return nil
}

func publishIDZero(r *run) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	if err := c.send(&packet.Raw{Header: byte(packet.TypePublish)<<4 | 2, Body: append(append([]byte{0, byte(len(r.topic("t")))}, r.topic("t")...), 0, 0, 'x')}); err != nil {
		return nil
	}
	// A PUBACK with packet id 0 (aedes sends one) is the broker going on
	// with the PUBLISH it must refuse: that breaks MQTT-2.3.1-1, not the
	// rule the reader names for an id of 0 in an acknowledgement.
	return c.expectCloseBad("MQTT-2.3.1-1", "MQTT-2.3.1-1", true, nil)
}

func websocketFrames(r *run) error {
	scheme, _, _ := strings.Cut(r.cfg.URI, "://")
	if scheme != "ws" && scheme != "wss" {
		return skip("only over ws:// or wss://")
	}
	// transport.Dial has checked that the server selected "mqtt"
	// [MQTT-6.0.0-4]. Each Write is one binary frame: the CONNECT goes
	// in two, then a PINGREQ and a SUBSCRIBE share one.
	c, err := r.dial("ws")
	if err != nil {
		return err
	}
	b, err := packet.AppendIllegal(nil, r.newConnect(r.id("c"), true))
	if err != nil {
		return err
	}
	if err := c.sendBytes(b[:5], "the first 5 bytes of CONNECT, one frame"); err != nil {
		return must("MQTT-6.0.0-2", err)
	}
	if err := c.sendBytes(b[5:], "the rest of the CONNECT, one frame"); err != nil {
		return must("MQTT-6.0.0-2", err)
	}
	p, err := c.read("CONNACK")
	if err != nil {
		return must("MQTT-6.0.0-2", err)
	}
	if a, ok := p.(*packet.Connack); !ok || a.ReturnCode != packet.Accepted {
		return violation("MQTT-6.0.0-2", "a CONNECT split over two frames got %v", p)
	}
	both, _ := packet.AppendIllegal(nil, &packet.Pingreq{})
	both, _ = packet.AppendIllegal(both, &packet.Pingreq{})
	if err := c.sendBytes(both, "two PINGREQs in one frame"); err != nil {
		return must("MQTT-6.0.0-2", err)
	}
	for range 2 {
		if _, err := expect[*packet.Pingresp](c, "PINGRESP"); err != nil {
			return must("MQTT-6.0.0-2", err)
		}
	}
	return nil
}
