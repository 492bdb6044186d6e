package client

import (
	"context"
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
