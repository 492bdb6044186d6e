package session

import (
	"strconv"
	"time"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
)

// Publish accepts a message and returns its MsgID; an EventCompletion with
// that ID follows when it is over.
//
// While connected: a QoS 0 message is queued to be handed out; a QoS 1 or 2
// message gets a packet identifier, is persisted under s-<id> and queued, or,
// when the in-flight window is full, is persisted under sb-<seq> and waits
// until an acknowledgement makes room. It never fails because the window is
// full.
//
// While disconnected the message goes to the offline buffer (persisted
// under sb-<seq> when it is QoS 1 or 2, or with BufferOptions.Persist), or
// Publish fails with ErrNotConnected when there is none and ErrBufferFull
// when it is full.
//
// So a QoS 1 or 2 message is in the store before Publish returns without
// error, and a durable store keeps it across a crash of the process. A
// message staged with Stage (msg.Seq set) is in the store before Publish is
// called; Publish takes its record over and removes it when it refuses the
// message.
//
// The session keeps msg.Payload without copying it: do not modify it until
// the message completes. Errors: ErrInvalidMessage (wrapping the packet
// error), ErrNotConnected, ErrBufferFull, or an error of the store, in which
// case nothing was accepted.
func (s *Session) Publish(now time.Time, msg Message) (id MsgID, err error) {
	if err = validateMessage(msg); err == nil && !s.connected {
		id, err = s.bufferPublish(msg)
	} else if err == nil {
		id, err = s.publishConnected(msg)
	}
	if err != nil && msg.Seq != 0 {
		// Refused: its staged record must not come back after a restart.
		if err := s.Unstage(msg.Seq); err != nil {
			s.log.Error("session: removing the staged record of a refused message", "key", bufKey(msg.Seq), "err", err)
		}
	}
	return id, err
}

func (s *Session) publishConnected(msg Message) (MsgID, error) {
	r := s.newOut(kindPublish)
	r.pub = packet.Publish{Topic: msg.Topic, Payload: msg.Payload, QoS: msg.QoS, Retain: msg.Retain}
	r.bufSeq, r.tag = msg.Seq, msg.Tag
	if msg.QoS == packet.QoS0 {
		r.st = stQueued0 // a staged record goes when NextToSend hands it out
		s.pubs.Push(sendEntry{typ: packet.TypePublish, rec: r, gen: r.gen})
		return r.id, nil
	}
	if s.waiting.Len() == 0 && s.held == 0 && s.InFlight() < s.maxIn && !s.ids.Full() {
		if err := s.admit(r); err != nil {
			s.nextMsgID-- // the ID was never seen
			s.freeOut(r)
			return 0, err
		}
		return r.id, nil
	}
	// The window is full: the message waits, durably, so that accepting it
	// means it survives a crash. Only a message that waits pays the write,
	// unless it was staged.
	if r.bufSeq != 0 {
		r.st = stWaiting
		s.waiting.PushBack(r)
		return r.id, nil
	}
	if err := s.persistQueued(r); err != nil {
		s.nextMsgID--
		s.freeOut(r)
		return 0, err
	}
	r.st = stWaiting
	s.waiting.PushBack(r)
	return r.id, nil
}

// admit gives a QoS 1 or 2 publish a packet identifier, persists it under
// s-<id> and queues it. On an error nothing is left of it but r.
func (s *Session) admit(r *outRecord) error {
	pid, err := s.ids.Alloc()
	if err != nil {
		return err
	}
	r.pub.PacketID, r.pub.Dup = pid, false
	b, err := r.pub.Append(s.enc[:0])
	if err != nil {
		s.ids.Free(pid)
		return ofKind(ErrInvalidMessage, err)
	}
	if r.bufSeq != 0 {
		// A queued message carries the sequence of its sb- record in its s-
		// record, so that restore can tell the two copies apart.
		b = appendSeqTrailer(b, r.bufSeq)
	}
	s.enc = b
	if err := s.store.Put(s.key(keyS, pid), b); err != nil { // persisted before it is handed out
		s.ids.Free(pid)
		return errwrap.Wrap("session: persisting PUBLISH "+strconv.Itoa(int(pid)), err)
	}
	if r.bufSeq != 0 {
		// Now that s-<id> holds it, the queued copy goes. A crash between
		// the two leaves both; restore keeps the s- record and removes the
		// sb- record whose sequence it carries: nothing lost, nothing sent
		// twice.
		if err := s.store.Remove(bufKey(r.bufSeq)); err != nil {
			s.log.Error("session: removing queued record", "key", bufKey(r.bufSeq), "err", err)
		}
		r.bufSeq = 0
	}
	r.st = stInflight
	s.byPID[pid] = r
	s.inflight.PushBack(r)
	s.pubs.Push(sendEntry{typ: packet.TypePublish, pid: pid, rec: r, gen: r.gen})
	return nil
}

// Subscribe queues a SUBSCRIBE and returns its MsgID; the completion event
// carries the SUBACK as Reply, and tag (see Message.Tag). The session keeps subs without copying it.
// It waits for a packet identifier when all are in use. Errors:
// ErrNotConnected, ErrInvalidMessage.
func (s *Session) Subscribe(now time.Time, subs []packet.Subscription, tag any) (MsgID, error) {
	if !s.connected {
		return 0, ErrNotConnected
	}
	if len(subs) == 0 {
		return 0, ofKind(ErrInvalidMessage, packet.ErrEmptyPayload)
	}
	for _, sub := range subs {
		if err := packet.ValidateTopicFilter(sub.Filter); err != nil {
			return 0, ofKind(ErrInvalidMessage, err)
		}
		if !sub.QoS.Valid() {
			return 0, ofKind(ErrInvalidMessage, packet.ErrInvalidQoS)
		}
	}
	r := s.newOut(kindSubscribe)
	r.sub.Subscriptions = subs
	r.tag = tag
	s.admitCtlOrWait(r)
	return r.id, nil
}

// Unsubscribe queues an UNSUBSCRIBE and returns its MsgID; the completion
// event carries the UNSUBACK as Reply. As Subscribe otherwise.
func (s *Session) Unsubscribe(now time.Time, filters []string, tag any) (MsgID, error) {
	if !s.connected {
		return 0, ErrNotConnected
	}
	if len(filters) == 0 {
		return 0, ofKind(ErrInvalidMessage, packet.ErrEmptyPayload)
	}
	for _, f := range filters {
		if err := packet.ValidateTopicFilter(f); err != nil {
			return 0, ofKind(ErrInvalidMessage, err)
		}
	}
	r := s.newOut(kindUnsubscribe)
	r.unsub.Filters = filters
	r.tag = tag
	s.admitCtlOrWait(r)
	return r.id, nil
}

func (s *Session) admitCtlOrWait(r *outRecord) {
	if s.waitingCtl.Len() > 0 || s.ids.Full() {
		r.st = stWaiting
		s.waitingCtl.PushBack(r)
		return
	}
	s.admitCtl(r)
}

func (s *Session) admitCtl(r *outRecord) {
	pid, _ := s.ids.Alloc() // callers check that one is free
	typ := packet.TypeSubscribe
	if r.kind == kindSubscribe {
		r.sub.PacketID = pid
	} else {
		r.unsub.PacketID = pid
		typ = packet.TypeUnsubscribe
	}
	r.st = stInflight
	s.byPID[pid] = r
	s.ctlInflight.PushBack(r)
	s.control.Push(sendEntry{typ: typ, pid: pid, rec: r, gen: r.gen})
}

// promote moves waiting subscribes and publishes into flight while there
// are identifiers and room in the window. A publish that cannot be persisted
// completes with the error.
func (s *Session) promote() {
	if !s.connected {
		return
	}
	for s.waitingCtl.Len() > 0 && !s.ids.Full() {
		s.admitCtl(s.waitingCtl.PopFront())
	}
	for s.held > 0 && s.onWire() < s.maxIn {
		e := s.resend.Pop()
		r := e.rec
		if r.gen != e.gen || !r.held {
			continue // completed or moved on meanwhile
		}
		s.queueResend(r)
	}
	if s.held > 0 {
		return // re-sends go before any publish that waits
	}
	s.resend.Clear()
	for s.waiting.Len() > 0 {
		r := s.waiting.head
		if r.pub.QoS == packet.QoS0 { // from the offline buffer: keeps its place in the order
			s.waiting.Remove(r)
			r.st = stQueued0
			s.pubs.Push(sendEntry{typ: packet.TypePublish, rec: r, gen: r.gen})
			continue
		}
		if s.InFlight() >= s.maxIn || s.ids.Full() {
			return
		}
		s.waiting.Remove(r)
		if err := s.admit(r); err != nil {
			s.log.Error("session: admitting a waiting publish", "id", r.id, "err", err)
			if r.bufSeq != 0 {
				// It completes with the error: it must not come back after a
				// restart.
				if err := s.store.Remove(bufKey(r.bufSeq)); err != nil {
					s.log.Error("session: removing queued record", "key", bufKey(r.bufSeq), "err", err)
				}
			}
			s.complete(r, err, nil)
		}
	}
}

// queueResend puts a message in flight from an earlier connection on the
// wire again: its PUBREL when it was released, else its PUBLISH with DUP
// set when it was handed out before [MQTT-3.3.1-1].
func (s *Session) queueResend(r *outRecord) {
	if r.held {
		r.held = false
		s.held--
	}
	if r.st == stReleased {
		// The server may answer twice: it may re-send, on the resumed
		// session, a PUBCOMP it had sent as the last connection died (mochi
		// keeps it among its in-flight packets until the write returns),
		// and it answers this PUBREL too, also once the first completed it.
		s.expectExtraComp(r.pub.PacketID)
		s.control.Push(sendEntry{typ: packet.TypePubrel, pid: r.pub.PacketID, rec: r, gen: r.gen})
		return
	}
	r.pub.Dup = r.sent
	s.pubs.Push(sendEntry{typ: packet.TypePublish, pid: r.pub.PacketID, rec: r, gen: r.gen})
}

// unhold marks a held record as no longer waiting for its re-send: it
// completed, or the server moved it on (a PUBREC re-sent on a resumed
// session).
func (s *Session) unhold(r *outRecord) {
	if r.held {
		r.held = false
		s.held--
	}
}

// Cancel withdraws a publish that is still waiting for the window or in the
// offline buffer, removing its sb- record, and reports whether it did. A
// message that already holds a packet identifier cannot be withdrawn: it
// completes through its acknowledgements. No event follows a cancel.
func (s *Session) Cancel(id MsgID) bool {
	for _, l := range []*outList{&s.waiting, &s.buffer} {
		for r := l.head; r != nil; r = r.next {
			if r.id != id {
				continue
			}
			if r.bufSeq != 0 {
				if err := s.store.Remove(bufKey(r.bufSeq)); err != nil {
					s.log.Error("session: removing buffered record", "key", bufKey(r.bufSeq), "err", err)
				}
			}
			s.freeOut(r)
			return true
		}
	}
	return false
}

// NextToSend returns the next packet to write and the tag of the message it
// belongs to, or false when there is none. Control packets (acks, PINGREQ,
// PUBREL, SUBSCRIBE, UNSUBSCRIBE) come before publishes. Everything that
// needs a record was persisted before it is returned here.
//
// The tag is the one given to Publish, Subscribe, Unsubscribe or SetTag for
// a PUBLISH, SUBSCRIBE or UNSUBSCRIBE, and for the PUBREL of a QoS 2
// publish; it is nil for acks of inbound messages, PINGREQ and a PUBREL
// answering a PUBREC for an unknown identifier. An owner that shows packet
// identifiers to its users (a token's message id) takes it from a PUBLISH
// handed out with its tag.
//
// The packet is owned by the session and valid until the next call on it:
// encode it at once (packet.Writer.Queue). The session counts it as sent at
// now for keep-alive. A QoS 0 publish completes (an EventCompletion) when it
// is handed out.
func (s *Session) NextToSend(now time.Time) (packet.Packet, any, bool) {
	for s.control.Len() > 0 {
		e := s.control.Pop()
		var tag any
		if e.rec != nil {
			if e.rec.gen != e.gen {
				continue // the record completed meanwhile
			}
			tag = e.rec.tag
		}
		s.lastSent = now
		switch e.typ {
		case packet.TypePuback:
			s.puback.PacketID = e.pid
			return &s.puback, nil, true
		case packet.TypePubrec:
			s.pubrec.PacketID = e.pid
			return &s.pubrec, nil, true
		case packet.TypePubrel:
			s.pubrel.PacketID = e.pid
			return &s.pubrel, tag, true
		case packet.TypePubcomp:
			s.pubcomp.PacketID = e.pid
			return &s.pubcomp, nil, true
		case packet.TypePingreq:
			s.pingQueued = false
			s.reschedule(now) // the deadline a keep-alive period away may be earlier than the ping timeout
			return &s.pingreq, nil, true
		case packet.TypeSubscribe:
			e.rec.sent = true
			return &e.rec.sub, tag, true
		case packet.TypeUnsubscribe:
			e.rec.sent = true
			return &e.rec.unsub, tag, true
		}
	}
	for s.pubs.Len() > 0 {
		e := s.pubs.Pop()
		r := e.rec
		if r.gen != e.gen || (r.st != stInflight && r.st != stQueued0) {
			continue
		}
		s.lastSent = now
		if r.st == stQueued0 {
			s.pub0 = r.pub
			tag := r.tag
			if r.bufSeq != 0 {
				if err := s.store.Remove(bufKey(r.bufSeq)); err != nil {
					s.log.Error("session: removing buffered record", "key", bufKey(r.bufSeq), "err", err)
				}
			}
			s.complete(r, nil, nil)
			return &s.pub0, tag, true
		}
		r.sent = true
		return &r.pub, r.tag, true
	}
	return nil, nil, false
}

// Pending reports whether NextToSend has a packet.
func (s *Session) Pending() bool { return s.control.Len() > 0 || s.pubs.Len() > 0 }

func (s *Session) receivePuback(pid uint16) error {
	r := s.byPID[pid]
	if r == nil || r.kind != kindPublish || r.st != stInflight || r.pub.QoS != packet.QoS1 {
		return s.unknownAck(packet.TypePuback, pid)
	}
	s.finish(r, keyS, nil)
	return nil
}

// unknownAck logs an acknowledgement that no message waits for and, with
// StrictAcks, reports it.
func (s *Session) unknownAck(t packet.Type, pid uint16) error {
	s.log.Warn("session: acknowledgement for an unknown packet identifier, ignored", "type", t, "id", pid)
	if s.opts.StrictAcks {
		return &UnknownAckError{Type: t, PacketID: pid}
	}
	return nil
}

// finish ends an outbound publish or subscribe on its final ack: the record
// goes from the store, then the identifier is freed [MQTT-2.3.1-3], then the
// completion is queued.
func (s *Session) finish(r *outRecord, kind int, reply packet.Packet) {
	pid := r.pub.PacketID
	switch r.kind {
	case kindSubscribe:
		pid = r.sub.PacketID
	case kindUnsubscribe:
		pid = r.unsub.PacketID
	default:
		if err := s.store.Remove(s.key(kind, pid)); err != nil {
			// The record stays in the store: after a restart the message is
			// sent once more, which QoS 1 allows and QoS 2's receiver
			// absorbs. Completing it now is right: the server has it.
			s.log.Error("session: removing completed record", "key", s.key(kind, pid), "err", err)
		}
	}
	delete(s.byPID, pid)
	s.ids.Free(pid)
	s.unhold(r)
	var err error
	if r.kind == kindSubscribe {
		if sa, ok := reply.(*packet.Suback); ok && len(sa.ReturnCodes) != len(r.sub.Subscriptions) {
			err = ErrSubackCount
		}
	}
	s.complete(r, err, reply)
	s.promote()
}

func (s *Session) receivePubrec(pid uint16) error {
	r := s.byPID[pid]
	switch {
	case r == nil:
		// Paho answers an unknown PUBREC with PUBREL; §4.3.3 allows it and
		// the server then completes with PUBCOMP.
		s.log.Warn("session: PUBREC for an unknown packet identifier, answering PUBREL", "id", pid)
		s.expectExtraComp(pid)
		s.control.Push(sendEntry{typ: packet.TypePubrel, pid: pid})
		return nil
	case r.kind != kindPublish || r.pub.QoS != packet.QoS2:
		s.log.Warn("session: PUBREC for a packet identifier that is not a QoS 2 publish, ignored", "id", pid)
		return nil
	case r.st == stReleased:
		// The server sent PUBREC again: answer it [MQTT-4.3.3-1]; the
		// PUBREL sent before may still bring its own PUBCOMP.
		s.expectExtraComp(pid)
		s.control.Push(sendEntry{typ: packet.TypePubrel, pid: pid, rec: r, gen: r.gen})
		return nil
	}
	rel := packet.Pubrel{PacketID: pid}
	b, _ := rel.Append(s.enc[:0]) // cannot fail: pid is not 0
	s.enc = b
	// sc- first, then s- goes: a crash between them leaves both, and
	// restore lets sc- win [MQTT-4.3.3-1]: no PUBLISH after PUBREL.
	if err := s.store.Put(s.key(keySC, pid), b); err != nil {
		return errwrap.Wrap("session: persisting PUBREL "+strconv.Itoa(int(pid)), err)
	}
	if err := s.store.Remove(s.key(keyS, pid)); err != nil {
		s.log.Error("session: removing released PUBLISH record", "key", s.key(keyS, pid), "err", err)
	}
	s.inflight.Remove(r)
	s.unhold(r) // its PUBREL goes out now
	r.st = stReleased
	s.released.PushBack(r)
	s.control.Push(sendEntry{typ: packet.TypePubrel, pid: pid, rec: r, gen: r.gen}) // in PUBREC order [MQTT-4.6.0-4]
	return nil
}

func (s *Session) receivePubcomp(pid uint16) error {
	r := s.byPID[pid]
	if r == nil || r.kind != kindPublish || r.st != stReleased {
		// The server answers each PUBREL: a PUBCOMP for an extra one comes
		// after the one that completed the message, and before the PUBREC
		// of any later message with the same id, which it cannot complete.
		if n := s.extraComp[pid]; n > 0 {
			if n == 1 {
				delete(s.extraComp, pid)
			} else {
				s.extraComp[pid] = n - 1
			}
			return nil
		}
		return s.unknownAck(packet.TypePubcomp, pid)
	}
	s.finish(r, keySC, nil)
	return nil
}

// maxExtraComp bounds the bookkeeping of extra PUBCOMPs, so that a server
// sending PUBREC after PUBREC cannot make it grow: past the bound, its
// PUBCOMPs are unknown acks again.
const maxExtraComp = 256

// expectExtraComp records that a PUBREL about to go out for pid may bring
// a PUBCOMP beyond the one that completes the message.
func (s *Session) expectExtraComp(pid uint16) {
	if s.extraComp == nil {
		s.extraComp = make(map[uint16]int)
	}
	if n, ok := s.extraComp[pid]; (ok || len(s.extraComp) < maxExtraComp) && n < maxExtraComp {
		s.extraComp[pid] = n + 1
	}
}

func (s *Session) receiveSuback(p *packet.Suback) error {
	r := s.byPID[p.PacketID]
	if r == nil || r.kind != kindSubscribe {
		return s.unknownAck(packet.TypeSuback, p.PacketID)
	}
	s.finish(r, 0, p)
	return nil
}

func (s *Session) receiveUnsuback(p *packet.Unsuback) error {
	r := s.byPID[p.PacketID]
	if r == nil || r.kind != kindUnsubscribe {
		return s.unknownAck(packet.TypeUnsuback, p.PacketID)
	}
	s.finish(r, 0, p)
	return nil
}
