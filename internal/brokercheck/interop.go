package brokercheck

import (
	"fmt"
	"slices"

	"github.com/linnet-mqtt/linnet/packet"
)

// The scenarios of the Eclipse Paho interoperability suite for MQTT 3.1.1
// (interoperability/client_test.py of eclipse/paho.mqtt.testing), in its
// order. Each has a check whose Scenario names it and whose verdict is the
// one that suite gives; where the suite waits a fixed time for messages,
// the check waits for the messages it expects (up to its time limit) and
// uses a fence for the ones it must not see.
var Scenarios = []string{
	"basic",
	"retained messages",
	"offline message queueing",
	"overlapping subscriptions",
	"keepalive",
	"redelivery on reconnect",
	"subscribe failure",
	"$ topics",
	"unsubscribe",
	"zero length client id",
}

// payloads returns the payloads of msgs, as strings.
func payloads(msgs []*packet.Publish) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Payload)
	}
	return out
}

// receiveUntil reads PUBLISHes on c, answering each as its QoS requires,
// until done says it has what it waits for (or the time limit passes).
// It returns everything it read.
func (c *conn) receiveUntil(what string, done func([]*packet.Publish) bool) ([]*packet.Publish, error) {
	var got []*packet.Publish
	for !done(got) {
		m, err := c.receive(what)
		if err != nil {
			return got, err
		}
		if err := c.ack(m); err != nil {
			return got, err
		}
		got = append(got, m)
	}
	return got, nil
}

// fencePublishes is fence for a connection that may only receive
// PUBLISHes before the PINGRESP; it answers them.
func (c *conn) fencePublishes() ([]*packet.Publish, error) {
	more, err := c.fence()
	if err != nil {
		return nil, err
	}
	var out []*packet.Publish
	for _, p := range more {
		m, ok := p.(*packet.Publish)
		if !ok {
			return out, fmt.Errorf("%s: unexpected %v", c.name, p)
		}
		if err := c.ack(m); err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}

// interopBasic: connect and disconnect; connect again (no session
// present); publish at QoS 0, 1 and 2 to a topic the client subscribed to
// at QoS 2 and get the three back; a second CONNECT on a connection and a
// CONNECT with the protocol name "hj" must both fail.
func interopBasic(r *run) error {
	id := r.id("a")
	c, _, err := r.session("a", id, true)
	if err != nil {
		return err
	}
	c.disconnect()
	c, ack, err := r.session("a-again", id, true)
	if err != nil {
		return err
	}
	if ack.SessionPresent {
		return violation("MQTT-3.2.2-1", "CONNACK Session Present=1 for CleanSession=1")
	}
	topic := r.topic("TopicA")
	if err := c.subscribeOK(1, packet.Subscription{Filter: topic, QoS: 2}); err != nil {
		return err
	}
	for qos := packet.QoS(0); qos <= 2; qos++ {
		p := &packet.Publish{QoS: qos, Topic: topic, Payload: fmt.Appendf(nil, "qos %d", qos)}
		if qos > 0 {
			p.PacketID = uint16(10 + qos)
		}
		if err := c.publish(p); err != nil {
			return must("MQTT-3.3.4-1", err)
		}
	}
	got, err := c.receiveUntil("the three messages", func(m []*packet.Publish) bool { return len(m) == 3 })
	if err != nil {
		return must("MQTT-3.3.4-1", err)
	}
	more, err := c.fencePublishes()
	if err != nil {
		return err
	}
	got = append(got, more...)
	msgs := payloads(got)
	slices.Sort(msgs)
	if want := []string{"qos 0", "qos 1", "qos 2"}; !slices.Equal(msgs, want) {
		return violation("MQTT-3.3.4-1", "received %q, want %q once each", msgs, want)
	}
	c.disconnect()

	second, _, err := r.session("second", r.id("b"), true)
	if err != nil {
		return err
	}
	if err := second.send(r.newConnect(r.id("b"), true)); err == nil {
		if err := second.expectClose("MQTT-3.1.0-2", true, nil); err != nil {
			return err
		}
	}
	hj, err := r.dial("hj")
	if err != nil {
		return err
	}
	p := r.newConnect(r.id("h"), true)
	p.ProtocolName = "hj"
	if err := hj.send(p); err != nil {
		return nil
	}
	// The Paho suite wants the CONNECT to fail: a close, or a refusing
	// CONNACK, even one with a code MQTT 3.1.1 reserves.
	for {
		p, err := hj.read("the CONNECT to fail")
		switch {
		case isClosedErr(err), isReservedRefusal(err):
			return nil
		case err != nil:
			return must("MQTT-3.1.2-1", err)
		case refusingConnack(p):
			continue
		}
		return violation("MQTT-3.1.2-1", "the broker answered %v to the protocol name \"hj\"", p)
	}
}

// interopRetained: retained messages at QoS 0, 1 and 2 on three topics
// reach a later subscription to +/+; after empty retained messages to the
// same topics, a new subscription gets nothing.
func interopRetained(r *run) error {
	topics := []string{r.topic("TopicA/B"), r.topic("Topic/C"), r.topic("TopicA/C")}
	filter := r.topic("+/+")
	id := r.id("a")
	c, ack, err := r.session("a", id, true)
	if err != nil {
		return err
	}
	if ack.SessionPresent {
		return violation("MQTT-3.2.2-1", "CONNACK Session Present=1 for CleanSession=1")
	}
	defer func() { // leave nothing behind, whatever happened
		if cl, _, err := r.session("cleanup", r.id("x"), true); err == nil {
			for _, t := range topics {
				_ = cl.send(&packet.Publish{Retain: true, Topic: t})
			}
			cl.disconnect()
		}
	}()
	for i, t := range topics {
		p := &packet.Publish{QoS: packet.QoS(i), Retain: true, Topic: t, Payload: fmt.Appendf(nil, "qos %d", i)}
		if i > 0 {
			p.PacketID = uint16(i)
		}
		if err := c.publish(p); err != nil {
			return err
		}
	}
	if err := c.subscribeOK(5, packet.Subscription{Filter: filter, QoS: 2}); err != nil {
		return err
	}
	got, err := c.receiveUntil("the three retained messages", func(m []*packet.Publish) bool { return len(m) == 3 })
	if err != nil {
		return must("MQTT-3.3.1-6", err)
	}
	more, err := c.fencePublishes()
	if err != nil {
		return err
	}
	if got = append(got, more...); len(got) != 3 {
		return violation("MQTT-3.3.1-6", "a new subscription got %d messages, want the 3 retained ones: %q", len(got), payloads(got))
	}
	for _, m := range got {
		if !m.Retain {
			return violation("MQTT-3.3.1-8", "a retained message sent to a new subscription carries RETAIN=0: %v", m)
		}
	}
	c.disconnect()

	c, _, err = r.session("a-again", id, true)
	if err != nil {
		return err
	}
	for i, t := range topics {
		p := &packet.Publish{QoS: packet.QoS(i), Retain: true, Topic: t}
		if i > 0 {
			p.PacketID = uint16(i)
		}
		if err := c.publish(p); err != nil {
			return err
		}
	}
	if err := c.subscribeOK(6, packet.Subscription{Filter: filter, QoS: 2}); err != nil {
		return err
	}
	left, err := c.fencePublishes()
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return violation("MQTT-3.3.1-10", "after empty retained messages, a new subscription still got %v", left[0])
	}
	return nil
}

// interopOffline: a persistent session subscribed to +/+ at QoS 2 leaves;
// another client publishes at QoS 0, 1 and 2; the session comes back with
// Session Present=1 and gets the QoS 1 and 2 messages (the QoS 0 one may
// or may not be queued), nothing else.
func interopOffline(r *run) error {
	id := r.id("a")
	defer r.forget(id)
	filter, marker := r.topic("+/+"), r.topic("marker")
	a, ack, err := r.session("a", id, false)
	if err != nil {
		return err
	}
	if ack.SessionPresent {
		return violation("MQTT-3.2.2-3", "CONNACK Session Present=1 for a client id that has no session")
	}
	if err := a.subscribeOK(1, packet.Subscription{Filter: filter, QoS: 2}, packet.Subscription{Filter: marker, QoS: 1}); err != nil {
		return err
	}
	a.disconnect()
	b, _, err := r.session("b", r.id("b"), true)
	if err != nil {
		return err
	}
	topics := []string{r.topic("TopicA/B"), r.topic("Topic/C"), r.topic("TopicA/C")}
	for i, t := range topics {
		p := &packet.Publish{QoS: packet.QoS(i), Topic: t, Payload: fmt.Appendf(nil, "qos %d", i)}
		if i > 0 {
			p.PacketID = uint16(i)
		}
		if err := b.publish(p); err != nil {
			return err
		}
	}
	if err := b.publish(&packet.Publish{QoS: 1, Topic: marker, PacketID: 9, Payload: []byte("marker")}); err != nil {
		return err
	}
	b.disconnect()
	a, ack, err = r.session("a-again", id, false)
	if err != nil {
		return err
	}
	if !ack.SessionPresent {
		return violation("MQTT-3.2.2-2", "CONNACK Session Present=0 for a stored session")
	}
	has := func(m []*packet.Publish, p string) bool { return slices.Contains(payloads(m), p) }
	got, err := a.receiveUntil("the messages queued while offline", func(m []*packet.Publish) bool {
		return has(m, "qos 1") && has(m, "qos 2") && has(m, "marker")
	})
	if err != nil {
		return must("MQTT-3.1.2-5", err)
	}
	more, err := a.fencePublishes()
	if err != nil {
		return err
	}
	got = append(got, more...)
	var msgs []string
	for _, p := range payloads(got) {
		if p != "marker" {
			msgs = append(msgs, p)
		}
	}
	slices.Sort(msgs)
	if !slices.Equal(msgs, []string{"qos 1", "qos 2"}) && !slices.Equal(msgs, []string{"qos 0", "qos 1", "qos 2"}) {
		return violation("MQTT-3.1.2-5", "the session got %q back, want the QoS 1 and 2 messages once each (and the QoS 0 one at most once)", msgs)
	}
	return nil
}

// interopOverlapping: a client subscribed to T/# at QoS 2 and T/+ at QoS
// 1 publishes at QoS 2 to T/C. It must get either one copy at QoS 2, or
// one copy per subscription, at QoS 2 and 1 [MQTT-3.3.5-1].
func interopOverlapping(r *run) error {
	c, _, err := r.session("a", r.id("a"), true)
	if err != nil {
		return err
	}
	if err := c.subscribeOK(1, packet.Subscription{Filter: r.topic("TopicA/#"), QoS: 2},
		packet.Subscription{Filter: r.topic("TopicA/+"), QoS: 1}); err != nil {
		return err
	}
	topic := r.topic("TopicA/C")
	if err := c.publish(&packet.Publish{QoS: 2, Topic: topic, PacketID: 2, Payload: []byte("overlapping topic filters")}); err != nil {
		return err
	}
	first, err := c.receiveUntil("the message", func(m []*packet.Publish) bool { return len(m) == 1 })
	if err != nil {
		return must("MQTT-3.3.5-1", err)
	}
	more, err := c.markerFence(c, r.topic("marker"), 3)
	if err != nil {
		return err
	}
	got := append(first, more...)
	var qos []packet.QoS
	for _, m := range got {
		if m.Topic != topic {
			return fmt.Errorf("unexpected %v", m)
		}
		qos = append(qos, m.QoS)
	}
	slices.Sort(qos)
	switch {
	case slices.Equal(qos, []packet.QoS{2}), slices.Equal(qos, []packet.QoS{1, 2}):
		return nil
	case len(qos) == 1:
		return violation("MQTT-3.3.5-1", "one copy arrived, at QoS %d; the highest QoS of the matching subscriptions is 2", qos[0])
	}
	return violation("MQTT-3.3.5-1", "%d copies arrived, at QoS %v; want one at QoS 2, or one per subscription at QoS 2 and 1", len(qos), qos)
}

// interopRedelivery: a persistent session subscribed to T/# at QoS 2
// publishes to itself at QoS 1 and 2 and does not answer the copies it
// gets; after DISCONNECT and a reconnect both arrive again.
func interopRedelivery(r *run) error {
	id := r.id("b")
	defer r.forget(id)
	b, _, err := r.session("b", id, false)
	if err != nil {
		return err
	}
	if err := b.subscribeOK(1, packet.Subscription{Filter: r.topic("TopicA/#"), QoS: 2}); err != nil {
		return err
	}
	t1, t2 := r.topic("TopicA/B"), r.topic("TopicA/C")
	if err := b.publish(&packet.Publish{QoS: 1, Topic: t1, PacketID: 2}); err != nil {
		return err
	}
	if err := b.publish(&packet.Publish{QoS: 2, Topic: t2, PacketID: 3}); err != nil {
		return err
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		m, err := b.receive("the two messages, left unanswered")
		if err != nil {
			return err
		}
		seen[m.Topic] = true
	}
	b.disconnect()
	b, _, err = r.session("b-again", id, false)
	if err != nil {
		return err
	}
	got, err := b.receiveUntil("the two messages again", func(m []*packet.Publish) bool {
		topics := map[string]bool{}
		for _, p := range m {
			topics[p.Topic] = true
		}
		return topics[t1] && topics[t2]
	})
	if err != nil {
		return must("MQTT-4.4.0-1", err)
	}
	more, err := b.fencePublishes()
	if err != nil {
		return err
	}
	if got = append(got, more...); len(got) != 2 {
		return violation("MQTT-4.4.0-1", "%d messages arrived after the reconnect, want the 2 unanswered ones once each", len(got))
	}
	return nil
}

// interopUnsubscribe: a client subscribed to three topics unsubscribes
// from one; of three messages, one to each topic, it gets the other two.
func interopUnsubscribe(r *run) error {
	topics := []string{r.topic("TopicA"), r.topic("TopicA/B"), r.topic("Topic/C")}
	b, _, err := r.session("b", r.id("b"), true)
	if err != nil {
		return err
	}
	for i, t := range topics {
		if err := b.subscribeOK(uint16(i+1), packet.Subscription{Filter: t, QoS: 2}); err != nil {
			return err
		}
	}
	if err := b.unsubscribe(4, topics[0]); err != nil {
		return err
	}
	a, _, err := r.session("a", r.id("a"), true)
	if err != nil {
		return err
	}
	for i, t := range topics {
		if err := a.publish(&packet.Publish{QoS: 1, Topic: t, PacketID: uint16(i + 1)}); err != nil {
			return err
		}
	}
	got, err := b.markerFence(a, r.topic("marker"), 5)
	if err != nil {
		return err
	}
	var seen []string
	for _, m := range got {
		if m.Topic == topics[0] {
			return violation("MQTT-3.10.4-2", "after UNSUBACK the broker still sent %v", m)
		}
		seen = append(seen, m.Topic)
	}
	if !slices.Equal(seen, topics[1:]) {
		return violation("MQTT-3.3.4-1", "got messages on %q, want one on each of %q", seen, topics[1:])
	}
	return nil
}

// interopZeroID: an empty client id with CleanSession=0 must be refused;
// with CleanSession=1 it must be accepted. (MQTT 3.1.1 lets a server
// refuse the second with CONNACK 0x02 [MQTT-3.1.3-6]; the Paho suite
// counts that as a failure, and so does this check.)
func interopZeroID(r *run) error {
	c, err := r.dial("persistent")
	if err != nil {
		return err
	}
	if err := c.send(r.newConnect("", false)); err != nil {
		return nil
	}
	p, err := c.read("CONNACK")
	switch {
	case err == nil:
		if ack, ok := p.(*packet.Connack); !ok || ack.ReturnCode == packet.Accepted {
			return violation("MQTT-3.1.3-8", "an empty client id with CleanSession=0 got %v; want it refused", p)
		}
	case !isClosedErr(err) && !isReservedRefusal(err): // Paho: any refusal
		return must("MQTT-3.1.3-8", err)
	}
	c, err = r.dial("clean")
	if err != nil {
		return err
	}
	ack, err := c.connect(r.newConnect("", true))
	if err != nil {
		return must("MQTT-3.1.3-6", err)
	}
	if ack.ReturnCode != packet.Accepted {
		return fmt.Errorf("an empty client id with CleanSession=1 got CONNACK %v: MQTT 3.1.1 allows 0x02 [MQTT-3.1.3-6], the Paho interoperability suite does not", ack.ReturnCode)
	}
	c.disconnect()
	return nil
}
