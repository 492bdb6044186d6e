package session

import (
	"strconv"
	"time"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
)

func (s *Session) receivePublish(p *packet.Publish) error {
	switch p.QoS {
	case packet.QoS0:
		s.events.Push(Event{Kind: EventDelivery, Message: p})
	case packet.QoS1:
		// [MQTT-4.3.2-2]: PUBACK once the message is ours, in arrival order
		// [MQTT-4.6.0-2].
		ack := s.pushAck(packet.TypePuback, p.PacketID)
		s.events.Push(Event{Kind: EventDelivery, Message: p, Ack: ack})
		s.flushAcks()
	case packet.QoS2:
		if _, dup := s.inbound[p.PacketID]; dup {
			// [MQTT-4.3.3-2]: a re-send of a message we hold is answered
			// again, not delivered again.
			s.control.Push(sendEntry{typ: packet.TypePubrec, pid: p.PacketID})
			return nil
		}
		r := s.newIn()
		r.buf = append(r.buf[:0], p.Payload...)
		r.pub = *p
		r.pub.Payload = r.buf
		r.st = inAwaitRel
		b, err := r.pub.Append(s.enc[:0])
		if err == nil {
			s.enc = b
			err = s.store.Put(s.key(keyR, p.PacketID), b) // persisted before PUBREC
		}
		if err != nil {
			s.freeIn(r)
			return errwrap.Wrap("session: persisting inbound PUBLISH "+strconv.Itoa(int(p.PacketID)), err)
		}
		s.inbound[p.PacketID] = r
		s.control.Push(sendEntry{typ: packet.TypePubrec, pid: p.PacketID}) // in arrival order [MQTT-4.6.0-3]
	}
	return nil
}

func (s *Session) pushAck(typ packet.Type, pid uint16) AckID {
	id := s.ackHead + AckID(s.acks.Len())
	s.acks.Push(ackEntry{typ: typ, pid: pid, done: !s.opts.ManualAcks})
	if !s.opts.ManualAcks {
		return 0
	}
	return id
}

// Ack acknowledges a delivery made with ManualAcks. For QoS 2 the r- record
// is removed at once, so a crash after Ack never delivers the message again.
// The PUBACK or PUBCOMP goes out once every earlier delivery is
// acknowledged too, so acks leave in delivery order. Acking an unknown,
// stale or already acknowledged AckID does nothing. The error is a store
// error removing the r- record; the delivery then stays unacknowledged and
// Ack may be called again.
func (s *Session) Ack(now time.Time, id AckID) error {
	if id < s.ackHead || id >= s.ackHead+AckID(s.acks.Len()) {
		return nil
	}
	e := s.acks.At(int(id - s.ackHead))
	if e.void || e.done {
		return nil
	}
	if e.typ == packet.TypePubcomp {
		if err := s.releaseInbound(e.pid); err != nil {
			return err
		}
	}
	e.done = true
	s.flushAcks()
	return nil
}

// releaseInbound ends an inbound QoS 2 message after its delivery: the r-
// record goes from the store, then from memory. A crash before the Remove
// delivers the message again after a restart; nothing is lost.
func (s *Session) releaseInbound(pid uint16) error {
	if err := s.store.Remove(s.key(keyR, pid)); err != nil {
		return errwrap.Wrap("session: removing inbound record "+strconv.Itoa(int(pid)), err)
	}
	if r := s.inbound[pid]; r != nil {
		delete(s.inbound, pid)
		s.freeIn(r)
	}
	return nil
}

// flushAcks queues the acknowledgements at the head of the delivery order
// that are done.
func (s *Session) flushAcks() {
	for s.acks.Len() > 0 {
		e := s.acks.At(0)
		if !e.done && !e.void {
			return
		}
		if !e.void && s.connected {
			s.control.Push(sendEntry{typ: e.typ, pid: e.pid})
		}
		s.acks.Pop()
		s.ackHead++
	}
}

func (s *Session) receivePubrel(pid uint16) error {
	r := s.inbound[pid]
	switch {
	case r == nil:
		s.log.Warn("session: PUBREL for an unknown packet identifier, answering PUBCOMP", "id", pid)
		s.control.Push(sendEntry{typ: packet.TypePubcomp, pid: pid})
		return nil
	case r.st == inDelivered && r.ack != 0:
		return nil // delivered, waiting for Ack: PUBCOMP then
	case r.st == inDelivered:
		// Delivered, but removing the record failed before: retry.
		if err := s.releaseInbound(pid); err != nil {
			return err
		}
		s.control.Push(sendEntry{typ: packet.TypePubcomp, pid: pid})
		return nil
	}
	r.st = inDelivered
	r.ack = s.pushAck(packet.TypePubcomp, pid)
	s.events.Push(Event{Kind: EventDelivery, Message: &r.pub, Ack: r.ack}) // delivered once, on PUBREL
	if r.ack != 0 {
		return nil
	}
	// Automatic acks: delivered (handed out), then the record goes, then
	// PUBCOMP.
	if err := s.releaseInbound(pid); err != nil {
		s.acks.At(s.acks.Len() - 1).void = true // no PUBCOMP before the record is gone
		s.flushAcks()
		return err
	}
	s.flushAcks()
	return nil
}
