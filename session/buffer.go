package session

import (
	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
)

// bufferPlaceholderID is the packet identifier written into sb- records of
// QoS 1 and 2 messages, because the encoding requires one. It means
// nothing: a queued message gets its real identifier when it is admitted to
// the in-flight window.
const bufferPlaceholderID = 1

// bufferPublish puts a message published while disconnected into the
// offline buffer.
func (s *Session) bufferPublish(msg Message) (MsgID, error) {
	if !s.opts.Buffer.Enabled {
		return 0, ErrNotConnected
	}
	if s.buffer.Len() >= s.bufSize {
		if !s.opts.Buffer.DropOldest {
			return 0, ErrBufferFull
		}
		old := s.buffer.head
		if old.bufSeq != 0 {
			if err := s.store.Remove(bufKey(old.bufSeq)); err != nil {
				return 0, errwrap.Wrap("session: dropping the oldest buffered message", err)
			}
		}
		s.complete(old, ErrBufferDropped, nil)
	}
	r := s.newOut(kindPublish)
	r.pub = packet.Publish{Topic: msg.Topic, Payload: msg.Payload, QoS: msg.QoS, Retain: msg.Retain}
	r.st = stBuffered
	r.bufSeq = msg.Seq // staged: its record is already in the store
	r.tag = msg.Tag
	if r.bufSeq == 0 && (msg.QoS != packet.QoS0 || s.opts.Buffer.Persist) {
		if err := s.persistQueued(r); err != nil {
			s.nextMsgID--
			s.freeOut(r)
			return 0, err
		}
	}
	s.buffer.PushBack(r)
	return r.id, nil
}

// persistQueued writes a message that has no packet identifier yet (offline
// buffered, or waiting for room in the in-flight window) under sb-<seq>,
// seq counting up across restarts, and records seq in r.bufSeq. Every QoS 1
// and 2 message takes this step before Publish returns, so an accepted
// message survives a crash of the process; a QoS 0 message only with
// BufferOptions.Persist. When the message is admitted, admit writes s-<id>
// carrying seq and then removes sb-<seq> (see admit and restore).
func (s *Session) persistQueued(r *outRecord) error {
	p := r.pub
	if p.QoS != packet.QoS0 {
		p.PacketID = bufferPlaceholderID
	}
	b, err := p.Append(s.enc[:0])
	if err != nil {
		return errwrap.Wrap("session: persisting a queued message", err)
	}
	s.enc = b
	s.seqMu.Lock()
	seq := s.nextSeq
	err = s.store.Put(bufKey(seq), b)
	if err == nil {
		s.nextSeq++
	}
	s.seqMu.Unlock()
	if err != nil {
		return errwrap.Wrap("session: persisting a queued message", err)
	}
	r.bufSeq = seq
	return nil
}

// Outstanding describes a message the session holds, for a client that
// rebuilds its tokens after New restored a store (Paho's
// getPendingDeliveryTokens).
type Outstanding struct {
	ID       MsgID
	Message  Message // for a restored PUBREL, only QoS is known
	PacketID uint16  // 0 while the message waits or is buffered
	Released bool    // QoS 2 past PUBREC: only PUBCOMP is missing
	Tag      any     // see Message.Tag: nil for a restored message until SetTag
}

// Outstanding lists the publishes the session holds: in flight (PUBREL
// stage first, then awaiting PUBACK or PUBREC), then waiting for the window,
// then in the offline buffer, each group in order.
func (s *Session) Outstanding() []Outstanding {
	var out []Outstanding
	for _, l := range []*outList{&s.released, &s.inflight, &s.waiting, &s.buffer} {
		for r := l.head; r != nil; r = r.next {
			o := Outstanding{
				ID:       r.id,
				Message:  Message{Topic: r.pub.Topic, Payload: r.pub.Payload, QoS: r.pub.QoS, Retain: r.pub.Retain},
				Released: r.st == stReleased,
				Tag:      r.tag,
			}
			if r.st == stInflight || r.st == stReleased {
				o.PacketID = r.pub.PacketID
			}
			out = append(out, o)
		}
	}
	return out
}
