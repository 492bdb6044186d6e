package brokercheck

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
)

// allChecks is the suite, in the order reports list it: the interoperability
// scenarios first, then malformed input.
var allChecks = []Check{
	{Name: "interop-basic", Scenario: "basic", Rules: []string{"MQTT-3.2.2-1", "MQTT-3.3.4-1", "MQTT-3.1.0-2", "MQTT-3.1.2-1", "MQTT-7.0.0-2"},
		Summary: "QoS 0, 1 and 2 messages to the client's own subscription arrive once; a second CONNECT and protocol name \"hj\" fail", run: interopBasic},
	{Name: "interop-retained", Scenario: "retained messages", Rules: []string{"MQTT-3.3.1-6", "MQTT-3.3.1-8", "MQTT-3.3.1-10"},
		Summary: "retained messages at QoS 0, 1, 2 reach a later +/+ subscription; after empty ones, nothing does", run: interopRetained},
	{Name: "interop-offline-queueing", Scenario: "offline message queueing", Rules: []string{"MQTT-3.1.2-5", "MQTT-3.2.2-2", "MQTT-3.2.2-3"},
		Summary: "a persistent session gets the QoS 1 and 2 messages (QoS 0 optional) published while it was away", run: interopOffline},
	{Name: "interop-overlapping-subscriptions", Scenario: "overlapping subscriptions", Rules: []string{"MQTT-3.3.5-1"},
		Summary: "with T/# at QoS 2 and T/+ at QoS 1, a QoS 2 message arrives once at QoS 2, or once per subscription at QoS 2 and 1", run: interopOverlapping},
	{Name: "interop-redelivery-on-reconnect", Scenario: "redelivery on reconnect", Rules: []string{"MQTT-4.4.0-1"},
		Summary: "QoS 1 and 2 messages a persistent session left unanswered arrive again after reconnect", run: interopRedelivery},
	{Name: "interop-unsubscribe", Scenario: "unsubscribe", Rules: []string{"MQTT-3.10.4-2", "MQTT-3.10.4-4"},
		Summary: "subscribed to three topics and unsubscribed from one, a client gets the messages of the other two", run: interopUnsubscribe},
	{Name: "interop-zero-length-client-id", Scenario: "zero length client id", Rules: []string{"MQTT-3.1.3-8", "MQTT-3.1.3-6"},
		Summary: "an empty client id is refused with CleanSession=0 and accepted with CleanSession=1", run: interopZeroID},
	{Name: "connect-accepted", Rules: []string{"MQTT-3.1.4-4", "MQTT-3.2.0-1", "MQTT-3.2.2-1", "MQTT-7.1.1-1"},
		Summary: "a valid CONNECT gets CONNACK 0x00, the broker's first packet, with Session Present=0", run: connectAccepted},
	{Name: "client-id-23-characters", Rules: []string{"MQTT-3.1.3-5"},
		Summary: "a client id of 23 letters and digits is accepted", run: clientID23},
	{Name: "session-takeover", Rules: []string{"MQTT-3.1.4-2"},
		Summary: "a second connection with the same client id closes the first", run: sessionTakeover},
	{Name: "refused-connect-ignores-rest", Rules: []string{"MQTT-3.1.4-5"},
		Summary: "after a refused CONNECT, a PUBLISH and PINGREQ in the same write get no answer", run: refusedConnectIgnoresRest},
	{Name: "sessions-keyed-by-client-id", Rules: []string{"MQTT-3.1.3-2"},
		Summary: "a persistent session's queued message does not go to another client id", run: sessionsByID},
	{Name: "publish-subscribe-qos0", Rules: []string{"MQTT-3.3.4-1", "MQTT-3.8.4-1", "MQTT-3.8.4-2", "MQTT-3.3.2-3",
		"MQTT-2.3.1-5", "MQTT-3.3.1-2", "MQTT-4.3.1-1", "MQTT-3.8.3-2", "MQTT-2.2.2-1"},
		Summary: "a QoS 0 message reaches a subscriber at QoS 0", run: pubSub(0)},
	{Name: "publish-subscribe-qos1", Rules: []string{"MQTT-3.3.4-1", "MQTT-4.3.2-2", "MQTT-2.3.1-6", "MQTT-3.8.4-6",
		"MQTT-2.3.1-1", "MQTT-4.3.2-1", "MQTT-4.1.0-2"},
		Summary: "a QoS 1 message is acknowledged by PUBACK and reaches a subscriber at QoS 1", run: pubSub(1)},
	{Name: "publish-subscribe-qos2", Rules: []string{"MQTT-3.3.4-1", "MQTT-4.3.3-2", "MQTT-2.3.1-6", "MQTT-3.8.4-6",
		"MQTT-4.3.3-1"},
		Summary: "a QoS 2 message completes PUBREC/PUBREL/PUBCOMP both ways and arrives once", run: pubSub(2)},
	{Name: "qos-downgrade", Rules: []string{"MQTT-3.8.4-6"},
		Summary: "a QoS 2 message to a QoS 1 subscription arrives at QoS 1", run: qosDowngrade},
	{Name: "retained", Rules: []string{"MQTT-3.3.1-5", "MQTT-3.3.1-6", "MQTT-3.3.1-8", "MQTT-3.3.1-9", "MQTT-3.1.2-7"},
		Summary: "a retained message goes to a later subscriber with RETAIN=1, to an existing one with RETAIN=0", run: retained},
	{Name: "retained-delete", Rules: []string{"MQTT-3.3.1-10", "MQTT-3.3.1-11"},
		Summary: "an empty retained message is forwarded and clears the topic's retained message", run: retainedDelete},
	{Name: "offline-queue", Rules: []string{"MQTT-3.1.2-4", "MQTT-3.1.2-5", "MQTT-3.2.2-2", "MQTT-3.1.4-3", "MQTT-4.1.0-1"},
		Summary: "a persistent session gets the QoS 1 messages published while it was offline", run: offlineQueue},
	{Name: "clean-session", Rules: []string{"MQTT-3.1.2-6", "MQTT-3.2.2-1"},
		Summary: "CleanSession=1 throws the stored session away: no session present, no queued messages", run: cleanSession},
	{Name: "overlapping-subscriptions", Rules: []string{"MQTT-3.3.5-1"},
		Summary: "with overlapping subscriptions at QoS 0 and 2 (in both orders), a QoS 2 message arrives at QoS 2", run: overlapping},
	{Name: "keepalive-will", Scenario: "keepalive", Rules: []string{"MQTT-3.1.2-24", "MQTT-3.1.2-8"}, keepAlive: true,
		Summary: "a silent client is cut after 1.5 x keep-alive (and the slack) and its will is published", run: keepAliveWill},
	{Name: "will-discarded-on-disconnect", Rules: []string{"MQTT-3.14.4-3", "MQTT-3.1.2-10"},
		Summary: "a DISCONNECT removes the will: it is not published", run: willDiscarded},
	{Name: "redelivery-on-reconnect", Rules: []string{"MQTT-4.4.0-1", "MQTT-3.3.1-1", "MQTT-4.1.0-1"},
		Summary: "an unacknowledged QoS 1 message is sent again with DUP=1 and the same id after reconnect", run: redeliveryQoS1},
	{Name: "pubrel-redelivery-on-reconnect", Rules: []string{"MQTT-4.4.0-1"},
		Summary: "a PUBREL not answered by PUBCOMP is sent again with the same id after reconnect", run: redeliveryPubrel},
	{Name: "subscribe-refused", Scenario: "subscribe failure", Rules: []string{"MQTT-3.8.4-5", "MQTT-3.9.3-1", "MQTT-3.9.3-2"},
		Summary: "a filter the broker is set to refuse gets 0x80, the others their QoS, in order", run: subscribeRefused},
	{Name: "dollar-topics", Scenario: "$ topics", Rules: []string{"MQTT-4.7.2-1"},
		Summary: "filters starting with # or + do not match topics starting with $", run: dollarTopics},
	{Name: "unsubscribe", Rules: []string{"MQTT-3.10.4-2", "MQTT-3.10.4-4", "MQTT-3.10.4-5"},
		Summary: "after UNSUBACK nothing more arrives; UNSUBSCRIBE of an unknown filter is answered too", run: unsubscribe},
	{Name: "zero-length-client-id", Rules: []string{"MQTT-3.1.3-6"},
		Summary: "an empty client id with CleanSession=1 is accepted (or refused with 0x02)", run: zeroIDClean},
	{Name: "zero-length-client-id-persistent", Rules: []string{"MQTT-3.1.3-8", "MQTT-3.1.3-9", "MQTT-3.2.2-4", "MQTT-3.2.2-5"},
		Summary: "an empty client id with CleanSession=0 gets CONNACK 0x02 and a close", run: zeroIDPersistent},
	{Name: "pingreq", Rules: []string{"MQTT-3.12.4-1"},
		Summary: "a PINGREQ is answered by PINGRESP", run: pingreq},
	{Name: "utf8-bom-kept", Rules: []string{"MQTT-1.5.3-3"},
		Summary: "a topic with EF BB BF (U+FEFF) is matched and delivered with those bytes", run: bomKept},
	{Name: "server-packet-ids", Rules: []string{"MQTT-2.3.1-4", "MQTT-4.3.2-1"},
		Summary: "three unacknowledged QoS 1 deliveries carry three packet ids, DUP=0", run: serverPacketIDs},
	{Name: "packet-ids-echoed", Rules: []string{"MQTT-2.3.1-7", "MQTT-3.8.4-2", "MQTT-3.10.4-4"},
		Summary: "SUBACK and UNSUBACK carry the ids 0xfffe and 0x1234 of their requests", run: idsEchoed},
	{Name: "dup-not-forwarded", Rules: []string{"MQTT-3.3.1-3"},
		Summary: "a PUBLISH sent with DUP=1 is forwarded with DUP=0", run: dupNotForwarded},
	{Name: "retained-qos0-replaces", Rules: []string{"MQTT-3.3.1-7"},
		Summary: "a retained QoS 0 message replaces the topic's retained message", run: retainedQoS0Replaces},
	{Name: "non-retained-keeps-retained", Rules: []string{"MQTT-3.3.1-12"},
		Summary: "a message with RETAIN=0 leaves the topic's retained message alone", run: nonRetainedKeepsRetained},
	{Name: "will-on-network-close", Rules: []string{"MQTT-3.1.2-8", "MQTT-3.1.2-16"},
		Summary: "a connection closed without DISCONNECT publishes its will, not retained with Will Retain=0", run: willNotRetained},
	{Name: "will-retained", Rules: []string{"MQTT-3.1.2-17"},
		Summary: "a will with Will Retain=1 is published as a retained message", run: willRetained},
	{Name: "resubscribe", Rules: []string{"MQTT-3.8.4-3"},
		Summary: "subscribing again replaces the subscription's QoS and re-sends the retained message", run: resubscribe},
	{Name: "subscribe-multiple", Rules: []string{"MQTT-3.8.4-4", "MQTT-3.9.3-1"},
		Summary: "one SUBSCRIBE with three filters works like three", run: subscribeMultiple},
	{Name: "unsubscribe-literal", Rules: []string{"MQTT-3.10.4-1"},
		Summary: "UNSUBSCRIBE of a topic that a subscribed filter matches removes nothing", run: unsubscribeLiteral},
	{Name: "unsubscribe-completes-inflight", Rules: []string{"MQTT-3.10.4-3"},
		Summary: "a QoS 2 delivery under way when its subscription goes is completed", run: unsubscribeInflight},
	{Name: "unsubscribe-multiple", Rules: []string{"MQTT-3.10.4-6"},
		Summary: "one UNSUBSCRIBE with two filters removes both", run: unsubscribeMultiple},
	{Name: "qos2-duplicate-delivered-once", Rules: []string{"MQTT-4.3.3-2"},
		Summary: "a QoS 2 PUBLISH sent again before PUBREL is delivered once", run: qos2DuplicateOnce},
	{Name: "fan-out", Rules: []string{"MQTT-4.5.0-1"},
		Summary: "a message reaches every client with a matching subscription", run: fanout},
	{Name: "ordering", Rules: []string{"MQTT-4.6.0-6"},
		Summary: "ten messages from one publisher on one topic arrive in order: all ten at QoS 1 and 2, those that arrive at QoS 0", run: ordering},
	{Name: "topic-no-normalisation", Rules: []string{"MQTT-4.7.3-4"},
		Summary: "a filter with U+00E9 does not match a topic with e and U+0301", run: noNormalisation},
	{Name: "websocket-framing", Rules: []string{"MQTT-6.0.0-2", "MQTT-6.0.0-4"},
		Summary: "over WebSocket: a CONNECT split over frames and two packets in a frame are read", run: websocketFrames},

	{Name: "second-connect", Rules: []string{"MQTT-3.1.0-2"},
		Summary: "a second CONNECT on a connection makes the broker close it", run: secondConnect},
	{Name: "bad-protocol-name", Rules: []string{"MQTT-3.1.2-1"},
		Summary: "a CONNECT with protocol name \"MQTX\" is not accepted as MQTT 3.1.1", run: badProtocolName},
	{Name: "bad-protocol-level", Rules: []string{"MQTT-3.1.2-2"},
		Summary: "a CONNECT with protocol level 6 gets CONNACK 0x01 and a close", run: badProtocolLevel},
	{Name: "connect-reserved-flag", Rules: []string{"MQTT-3.1.2-3", "MQTT-3.1.4-1"},
		Summary: "a CONNECT with the reserved flag set makes the broker close without CONNACK", run: connectReserved},
	{Name: "reserved-flags-subscribe", Rules: []string{"MQTT-2.2.2-2", "MQTT-3.8.1-1"},
		Summary: "a SUBSCRIBE with fixed-header flags 0000 makes the broker close", run: reservedFlags(packet.TypeSubscribe, 0x0)},
	{Name: "reserved-flags-unsubscribe", Rules: []string{"MQTT-2.2.2-2", "MQTT-3.10.1-1"},
		Summary: "an UNSUBSCRIBE with fixed-header flags 0000 makes the broker close", run: reservedFlags(packet.TypeUnsubscribe, 0x0)},
	{Name: "reserved-flags-pingreq", Rules: []string{"MQTT-2.2.2-2"},
		Summary: "a PINGREQ with fixed-header flags 0001 makes the broker close", run: reservedFlags(packet.TypePingreq, 0x1)},
	{Name: "reserved-flags-pubrel", Rules: []string{"MQTT-2.2.2-2", "MQTT-3.6.1-1"},
		Summary: "a PUBREL with fixed-header flags 0000 makes the broker close", run: reservedFlagsPubrel},
	{Name: "remaining-length-5-bytes", Rules: []string{"MQTT-4.8.0-1"},
		Summary: "a remaining length of more than four bytes makes the broker close", run: remainingLength5},
	{Name: "publish-qos3", Rules: []string{"MQTT-3.3.1-4"},
		Summary: "a PUBLISH with QoS 3 makes the broker close", run: publishQoS3},
	{Name: "subscribe-empty", Rules: []string{"MQTT-3.8.3-3", "MQTT-4.8.0-1"},
		Summary: "a SUBSCRIBE without a filter makes the broker close", run: subscribeEmpty},
	{Name: "subscribe-qos3", Rules: []string{"MQTT-3.8.3-4"},
		Summary: "a SUBSCRIBE asking for QoS 3 makes the broker close", run: subscribeQoS3},
	{Name: "topic-invalid-utf8", Rules: []string{"MQTT-1.5.3-1", "MQTT-3.3.2-1"},
		Summary: "a PUBLISH topic with invalid UTF-8 (ff fe) makes the broker close", run: topicInvalidUTF8},
	{Name: "topic-surrogate", Rules: []string{"MQTT-1.5.3-1"},
		Summary: "a PUBLISH topic with an encoded surrogate (ed a0 80) makes the broker close", run: topicSurrogate},
	{Name: "topic-null-char", Rules: []string{"MQTT-1.5.3-2", "MQTT-4.7.3-2"},
		Summary: "a PUBLISH topic with U+0000 makes the broker close", run: topicNull},
	{Name: "publish-topic-wildcard", Rules: []string{"MQTT-3.3.2-2", "MQTT-4.7.1-1"},
		Summary: "a PUBLISH to a topic with + or # makes the broker close", run: publishWildcard},
	{Name: "publish-empty-topic", Rules: []string{"MQTT-4.7.3-1"},
		Summary: "a PUBLISH with an empty topic makes the broker close", run: publishEmptyTopic},
	{Name: "subscribe-invalid-filters", Rules: []string{"MQTT-4.7.1-2", "MQTT-4.7.1-3", "MQTT-4.7.3-1"},
		Summary: "filters x/#/y, a#, a+ and the empty one are refused (0x80) or close the connection", run: invalidFilters},
	{Name: "reserved-flags-disconnect", Rules: []string{"MQTT-3.14.1-1"},
		Summary: "a DISCONNECT with fixed-header flags 0001 makes the broker close", run: disconnectReserved},
	{Name: "publish-packet-id-zero", Rules: []string{"MQTT-2.3.1-1"},
		Summary: "a QoS 1 PUBLISH with packet id 0 makes the broker close", run: publishIDZero},
}

// must turns a failure that is not already a violation (a timeout, an
// unexpected packet, a closed connection) into a violation of rule.
//
// A timeout stays a timeout: it gets rule as the statement it waited on.
func must(rule string, err error) error {
	var te *timeoutError
	if errors.As(err, &te) {
		if te.rule == "" {
			te.rule = rule
		}
		return err
	}
	var (
		ve *ViolationError
		se *skipError
		de *DialError
		su *setupError
	)
	if err == nil || errors.As(err, &ve) || errors.As(err, &se) || errors.As(err, &de) || errors.As(err, &su) {
		return err
	}
	return &ViolationError{Rule: rule, Reason: err.Error()}
}

func pubSub(qos packet.QoS) func(r *run) error {
	return func(r *run) error {
		topic := r.topic("t")
		sub, _, err := r.session("sub", r.id("s"), true)
		if err != nil {
			return err
		}
		if err := sub.subscribeOK(1, packet.Subscription{Filter: r.topic("+"), QoS: qos}); err != nil {
			return must("MQTT-3.8.4-1", err)
		}
		pub, err := r.publisher()
		if err != nil {
			return err
		}
		payload := []byte(fmt.Sprintf("qos %d", qos))
		var id uint16
		if qos > 0 {
			id = 7
		}
		if err := pub.publish(&packet.Publish{QoS: qos, Topic: topic, PacketID: id, Payload: payload}); err != nil {
			return must("MQTT-3.3.4-1", err)
		}
		m, err := sub.receive("the message")
		if err != nil {
			return must("MQTT-3.3.2-3", err)
		}
		if m.Topic != topic || !bytes.Equal(m.Payload, payload) {
			return violation("MQTT-3.3.2-3", "got topic %q payload %q, published %q %q", m.Topic, m.Payload, topic, payload)
		}
		if m.QoS != qos {
			return violation("MQTT-3.8.4-6", "message arrived at QoS %d; published and granted QoS %d", m.QoS, qos)
		}
		if m.Dup {
			return violation(map[packet.QoS]string{1: "MQTT-4.3.2-1", 2: "MQTT-4.3.3-1"}[qos], "the first delivery carries DUP=1")
		}
		if err := sub.ack(m); err != nil {
			return must("MQTT-4.3.3-1", err)
		}
		extra, err := sub.fence()
		if err != nil {
			return must("MQTT-3.12.4-1", err)
		}
		if len(extra) > 0 {
			return violation("MQTT-4.3.3-2", "the message arrived again after its flow was complete: %v", extra[0])
		}
		pub.disconnect()
		sub.disconnect()
		return nil
	}
}

func qosDowngrade(r *run) error {
	sub, err := r.subscribed("sub", r.id("s"), true, packet.Subscription{Filter: r.topic("t"), QoS: 1})
	if err != nil {
		return err
	}
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 2, Topic: r.topic("t"), PacketID: 9, Payload: []byte("x")}); err != nil {
		return err
	}
	m, err := sub.receive("the message")
	if err != nil {
		return must("MQTT-3.8.4-6", err)
	}
	if m.QoS != 1 {
		return violation("MQTT-3.8.4-6", "a QoS 2 message on a QoS 1 subscription arrived at QoS %d", m.QoS)
	}
	return sub.ack(m)
}

func retained(r *run) error {
	topic := r.topic("r")
	live, err := r.subscribed("live", r.id("l"), true, packet.Subscription{Filter: topic, QoS: 1})
	if err != nil {
		return err
	}
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	defer func() { _ = pub.publish(&packet.Publish{Retain: true, Topic: topic}) }() // leave nothing behind
	if err := pub.publish(&packet.Publish{QoS: 1, Retain: true, Topic: topic, PacketID: 1, Payload: []byte("kept")}); err != nil {
		return err
	}
	m, err := live.receive("the retained message, forwarded live")
	if err != nil {
		return must("MQTT-3.3.1-9", err)
	}
	if m.Retain {
		return violation("MQTT-3.3.1-9", "a message forwarded to an existing subscription carries RETAIN=1")
	}
	if err := live.ack(m); err != nil {
		return err
	}
	later, err := r.subscribed("later", r.id("n"), true, packet.Subscription{Filter: r.topic("#"), QoS: 1})
	if err != nil {
		return err
	}
	m, err = later.receive("the retained message")
	if err != nil {
		return must("MQTT-3.3.1-6", err)
	}
	if !bytes.Equal(m.Payload, []byte("kept")) || m.Topic != topic {
		return violation("MQTT-3.3.1-6", "a new subscription got %v, not the retained message", m)
	}
	if !m.Retain {
		return violation("MQTT-3.3.1-8", "the retained message sent to a new subscription carries RETAIN=0")
	}
	if m.QoS != 1 {
		return violation("MQTT-3.3.1-5", "the retained message lost its QoS: QoS %d, stored at QoS 1", m.QoS)
	}
	return later.ack(m)
}

func retainedDelete(r *run) error {
	topic := r.topic("r")
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Retain: true, Topic: topic, PacketID: 1, Payload: []byte("old")}); err != nil {
		return err
	}
	live, err := r.subscribed("live", r.id("l"), true, packet.Subscription{Filter: topic, QoS: 1})
	if err != nil {
		return err
	}
	m, err := live.receive("the retained message")
	if err != nil {
		return must("MQTT-3.3.1-6", err)
	}
	if err := live.ack(m); err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Retain: true, Topic: topic, PacketID: 2}); err != nil {
		return err
	}
	m, err = live.receive("the empty retained message, forwarded")
	if err != nil {
		return must("MQTT-3.3.1-10", err)
	}
	if len(m.Payload) != 0 {
		return violation("MQTT-3.3.1-10", "forwarded %v, want the empty message", m)
	}
	if err := live.ack(m); err != nil {
		return err
	}
	later, err := r.subscribed("later", r.id("n"), true, packet.Subscription{Filter: topic, QoS: 1})
	if err != nil {
		return err
	}
	got, err := later.fence()
	if err != nil {
		return err
	}
	if len(got) > 0 {
		return violation("MQTT-3.3.1-11", "after an empty retained message, a new subscription still got %v", got[0])
	}
	return nil
}

// queueWhileAway gives client id a persistent session subscribed to
// r.topic("q") at QoS 1, leaves, and has another client publish payload
// there at QoS 1 while id is away; it returns that publisher. The caller
// forgets the session.
func queueWhileAway(r *run, id, payload string) (*conn, error) {
	sub, _, err := r.session("sub", id, false)
	if err != nil {
		return nil, err
	}
	if err := sub.subscribeOK(1, packet.Subscription{Filter: r.topic("q"), QoS: 1}); err != nil {
		return nil, err
	}
	sub.disconnect()
	pub, err := r.publisher()
	if err != nil {
		return nil, err
	}
	return pub, pub.publish(&packet.Publish{QoS: 1, Topic: r.topic("q"), PacketID: 3, Payload: []byte(payload)})
}

func offlineQueue(r *run) error {
	id := r.id("o")
	defer r.forget(id)
	if _, err := queueWhileAway(r, id, "while away"); err != nil {
		return err
	}
	back, ack, err := r.session("sub-again", id, false)
	if err != nil {
		return err
	}
	if !ack.SessionPresent {
		return violation("MQTT-3.2.2-2", "CONNACK Session Present=0 for a stored session")
	}
	m, err := back.receive("the message queued while offline")
	if err != nil {
		return must("MQTT-3.1.2-5", err)
	}
	if string(m.Payload) != "while away" || m.QoS != 1 {
		return violation("MQTT-3.1.2-5", "got %v, want the queued QoS 1 message", m)
	}
	return back.ack(m)
}

// forget removes the persistent session of client id from the broker.
func (r *run) forget(id string) {
	c, _, err := r.session("cleanup", id, true)
	if err == nil {
		c.disconnect()
	}
}

func cleanSession(r *run) error {
	id := r.id("c")
	defer r.forget(id)
	pub, err := queueWhileAway(r, id, "queued")
	if err != nil {
		return err
	}
	back, ack, err := r.session("clean", id, true)
	if err != nil {
		return err
	}
	if ack.SessionPresent {
		return violation("MQTT-3.2.2-1", "CONNACK Session Present=1 for CleanSession=1")
	}
	got, err := back.fence()
	if err != nil {
		return err
	}
	if len(got) > 0 {
		return violation("MQTT-3.1.2-6", "a clean session got %v from the discarded session", got[0])
	}
	// The subscription went with the session: a new message is not routed.
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: r.topic("q"), PacketID: 4, Payload: []byte("new")}); err != nil {
		return err
	}
	routed, err := back.markerFence(pub, r.topic("fence"), 900)
	if err != nil {
		return err
	}
	if len(routed) > 0 {
		return violation("MQTT-3.1.2-6", "a clean session got %v through a subscription of the discarded session", routed[0])
	}
	return nil
}

func overlapping(r *run) error {
	// Both orders: a broker that takes the QoS of whichever subscription
	// it meets last passes one of them.
	for i, qos := range [][2]packet.QoS{{0, 2}, {2, 0}} {
		if err := overlappingOnce(r, fmt.Sprint("o", i), qos); err != nil {
			return err
		}
	}
	return nil
}

// overlappingOnce subscribes one client to base/# at qos[0] and base/+ at
// qos[1], publishes at QoS 2 to base/b and checks that a copy arrives at
// the higher of the two.
func overlappingOnce(r *run, base string, qos [2]packet.QoS) error {
	sub, err := r.subscribed("sub-"+base, r.id("s"+base), true,
		packet.Subscription{Filter: r.topic(base + "/#"), QoS: qos[0]},
		packet.Subscription{Filter: r.topic(base + "/+"), QoS: qos[1]})
	if err != nil {
		return err
	}
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	topic := r.topic(base + "/b")
	if err := pub.publish(&packet.Publish{QoS: 2, Topic: topic, PacketID: 5, Payload: []byte("x")}); err != nil {
		return err
	}
	msgs, err := sub.receiveUntil("the message", func(m []*packet.Publish) bool { return len(m) == 1 })
	if err != nil {
		return must("MQTT-3.3.5-1", err)
	}
	more, err := sub.markerFence(pub, r.topic(base+"-marker"), 900)
	if err != nil {
		return err
	}
	msgs = append(msgs, more...)
	best := packet.QoS(0)
	for _, m := range msgs {
		best = max(best, m.QoS)
	}
	if best != 2 {
		return violation("MQTT-3.3.5-1", "subscribed to %s/# at QoS %d and %s/+ at QoS %d: %d cop(ies) arrived, the highest at QoS %d; want one at QoS 2",
			base, qos[0], base, qos[1], len(msgs), best)
	}
	pub.disconnect()
	sub.disconnect()
	return nil
}

func keepAliveWill(r *run) error {
	willTopic := r.topic("will")
	watch, err := r.subscribed("watch", r.id("w"), true, packet.Subscription{Filter: willTopic, QoS: 1})
	if err != nil {
		return err
	}
	victim, err := r.dial("silent")
	if err != nil {
		return err
	}
	ka := r.cfg.KeepAlive
	p := r.newConnect(r.id("v"), true)
	p.KeepAlive = ka
	p.WillFlag, p.WillQoS, p.WillTopic, p.WillMessage = true, 1, willTopic, []byte("gone")
	// The keep-alive period runs from the client's last packet, the
	// CONNECT: start the clock before it is sent, not after the CONNACK.
	start := time.Now()
	ack, err := victim.connect(p)
	if err != nil {
		return err
	}
	if ack.ReturnCode != packet.Accepted {
		return &setupError{"CONNACK " + ack.ReturnCode.String()}
	}
	p2, err := victim.read("the broker to close a silent connection")
	switch {
	case err == nil:
		return violation("MQTT-3.1.2-24", "the broker sent %v to a silent client instead of closing the connection", p2)
	case !isClosedErr(err):
		return must("MQTT-3.1.2-24", err)
	}
	took := time.Since(start)
	if took < time.Duration(ka)*time.Second {
		return violation("MQTT-3.1.2-24", "the broker cut the connection after %v, before the keep-alive of %d s ran out", took.Round(time.Millisecond), ka)
	}
	m, err := watch.receive("the will")
	if err != nil {
		return must("MQTT-3.1.2-8", err)
	}
	if string(m.Payload) != "gone" || m.Topic != willTopic {
		return violation("MQTT-3.1.2-8", "got %v, want the will", m)
	}
	return watch.ack(m)
}

func willDiscarded(r *run) error {
	willTopic := r.topic("will")
	watch, err := r.subscribed("watch", r.id("w"), true, packet.Subscription{Filter: willTopic, QoS: 1})
	if err != nil {
		return err
	}
	leaver, err := r.dial("leaver")
	if err != nil {
		return err
	}
	p := r.newConnect(r.id("v"), true)
	p.WillFlag, p.WillQoS, p.WillTopic, p.WillMessage = true, 1, willTopic, []byte("will")
	if _, err := leaver.connect(p); err != nil {
		return err
	}
	leaver.disconnect()
	// A marker on the same topic from another client: the will, if the
	// broker wrongly published it, was published before the marker.
	pub, err := r.publisher()
	if err != nil {
		return err
	}
	if err := pub.publish(&packet.Publish{QoS: 1, Topic: willTopic, PacketID: 1, Payload: []byte("marker")}); err != nil {
		return err
	}
	m, err := watch.receive("the marker")
	if err != nil {
		return err
	}
	if string(m.Payload) != "marker" {
		return violation("MQTT-3.14.4-3", "the will was published after a DISCONNECT: %v", m)
	}
	return nil
}

// deliverToPersistent gives client id a persistent session subscribed to
// r.topic("t") at qos, has another client publish payload there at qos, and
// returns the subscriber with the PUBLISH it received, not yet answered. The
// caller forgets the session.
