package client

import (
	"context"
	"errors"
	"time"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
)

// PublishAsync publishes a message and returns its token. The message is
// sent when the connection and the in-flight window allow, or kept in the
// offline buffer while disconnected (Options.OfflineBuffer). The token
// completes at the final ack of its QoS.
//
// With a store that outlives the process (anything but a store.Memory), a
// QoS 1 or 2 message (and, with PersistOfflineBuffer, a QoS 0 message
// while disconnected) is in the store before PublishAsync returns, so a
// crash of the process after it returned loses nothing; with a store that
// syncs (store.Syncer: the file store unless FileOptions.NoSync), it has
// also reached stable storage, so a power loss loses nothing either.
// PublishAsync then returns after a write and, if the store syncs, the
// store's next group commit; concurrent publishers share it.
//
// The client keeps payload until the token completes: do not modify it
// until then.
func (c *Client) PublishAsync(topic string, qos packet.QoS, retain bool, payload []byte) *Token {
	t := newToken()
	if err := checkPublish(topic, qos); err != nil {
		t.complete(err)
		return t
	}
	t.topic, t.qos = topic, qos
	msg := session.Message{Topic: topic, Payload: payload, QoS: qos, Retain: retain, Tag: t}
	c.staging.RLock()
	defer c.staging.RUnlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		t.complete(ErrClosed)
		return t
	}
	if !c.running {
		// No state owner: the session is ours under mu; it is
		// disconnected, so the message goes to the offline buffer (which
		// writes it to the store) or is refused.
		c.publishIdleLocked(t, msg)
		c.mu.Unlock()
		if c.syncer != nil && !isDone(t) { // a store.Memory has no Sync
			if err := c.syncer.Sync(); err != nil {
				c.log.Warn("mqtt: syncing the persistence store", "err", err)
			}
		}
		return t
	}
	if c.disconnecting {
		c.mu.Unlock()
		t.complete(ErrNotConnected) // Disconnect takes no new work
		return t
	}
	stage := c.durable && (qos != packet.QoS0 || (c.opts.PersistOfflineBuffer && !c.online))
	if !stage {
		c.postLocked(request{kind: reqPublish, msg: msg, tok: t})
		c.mu.Unlock()
		return t
	}
	c.mu.Unlock()

	// Stage the message on this goroutine, so that it is durable before
	// PublishAsync returns; the state owner takes the record over.
	seq, err := c.own.sess.Stage(msg)
	if err != nil {
		t.complete(mapSessionErr(err))
		return t
	}
	if c.syncer != nil {
		if err := c.syncer.Sync(); err != nil {
			_ = c.own.sess.Unstage(seq)
			t.complete(errwrap.Wrap("mqtt: syncing the persistence store", err))
			return t
		}
	}
	msg.Seq = seq
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		_ = c.own.sess.Unstage(seq) // the store is still open: Close waits for staging
		t.complete(ErrClosed)
	case !c.running:
		c.publishIdleLocked(t, msg)
		c.mu.Unlock()
	case c.disconnecting:
		c.mu.Unlock()
		_ = c.own.sess.Unstage(seq)
		t.complete(ErrNotConnected)
	default:
		c.postLocked(request{kind: reqPublish, msg: msg, tok: t})
		c.mu.Unlock()
	}
	return t
}

// publishIdleLocked hands msg to the session while no state owner runs.
func (c *Client) publishIdleLocked(t *Token, msg session.Message) {
	id, err := c.own.sess.Publish(time.Now(), msg)
	if err != nil {
		t.complete(mapSessionErr(err))
	} else {
		t.msgID.Store(uint64(id))
	}
	c.drainIdleLocked()
}

// Publish publishes a message and waits until its QoS flow is complete:
// written (QoS 0), PUBACK (QoS 1) or PUBCOMP (QoS 2). When ctx ends first,
// a message that still waits (for the window or in the offline buffer) is
// withdrawn; one already sent carries on, and Publish returns the context's
// error either way.
func (c *Client) Publish(ctx context.Context, topic string, qos packet.QoS, retain bool, payload []byte) error {
	t := c.PublishAsync(topic, qos, retain, payload)
	select {
	case <-t.done:
		return t.err
	case <-ctx.Done():
	}
	cause := context.Cause(ctx)
	handled := make(chan struct{})
	c.post(request{kind: reqCancel, tok: t, err: cause, done: handled})
	select {
	case <-handled:
	case <-t.done:
	}
	if isDone(t) && t.err != cause {
		return t.err // it completed (or failed) before the cancel
	}
	return cause
}

func checkPublish(topic string, qos packet.QoS) error {
	if !qos.Valid() {
		return &argError{what: "QoS", err: packet.ErrInvalidQoS}
	}
	if err := packet.ValidateTopicName(topic); err != nil {
		return &argError{what: "topic name", err: err}
	}
	return nil
}

// cancelLocked withdraws a waiting publish while no state owner runs.
func (c *Client) cancelLocked(t *Token, cause error) {
	id := session.MsgID(t.msgID.Load())
	if id != 0 && c.own.sess.Cancel(id) {
		t.complete(cause)
	}
}

// drainIdleLocked completes what the session reports while no state owner
// runs: only a message that a full offline buffer dropped
// (OfflineBufferDropOldest).
func (c *Client) drainIdleLocked() {
	for {
		ev, ok := c.own.sess.NextEvent()
		if !ok {
			return
		}
		if tok, _ := ev.Tag.(*Token); tok != nil && ev.Kind == session.EventCompletion {
			tok.complete(publishErr(ev.Err))
		}
	}
}

// mapSessionErr turns the session's refusals into the client's errors.
func mapSessionErr(err error) error {
	switch {
	case errors.Is(err, session.ErrNotConnected):
		return ErrNotConnected
	case errors.Is(err, session.ErrBufferFull):
		return ErrOfflineBufferFull
	case errors.Is(err, session.ErrBufferDropped):
		return ErrOfflineMessageDropped
	case errors.Is(err, session.ErrInvalidMessage):
		return &argError{what: "message", err: err}
	}
	return err
}
