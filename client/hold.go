package client

import "time"

// The write hold of ThroughputPacing, and the counts the state owner gives
// the connection's pacer.

const (
	holdBacklog = 16
	holdFor     = 200 * time.Microsecond
)

// hold reports whether the packets queued at now may wait, and until
// when. They wait when at least holdBacklog publishes were already in
// flight before them and the last write was less than holdFor ago: the new
// packets queue behind a stream whose acknowledgements are still to come,
// so waiting costs them little, and the writes it saves are the dearest
// system calls of a busy client (a loopback write also runs the broker's
// receive path). The publishes and acknowledgements gathered then go out
// in one write, the broker answers in bursts, and the receiver of the other
// side gets fuller batches. A request-response exchange (one publish at a
// time) never has that backlog and is never held; the state owner asks
// only for PUBLISH at QoS 1 or 2 and their acknowledgements.
func (p *readPacer) hold(now, lastWrite time.Time, backlog int) (time.Time, bool) {
	at := lastWrite.Add(holdFor)
	if backlog < holdBacklog || !now.Before(at) {
		return time.Time{}, false
	}
	return at, true
}

// holdWrite reports whether the packets queued now may wait (see
// readPacer.hold), and arms flushAt if so. Only with a pacing policy.
func (m *comms) holdWrite(now time.Time, backlog int) bool {
	cn := m.cn
	p := cn.rcv.pacer
	if p == nil || cn.w.Buffered() == 0 {
		return false
	}
	at, ok := p.hold(now, cn.lastWrite, backlog)
	if ok && cn.flushAt.IsZero() {
		cn.flushAt = at
	}
	return ok
}

// expecting reports whether enough packets are in flight, either way, that
// more are likely to keep coming: publishes awaiting acknowledgement, or
// inbound QoS 2 messages not yet complete (some of these may wait for the
// application's ack under ManualAcks, not for the server: the pacer's
// backoff deals with that).
func (m *comms) expecting() bool {
	s := m.own.sess
	return s.InFlight() >= holdBacklog || s.InboundPending() >= holdBacklog
}

// owed counts the answers due to the client: one or two from the server
// for each publish in flight, and for each inbound QoS 2 message not yet
// complete its PUBREL (or its handler, which returns promptly as a rule).
// With ManualAcks the inbound ones are left out: they may wait for the
// application for any time.
func (m *comms) owed() int32 {
	s := m.own.sess
	n := s.InFlight()
	if !m.c.opts.ManualAcks {
		n += s.InboundPending()
	}
	return int32(min(n, 1<<30))
}
