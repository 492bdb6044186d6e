package brokercheck

import (
	"fmt"

	"github.com/linnet-mqtt/linnet/packet"
)

// Checks of sessions and delivery across connections: redelivery, refused
// subscriptions, $ topics, unsubscribe, zero-length client ids, PINGREQ.

func deliverToPersistent(r *run, id string, qos packet.QoS, payload string) (*conn, *packet.Publish, error) {
	sub, _, err := r.session("sub", id, false)
	if err != nil {
		return nil, nil, err
	}
	if err := sub.subscribeOK(1, packet.Subscription{Filter: r.topic("t"), QoS: qos}); err != nil {
		return nil, nil, err
	}
	pub, err := r.publisher()
	if err != nil {
		return nil, nil, err
	}
	if err := pub.publish(&packet.Publish{QoS: qos, Topic: r.topic("t"), PacketID: 1, Payload: []byte(payload)}); err != nil {
		return nil, nil, err
	}
	m, err := sub.receive("the message")
	if err != nil {
		return nil, nil, err
	}
	return sub, m, nil
}

func redeliveryQoS1(r *run) error {
	id := r.id("r")
	defer r.forget(id)
	sub, first, err := deliverToPersistent(r, id, 1, "unacked")
	if err != nil {
		return err
	}
	sub.drop() // no PUBACK
	back, ack, err := r.session("sub-again", id, false)
	if err != nil {
		return err
	}
	if !ack.SessionPresent {
		return violation("MQTT-3.2.2-2", "CONNACK Session Present=0 for a stored session")
	}
	again, err := back.receive("the unacknowledged message again")
	if err != nil {
		return must("MQTT-4.4.0-1", err)
	}
	if again.PacketID != first.PacketID || string(again.Payload) != "unacked" {
		return violation("MQTT-4.4.0-1", "re-sent %v; first sent with packet id %d", again, first.PacketID)
	}
	if !again.Dup {
		return violation("MQTT-3.3.1-1", "the re-delivered PUBLISH has DUP=0")
	}
	return back.ack(again)
}

func redeliveryPubrel(r *run) error {
	id := r.id("r")
	defer r.forget(id)
	sub, m, err := deliverToPersistent(r, id, 2, "x")
	if err != nil {
		return err
	}
	if err := sub.send(&packet.Pubrec{PacketID: m.PacketID}); err != nil {
		return err
	}
	rel, err := expect[*packet.Pubrel](sub, "PUBREL")
	if err != nil {
		return err
	}
	sub.drop() // no PUBCOMP
	back, _, err := r.session("sub-again", id, false)
	if err != nil {
		return err
	}
	p, err := back.read("the PUBREL again")
	if err != nil {
		return must("MQTT-4.4.0-1", err)
	}
	again, ok := p.(*packet.Pubrel)
	if !ok || again.PacketID != rel.PacketID {
		return violation("MQTT-4.4.0-1", "after reconnect got %v, want PUBREL for packet id %d", p, rel.PacketID)
	}
	return back.send(&packet.Pubcomp{PacketID: again.PacketID})
}

func subscribeRefused(r *run) error {
	if r.cfg.RefusedFilter == "" {
		return skip("not configured: name a filter the broker refuses with -refused-filter")
	}
	c, _, err := r.session("sub", r.id("s"), true)
	if err != nil {
		return err
	}
	codes, err := c.subscribe(1,
		packet.Subscription{Filter: r.topic("ok"), QoS: 1},
		packet.Subscription{Filter: r.cfg.RefusedFilter, QoS: 1},
		packet.Subscription{Filter: r.topic("ok2"), QoS: 2})
	if err != nil {
		return must("MQTT-3.8.4-1", err)
	}
	for i, code := range codes {
		if !code.Valid() {
			return violation("MQTT-3.9.3-2", "SUBACK return code %#02x", byte(code))
		}
		_ = i
	}
	if codes[0] != 1 || codes[2] != 2 {
		return violation("MQTT-3.9.3-1", "SUBACK codes %v; want QoS 1, 0x80, QoS 2 in the order of the filters", codes)
	}
	if !codes[1].Failed() {
		return violation("MQTT-3.8.4-5", "the refused filter %q was granted %v", r.cfg.RefusedFilter, codes[1])
	}
	return nil
}

func dollarTopics(r *run) error {
	dollar := "$" + r.cfg.Prefix + "/" + r.name + "/x"
	wild, err := r.subscribed("wild", r.id("w"), true,
		packet.Subscription{Filter: "#", QoS: 0},
		packet.Subscription{Filter: "+/" + r.name + "/x", QoS: 0})
	if err != nil {
		return err
	}
	marker := r.topic("marker")
	exact, err := r.subscribed("exact", r.id("e"), true, packet.Subscription{Filter: dollar, QoS: 0},
		packet.Subscription{Filter: marker, QoS: 0})
	if err != nil {
		return err
	}
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: dollar, PacketID: 1, Payload: []byte("dollar")}); err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: marker, PacketID: 2, Payload: []byte("marker")}); err != nil {
		return err
	}
	// The exact subscription shows whether the broker routes a $ topic
	// published by a client at all: the $ message comes before the marker
	// (one publisher, one subscriber: in order), or not at all. A PUBACK
	// does not say the message was routed: a broker may acknowledge first.
	routed := false
	for {
		m, err := exact.receive("the marker through its exact filter")
		if err != nil {
			return err
		}
		if m.Topic == dollar {
			routed = true
		}
		if m.Topic == marker {
			break
		}
	}
	if !routed {
		return skip("the broker does not route $ topics published by a client, so the wildcard rule cannot be seen")
	}
	// "#" sees all traffic on the broker: wait for this check's marker,
	// and fail on anything with a $ topic before or with it.
	for {
		m, err := wild.receive("the marker through #")
		if err != nil {
			return err
		}
		if len(m.Topic) > 0 && m.Topic[0] == '$' {
			return violation("MQTT-4.7.2-1", "a wildcard filter matched %q", m.Topic)
		}
		if m.Topic == marker {
			break
		}
	}
	more, err := wild.fence()
	if err != nil {
		return err
	}
	for _, p := range more {
		if m, ok := p.(*packet.Publish); ok && len(m.Topic) > 0 && m.Topic[0] == '$' {
			return violation("MQTT-4.7.2-1", "a wildcard filter matched %q", m.Topic)
		}
	}
	return nil
}

func unsubscribe(r *run) error {
	sub, err := r.subscribed("sub", r.id("s"), true, packet.Subscription{Filter: r.topic("u"), QoS: 1})
	if err != nil {
		return err
	}
	if err := sub.unsubscribe(2, r.topic("u")); err != nil {
		return err
	}
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: r.topic("u"), PacketID: 1, Payload: []byte("x")}); err != nil {
		return err
	}
	got, err := sub.markerFence(pub, r.topic("fence"), 900)
	if err != nil {
		return err
	}
	if len(got) > 0 {
		return violation("MQTT-3.10.4-2", "after UNSUBACK the broker still sent %v", got[0])
	}
	if err := sub.send(&packet.Unsubscribe{PacketID: 3, Filters: []string{r.topic("never")}}); err != nil {
		return err
	}
	ua, err := expect[*packet.Unsuback](sub, "UNSUBACK")
	if err != nil {
		return must("MQTT-3.10.4-5", err)
	}
	if ua.PacketID != 3 {
		return violation("MQTT-3.10.4-4", "UNSUBACK for packet id %d, the UNSUBSCRIBE had 3", ua.PacketID)
	}
	return nil
}

func zeroIDClean(r *run) error {
	c, err := r.dial("anon")
	if err != nil {
		return err
	}
	ack, err := c.connect(r.newConnect("", true))
	if err != nil {
		return must("MQTT-3.1.3-6", err)
	}
	switch ack.ReturnCode {
	case packet.RefusedIdentifierRejected:
		return c.expectClose("MQTT-3.2.2-5", false, nil)
	case packet.Accepted:
	default:
		return violation("MQTT-3.1.3-6", "CONNACK %v; want 0x00, or 0x02 for a server that needs client ids", ack.ReturnCode)
	}
	if ack.SessionPresent {
		return violation("MQTT-3.2.2-1", "CONNACK Session Present=1 for CleanSession=1")
	}
	// The connection works like any other.
	if err := c.subscribeOK(1, packet.Subscription{Filter: r.topic("z"), QoS: 1}); err != nil {
		return must("MQTT-3.1.3-6", err)
	}
	if err := c.publish(&packet.Publish{QoS: 1, Topic: r.topic("z"), PacketID: 2, Payload: []byte("z")}); err != nil {
		return must("MQTT-3.1.3-6", err)
	}
	m, err := c.receive("its own message")
	if err != nil {
		return must("MQTT-3.1.3-6", err)
	}
	return c.ack(m)
}

func zeroIDPersistent(r *run) error {
	c, err := r.dial("anon")
	if err != nil {
		return err
	}
	ack, err := c.connect(r.newConnect("", false))
	if err != nil {
		return must("MQTT-3.1.3-8", err)
	}
	if ack.ReturnCode != packet.RefusedIdentifierRejected {
		return violation("MQTT-3.1.3-8", "CONNACK %v to an empty client id with CleanSession=0; want 0x02", ack.ReturnCode)
	}
	if ack.SessionPresent {
		return violation("MQTT-3.2.2-4", "a refusing CONNACK has Session Present=1")
	}
	return c.expectClose("MQTT-3.2.2-5", true, nil)
}

func pingreq(r *run) error {
	c, _, err := r.session("c", r.id("c"), true)
	if err != nil {
		return err
	}
	got, err := c.fence()
	if err != nil {
		return must("MQTT-3.12.4-1", err)
	}
	if len(got) > 0 {
		return fmt.Errorf("unexpected %v before PINGRESP", got[0])
	}
	return nil
}
