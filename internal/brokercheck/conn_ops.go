package brokercheck

import (
	"errors"
	"fmt"

	"github.com/linnet-mqtt/linnet/packet"
)

// The protocol steps a check takes on a connection: connect, subscribe,
// publish, receive and acknowledge, fence, unsubscribe, and the ways it ends.

// connect sends CONNECT and returns the CONNACK, which must be the first
// packet the broker sends [MQTT-3.2.0-1].
func (c *conn) connect(p *packet.Connect) (*packet.Connack, error) {
	if err := c.send(p); err != nil {
		return nil, err
	}
	got, err := c.read("CONNACK")
	if err != nil {
		return nil, err
	}
	ack, ok := got.(*packet.Connack)
	if !ok {
		return nil, violation("MQTT-3.2.0-1", "%s: the broker's first packet is %v, not CONNACK", c.name, got)
	}
	return ack, nil
}

// subscribe sends SUBSCRIBE and returns the SUBACK's codes, checking that
// the SUBACK echoes the packet id.
func (c *conn) subscribe(id uint16, subs ...packet.Subscription) ([]packet.SubackCode, error) {
	if err := c.send(&packet.Subscribe{PacketID: id, Subscriptions: subs}); err != nil {
		return nil, err
	}
	var early []packet.Packet
	defer func() { c.pending = append(early, c.pending...) }()
	for {
		p, err := c.read("SUBACK")
		if err != nil {
			return nil, err
		}
		switch p := p.(type) {
		case *packet.Suback:
			if p.PacketID != id {
				return nil, violation("MQTT-3.8.4-2", "SUBACK carries packet id %d, the SUBSCRIBE had %d", p.PacketID, id)
			}
			if len(p.ReturnCodes) != len(subs) {
				return nil, violation("MQTT-3.8.4-5", "SUBACK has %d return codes for %d filters", len(p.ReturnCodes), len(subs))
			}
			return p.ReturnCodes, nil
		case *packet.Publish:
			// A message routed through an earlier subscription may
			// arrive before this SUBACK; keep it for the reads after.
			if len(early) == maxEarly {
				return nil, fmt.Errorf("%s: more than %d PUBLISH packets before the SUBACK", c.name, maxEarly)
			}
			early = append(early, p)
		default:
			return nil, fmt.Errorf("%s: want SUBACK, got %v", c.name, p)
		}
	}
}

// subscribeOK subscribes and fails unless every filter is granted its QoS.
func (c *conn) subscribeOK(id uint16, subs ...packet.Subscription) error {
	codes, err := c.subscribe(id, subs...)
	if err != nil {
		return err
	}
	for i, code := range codes {
		if code.Failed() {
			return &setupError{fmt.Sprintf("%s: the broker refused the subscription to %q", c.name, subs[i].Filter)}
		}
		if packet.QoS(code) > subs[i].QoS {
			return violation("MQTT-3.9.3-2", "SUBACK grants QoS %d to %q, more than the %d asked for", code, subs[i].Filter, subs[i].QoS)
		}
	}
	return nil
}

// publish sends PUBLISH and completes its QoS flow as the sender.
func (c *conn) publish(p *packet.Publish) error {
	if err := c.send(p); err != nil {
		return err
	}
	switch p.QoS {
	case 1:
		ack, err := expect[*packet.Puback](c, "PUBACK")
		if err != nil {
			return err
		}
		if ack.PacketID != p.PacketID {
			return violation("MQTT-2.3.1-6", "PUBACK for packet id %d, the PUBLISH had %d", ack.PacketID, p.PacketID)
		}
	case 2:
		rec, err := expect[*packet.Pubrec](c, "PUBREC")
		if err != nil {
			return err
		}
		if rec.PacketID != p.PacketID {
			return violation("MQTT-2.3.1-6", "PUBREC for packet id %d, the PUBLISH had %d", rec.PacketID, p.PacketID)
		}
		if err := c.send(&packet.Pubrel{PacketID: p.PacketID}); err != nil {
			return err
		}
		comp, err := expect[*packet.Pubcomp](c, "PUBCOMP")
		if err != nil {
			return err
		}
		if comp.PacketID != p.PacketID {
			return violation("MQTT-4.3.3-2", "PUBCOMP for packet id %d, the PUBREL had %d", comp.PacketID, p.PacketID)
		}
	}
	return nil
}

// receive waits for the next PUBLISH, skipping nothing: any other packet is
// an error.
func (c *conn) receive(what string) (*packet.Publish, error) {
	return expect[*packet.Publish](c, what)
}

// ack answers an inbound PUBLISH as its QoS requires, completing the QoS 2
// flow as the receiver.
func (c *conn) ack(p *packet.Publish) error {
	switch p.QoS {
	case 1:
		return c.send(&packet.Puback{PacketID: p.PacketID})
	case 2:
		if err := c.send(&packet.Pubrec{PacketID: p.PacketID}); err != nil {
			return err
		}
		rel, err := expect[*packet.Pubrel](c, "PUBREL")
		if err != nil {
			return err
		}
		if rel.PacketID != p.PacketID {
			return violation("MQTT-2.3.1-6", "PUBREL for packet id %d, the PUBREC had %d", rel.PacketID, p.PacketID)
		}
		return c.send(&packet.Pubcomp{PacketID: p.PacketID})
	}
	return nil
}

// fence sends PINGREQ and collects every packet that arrives before the
// PINGRESP. Brokers answer in order, so whatever the broker had queued for
// this connection before it read the PINGREQ is in the result.
func (c *conn) fence() ([]packet.Packet, error) {
	if err := c.send(&packet.Pingreq{}); err != nil {
		return nil, err
	}
	var got []packet.Packet
	for {
		p, err := c.read("PINGRESP")
		if err != nil {
			return got, err
		}
		if _, ok := p.(*packet.Pingresp); ok {
			return got, nil
		}
		got = append(got, p)
	}
}

// markerFence collects what c receives before a marker message that pub
// publishes after everything it published so far, on a topic c subscribes
// to for the purpose (packet id id on both connections). One publisher and
// one subscriber: whatever the broker routed to c from pub's earlier
// messages arrives before the marker. A PUBACK alone orders nothing, since
// a broker may acknowledge a message before it routes it (mochi does), and
// a PINGREQ fence on c only covers what was already queued for c.
func (c *conn) markerFence(pub *conn, marker string, id uint16) ([]*packet.Publish, error) {
	if err := c.subscribeOK(id, packet.Subscription{Filter: marker, QoS: 0}); err != nil {
		return nil, err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: marker, PacketID: id, Payload: []byte("marker")}); err != nil {
		return nil, err
	}
	var got []*packet.Publish
	for {
		m, err := c.receive("the marker " + marker)
		if err != nil {
			return got, err
		}
		if m.Topic == marker {
			return got, nil
		}
		if m.QoS > 0 {
			if err := c.ack(m); err != nil {
				return got, err
			}
		}
		got = append(got, m)
	}
}

// unsubscribe sends UNSUBSCRIBE and waits for its UNSUBACK. The messages
// that arrived before the UNSUBACK are answered and dropped: whatever comes
// after it was sent after the subscription was gone.
func (c *conn) unsubscribe(id uint16, filters ...string) error {
	if err := c.send(&packet.Unsubscribe{PacketID: id, Filters: filters}); err != nil {
		return err
	}
	ua, err := expect[*packet.Unsuback](c, "UNSUBACK")
	if err != nil {
		return must("MQTT-3.10.4-4", err)
	}
	if ua.PacketID != id {
		return violation("MQTT-2.3.1-7", "UNSUBACK for packet id %d, the UNSUBSCRIBE had %d", ua.PacketID, id)
	}
	before := c.pending
	c.pending = nil
	for _, p := range before {
		if m, ok := p.(*packet.Publish); ok {
			if err := c.ack(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// disconnect sends DISCONNECT and closes.
func (c *conn) disconnect() {
	_ = c.send(&packet.Disconnect{})
	_ = c.nc.Close()
}

// drop closes the network connection without DISCONNECT.
func (c *conn) drop() {
	c.r.tr.add("%s: closing the network connection without DISCONNECT", c.name)
	_ = c.nc.Close()
}

// expectClose waits for the broker to end the connection after a packet
// it must refuse. Anything but a close within the timeout fails with the
// rule. When probe is set, a PINGREQ follows the bad packet, so that a
// broker that goes on as if nothing happened is caught by its PINGRESP
// rather than by the timeout. allow accepts packets the broker may send
// before closing (a refusing CONNACK).
func (c *conn) expectClose(rule string, probe bool, allow func(packet.Packet) bool) error {
	return c.expectCloseBad(rule, "", probe, allow)
}

// expectCloseBad is expectClose where undecodable input from the broker
// breaks badRule; "" names the rule the invalid packet itself breaks.
func (c *conn) expectCloseBad(rule, badRule string, probe bool, allow func(packet.Packet) bool) error {
	if probe {
		if err := c.send(&packet.Pingreq{}); err != nil {
			return nil // the broker already closed: the write failed
		}
	}
	for {
		p, err := c.read("the broker to close the connection")
		var ce *closedError
		var te *timeoutError
		switch {
		case errors.As(err, &ce):
			return nil
		case errors.As(err, &te):
			te.rule = rule
			return te
		case err != nil:
			var bad *badInputError
			if errors.As(err, &bad) && badRule == "" {
				return violation(bad.rule(rule), "instead of closing: %v", err)
			}
			if badRule == "" {
				badRule = rule
			}
			return violation(badRule, "instead of closing: %v", err)
		}
		if _, ok := p.(*packet.Pingresp); ok && probe {
			return violation(rule, "the broker answered the PINGREQ that followed: it went on with the connection")
		}
		if allow != nil && allow(p) {
			c.seen = append(c.seen, p)
			continue
		}
		return violation(rule, "the broker answered %v instead of closing the connection", p)
	}
}
