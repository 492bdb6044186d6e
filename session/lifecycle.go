package session

import (
	"net"
	"time"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
)

// NextEvent returns the next delivery or completion, in the order they
// happened, or false when there is none. Drain it after every call of
// Received, Ack, Tick, NextToSend, OnConnack and ConnectionLost: the
// pointers in an event are valid only until the next such call.
func (s *Session) NextEvent() (Event, bool) {
	if s.events.Len() == 0 {
		return Event{}, false
	}
	return s.events.Pop(), true
}

// Received processes a packet from the server: acks move outbound messages
// on (completing them on their final ack), PUBLISH and PUBREL produce
// deliveries, and replies are queued for NextToSend. Any packet counts as
// a sign of life for keep-alive.
//
// p may point into the reader's buffer: the session copies what it keeps.
// An ack for an unknown packet identifier is logged and answered as Paho
// does (PUBREL for a PUBREC, PUBCOMP for a PUBREL, nothing otherwise)
// without touching the state.
//
// Errors: *UnexpectedPacketError for a packet a client never receives (close
// the connection), *UnknownAckError for an ack no message waits for (only
// with Options.StrictAcks; close the connection), or an error of the store
// (the packet was not accepted; the server will re-send it after a
// reconnect).
func (s *Session) Received(now time.Time, p packet.Packet) error {
	s.lastRecv = now
	s.pingOutstanding = false
	s.reschedule(now)
	switch p := p.(type) {
	case *packet.Publish:
		return s.receivePublish(p)
	case *packet.Puback:
		return s.receivePuback(p.PacketID)
	case *packet.Pubrec:
		return s.receivePubrec(p.PacketID)
	case *packet.Pubrel:
		return s.receivePubrel(p.PacketID)
	case *packet.Pubcomp:
		return s.receivePubcomp(p.PacketID)
	case *packet.Suback:
		return s.receiveSuback(p)
	case *packet.Unsuback:
		return s.receiveUnsuback(p)
	case *packet.Pingresp:
	default:
		return &UnexpectedPacketError{Type: p.Type()}
	}
	return nil
}

// OnConnack starts a connection after a CONNACK that accepted it.
// cleanSession is the flag the CONNECT carried; sessionPresent the CONNACK's.
//
// With cleanSession, the old session goes [MQTT-3.1.2-6]: every in-flight
// publish completes with ErrSessionCleared, inbound QoS 2 state is dropped
// and the s-, sc- and r- records are removed from the store. Without it,
// everything in flight (left from the last connection, or restored from the
// store) is sent again in its original order [MQTT-4.4.0-1] [MQTT-4.6.0-1]:
// a PUBREL for each QoS 2 message whose PUBREC was seen, in PUBREC order,
// then every unacknowledged PUBLISH with DUP=1 [MQTT-3.3.1-1], in publish
// order. At most MaxInFlight of them go out at once (a PUBREL counts as
// one); the rest follow, in the same order, as acknowledgements free room
// (see Unsent).
//
// Once every one of them is out, waiting publishes and the offline buffer
// are admitted, in order, through the in-flight window. Keep-alive starts
// counting at now.
// The error is an error of the store while clearing; the session is
// connected all the same.
func (s *Session) OnConnack(now time.Time, sessionPresent, cleanSession bool) error {
	s.connected = true
	s.extraComp = nil // no PUBCOMP of an earlier connection arrives on this one
	s.control.Clear()
	s.pubs.Clear()
	s.resend.Clear()
	s.held = 0
	s.lastSent, s.lastRecv, s.pingOutstanding, s.pingQueued = now, now, false, false
	var err error
	if cleanSession {
		err = s.clearSession()
	} else {
		if !sessionPresent && s.InFlight() > 0 {
			s.log.Warn("session: the server has no session for in-flight messages; re-sending them anyway",
				"inflight", s.InFlight())
		}
		// Everything in flight is held, in re-send order, and promote
		// lets the first MaxInFlight out at once, the others as
		// acknowledgements free room.
		for _, l := range []*outList{&s.released, &s.inflight} {
			for r := l.head; r != nil; r = r.next {
				r.held = true
				s.resend.Push(sendEntry{rec: r, gen: r.gen})
			}
		}
		s.held = s.InFlight()
	}
	s.waiting.AppendList(&s.buffer)
	s.promote()
	if ps := s.opts.PingSender; ps != nil && s.keepAlive > 0 {
		ps.Start()
		s.scheduled = s.NextDeadline()
		ps.Schedule(s.scheduled.Sub(now))
	}
	return err
}

// clearSession discards all session state, memory and store [MQTT-3.1.2-6].
// Offline-buffered and waiting messages were never sent: they stay.
func (s *Session) clearSession() error {
	for _, l := range []*outList{&s.inflight, &s.released} {
		for r := l.PopFront(); r != nil; r = l.PopFront() {
			delete(s.byPID, r.pub.PacketID)
			s.ids.Free(r.pub.PacketID)
			s.complete(r, ErrSessionCleared, nil)
		}
	}
	for pid, r := range s.inbound {
		delete(s.inbound, pid)
		s.freeIn(r)
	}
	// AckIDs handed out so far become stale.
	s.ackHead += AckID(s.acks.Len())
	s.acks.Clear()
	keys, err := s.store.Keys()
	if err != nil {
		return errwrap.Wrap("session: clearing the store", err)
	}
	var first error
	for _, k := range keys {
		if _, _, ok := parseKey(k); ok {
			if err := s.store.Remove(k); err != nil && first == nil {
				first = errwrap.Wrap("session: clearing the store", err)
			}
		}
	}
	return first
}

// ConnectionLost ends the connection. Subscribes and unsubscribes in flight
// or waiting complete with cause (net.ErrClosed when nil), as do QoS 0
// publishes not yet handed out (except those of a persisted offline buffer,
// which go back to it); queued acks are dropped (the server re-sends
// what they answered); QoS 1 deliveries awaiting Ack are voided, QoS 2 ones
// stay and are completed by Ack. QoS 1 and 2 publishes stay in flight for
// the next OnConnack. The ping sender is stopped.
func (s *Session) ConnectionLost(now time.Time, cause error) {
	if cause == nil {
		cause = net.ErrClosed
	}
	s.connected = false
	s.pingOutstanding, s.pingQueued, s.scheduled = false, false, time.Time{}
	if ps := s.opts.PingSender; ps != nil {
		ps.Stop()
	}
	s.control.Clear()
	var back outList // persisted buffered QoS 0 messages not handed out: back to the buffer
	for s.pubs.Len() > 0 {
		e := s.pubs.Pop()
		if e.rec.gen != e.gen || e.rec.st != stQueued0 {
			continue
		}
		if e.rec.bufSeq != 0 {
			e.rec.st = stBuffered
			back.PushBack(e.rec)
			continue
		}
		s.complete(e.rec, cause, nil)
	}
	if back.Len() > 0 {
		back.AppendList(&s.buffer)
		s.buffer.AppendList(&back)
	}
	for _, l := range []*outList{&s.ctlInflight, &s.waitingCtl} {
		for r := l.PopFront(); r != nil; r = l.PopFront() {
			if r.st == stInflight {
				pid := r.sub.PacketID
				if r.kind == kindUnsubscribe {
					pid = r.unsub.PacketID
				}
				delete(s.byPID, pid)
				s.ids.Free(pid)
			}
			s.complete(r, cause, nil)
		}
	}
	for i := 0; i < s.acks.Len(); i++ {
		if e := s.acks.At(i); e.typ == packet.TypePuback {
			e.void = true
		}
	}
	s.flushAcks() // pops the voided entries at the head
}
