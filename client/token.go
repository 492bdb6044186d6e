package client

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
)

// Token tracks an asynchronous publish. It completes once: for QoS 0 when
// the message was written, for QoS 1 at its PUBACK and for QoS 2 at its
// PUBCOMP, never earlier; or when the publish fails. It is safe for
// concurrent use.
type Token struct {
	done  chan struct{}
	err   error         // written once before done is closed
	id    atomic.Uint32 // the packet id, once assigned
	msgID atomic.Uint64 // the session's MsgID, once accepted
	topic string        // for OnDeliveryComplete
	qos   packet.QoS
}

func newToken() *Token { return &Token{done: make(chan struct{})} }

// Done returns a channel that is closed when the token completes.
func (t *Token) Done() <-chan struct{} { return t.done }

// Wait waits for the token to complete or ctx to end. It returns the
// token's error, or the context's error when ctx ended first (the publish
// goes on; Wait can be called again).
func (t *Token) Wait(ctx context.Context) error {
	select {
	case <-t.done:
		return t.err
	case <-ctx.Done():
		select {
		case <-t.done: // both ready: the result wins
			return t.err
		default:
		}
		return context.Cause(ctx)
	}
}

// Err returns nil while the token is pending or after success, and the
// error of a failed publish.
func (t *Token) Err() error {
	select {
	case <-t.done:
		return t.err
	default:
		return nil
	}
}

// MessageID returns the packet identifier of the publish, 0 for QoS 0 or
// while the message has not been given one (it waits in the offline buffer
// or behind a full in-flight window).
func (t *Token) MessageID() uint16 { return uint16(t.id.Load()) }

// complete finishes the token. Only the owner of the session state calls
// it (the loop, or a caller holding Client.mu while no loop runs); a second
// call does nothing.
//
// It is not inlined: it is called from a dozen places, and the constrained
// build counts every copy (client.TestMinimalBinarySize).
//
//go:noinline
func (t *Token) complete(err error) {
	select {
	case <-t.done:
		return
	default:
	}
	t.err = err
	close(t.done)
}

// Message is an application message received from the server.
type Message struct {
	Topic     string
	Payload   []byte
	QoS       packet.QoS
	Retain    bool
	Duplicate bool   // the server may have sent it before (DUP)
	MessageID uint16 // the packet id; 0 for QoS 0

	ackID session.AckID // 0 when there is nothing to acknowledge
	owner *Client
	acked atomic.Bool
}

// Ack acknowledges the message when Options.ManualAcks is set: PUBACK for
// QoS 1, PUBCOMP for QoS 2. The ack leaves after the acks of every message
// that arrived before it, so acking out of order only delays it. Ack is
// idempotent, does nothing for QoS 0 or without ManualAcks, and is safe to
// call from any goroutine, also after the connection was lost (the ack is
// then dropped: the server will send the message again).
func (m *Message) Ack() {
	if m.ackID != 0 && m.acked.CompareAndSwap(false, true) {
		m.owner.post(request{kind: reqAck, ack: m.ackID})
	}
}

// The token table (Paho's CommsTokenStore) is the session's: every
// outbound message carries its *Token as the session's tag, and every
// subscribe and unsubscribe its *ctlOp, from the call to the completion
// event, so the client keeps no second map.

// ctlOp is a subscribe or unsubscribe waiting for its completion event:
// the session's tag for it.
type ctlOp struct {
	unsub bool
	subs  []Subscription // for an unsubscribe, the filters with QoS 0
	reply chan opResult  // capacity 1; nil for a re-subscribe after a lost session
}

type opResult struct {
	codes []packet.SubackCode
	err   error
}

// assignID gives the token a PUBLISH was tagged with its packet id pid, as
// the PUBLISH goes out.
func assignID(tag any, pid uint16) {
	if tok, _ := tag.(*Token); tok != nil {
		tok.id.Store(uint32(pid))
	}
}

func isDone(t *Token) bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// publishErr turns the error of a publish's completion into the client's.
func publishErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, session.ErrBufferDropped):
		return ErrOfflineMessageDropped
	}
	return err
}

// complete acts on a completion event: it completes the token or answers
// the subscribe or unsubscribe the event's tag names. writeErr fails the
// QoS 0 publishes that completed with the flush it broke. The error is a
// protocol violation the event showed.
func (m *comms) complete(ev session.Event, writeErr error) error {
	switch op := ev.Tag.(type) {
	case *Token:
		err := publishErr(ev.Err)
		if err == nil && op.qos == packet.QoS0 && writeErr != nil {
			err = &ConnectionLostError{Server: m.server, Err: writeErr}
		}
		if err != nil && errors.Is(err, session.ErrSessionCleared) {
			err = &ConnectionLostError{Server: m.server, Err: err}
		}
		if isDone(op) { // failed already, at a clean session's loss
			return nil
		}
		op.complete(err)
		if f := m.c.opts.OnDeliveryComplete; f != nil && err == nil {
			d := Delivery{Topic: op.topic, QoS: op.qos, MessageID: op.MessageID()}
			m.emit(event{cb: func() { f(d) }})
		}
	case *ctlOp:
		if op.unsub {
			m.unsubscribed(op, ev)
			return nil
		}
		return m.subscribed(op, ev)
	}
	return nil
}

// subscribed completes a subscribe: the SUBACK's codes, the routes of the
// refused filters removed, the subscriptions remembered for a re-subscribe.
// The error is a SUBACK that does not match the SUBSCRIBE: it ends the
// connection [MQTT-4.8.0-1].
func (m *comms) subscribed(op *ctlOp, ev session.Event) error {
	res := opResult{err: ev.Err}
	var violation error
	if sa, ok := ev.Reply.(*packet.Suback); ok && ev.Err == nil {
		res.codes = append([]packet.SubackCode(nil), sa.ReturnCodes...)
		for i, s := range op.subs {
			if i < len(res.codes) && res.codes[i].Failed() {
				if op.reply != nil {
					m.c.router.remove(s.Filter)
				}
				m.forgetSub(s.Filter)
				continue
			}
			m.rememberSub(s)
		}
	} else if ev.Err != nil && errors.Is(ev.Err, session.ErrSubackCount) {
		violation = &ViolationError{Packet: packet.TypeSuback, Reason: "return codes do not match the filters"}
		res.err = violation
	}
	if op.reply != nil {
		op.reply <- res
		return violation
	}
	if ev.Err == nil {
		for i, code := range res.codes {
			if code.Failed() && i < len(op.subs) {
				m.c.log.Warn("mqtt: re-subscribe refused", "filter", op.subs[i].Filter)
			}
		}
	}
	return violation
}

// unsubscribed completes an unsubscribe: its routes and remembered
// subscriptions go once the server confirms.
func (m *comms) unsubscribed(op *ctlOp, ev session.Event) {
	if ev.Err == nil {
		for _, s := range op.subs {
			m.c.router.remove(s.Filter)
			m.forgetSub(s.Filter)
		}
	}
	if op.reply != nil {
		op.reply <- opResult{err: ev.Err}
	}
}

func (m *comms) rememberSub(s Subscription) {
	for i := range m.own.subs {
		if m.own.subs[i].Filter == s.Filter {
			m.own.subs[i].QoS = s.QoS
			return
		}
	}
	m.own.subs = append(m.own.subs, s)
}

func (m *comms) forgetSub(filter string) {
	for i := range m.own.subs {
		if m.own.subs[i].Filter == filter {
			m.own.subs = append(m.own.subs[:i], m.own.subs[i+1:]...)
			return
		}
	}
}
