package client

import (
	"context"
	"time"

	"github.com/linnet-mqtt/linnet/session"
)

// Request intake: the API hands work to the state owner (comms) as
// requests appended to Client.reqs under Client.mu, with a signal on the
// wake channel.

type reqKind uint8

const (
	reqPublish reqKind = iota + 1
	reqSubscribe
	reqUnsubscribe
	reqCancel
	reqAck
	reqDisconnect
	reqTick
)

// request is work handed to the state owner through Client.reqs.
type request struct {
	kind    reqKind
	msg     session.Message
	tok     *Token
	subs    []Subscription
	filters []string
	reply   chan opResult
	ack     session.AckID   // reqAck: one ack (Message.Ack)
	acks    []session.AckID // reqAck: a batch from the dispatcher
	ctx     context.Context
	done    chan struct{} // reqDisconnect, reqCancel: closed when handled
	err     error         // reqCancel: the cause the token fails with
	stop    func() bool   // reqDisconnect: stops the AfterFunc on ctx
}

func (r request) fail(err error) {
	switch r.kind {
	case reqPublish:
		r.tok.complete(err)
	case reqSubscribe, reqUnsubscribe:
		r.reply <- opResult{err: err}
	case reqDisconnect, reqCancel:
		close(r.done)
	}
}

// handleRequests takes every request posted so far. The error is a
// keep-alive failure found by a PingSender's check: the connection is
// lost.
func (m *comms) handleRequests(now time.Time) error {
	c := m.c
	c.mu.Lock()
	reqs := c.reqs
	c.reqs = nil
	c.mu.Unlock()
	var lost error
	for _, r := range reqs {
		switch r.kind {
		case reqPublish:
			m.publish(r, now)
		case reqSubscribe:
			if _, err := m.own.sess.Subscribe(now, r.subs, &ctlOp{subs: r.subs, reply: r.reply}); err != nil {
				r.reply <- opResult{err: mapSessionErr(err)}
			}
		case reqUnsubscribe:
			subs := make([]Subscription, len(r.filters))
			for i, f := range r.filters {
				subs[i].Filter = f
			}
			if _, err := m.own.sess.Unsubscribe(now, r.filters, &ctlOp{unsub: true, subs: subs, reply: r.reply}); err != nil {
				r.reply <- opResult{err: mapSessionErr(err)}
			}
		case reqCancel:
			m.cancel(r.tok, r.err)
			close(r.done)
		case reqAck:
			m.ack(r, now)
		case reqTick:
			if m.cn != nil && lost == nil {
				lost = m.tick(now)
			}
		case reqDisconnect:
			rr := r
			rr.stop = context.AfterFunc(r.ctx, func() {
				select {
				case c.wake <- struct{}{}:
				default:
				}
			})
			m.finishDisconnect() // one at a time: Client.Disconnect posts no second
			m.disc = &rr
		}
	}
	return lost
}

// offline handles a request while there is no connection and no state
// owner will take it.
func (m *comms) offline(r request, now time.Time) {
	switch r.kind {
	case reqPublish:
		m.publish(r, now)
	case reqSubscribe, reqUnsubscribe:
		r.reply <- opResult{err: ErrNotConnected}
	case reqCancel:
		m.cancel(r.tok, r.err)
		close(r.done)
	case reqAck:
		m.ack(r, now)
	case reqDisconnect:
		close(r.done)
	}
}

// ack hands the session the acks of a reqAck.
func (m *comms) ack(r request, now time.Time) {
	if r.ack != 0 {
		if err := m.own.sess.Ack(now, r.ack); err != nil {
			m.c.log.Warn("mqtt: acknowledging", "err", err)
		}
	}
	for _, id := range r.acks {
		if err := m.own.sess.Ack(now, id); err != nil {
			m.c.log.Warn("mqtt: acknowledging", "err", err)
		}
	}
}

func (m *comms) publish(r request, now time.Time) {
	id, err := m.own.sess.Publish(now, r.msg)
	if err != nil {
		r.tok.complete(mapSessionErr(err))
		return
	}
	r.tok.msgID.Store(uint64(id))
}

func (m *comms) cancel(t *Token, cause error) {
	id := session.MsgID(t.msgID.Load())
	if id != 0 && m.own.sess.Cancel(id) {
		t.complete(cause)
	}
}
