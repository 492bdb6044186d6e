package session

import (
	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
)

// Stage validates msg and writes it to the store under sb-<seq>, encoded
// exactly as a queued message is (a placeholder packet identifier for QoS 1
// and 2), with a fresh sequence number, which it returns. It is for an
// owner that promises a message is durable before it hands it to its loop
// goroutine: stage it on the publisher's goroutine, then pass it to Publish
// on the loop's with Message.Seq set to seq, which takes the staged record
// over instead of writing a second one (see Message.Seq). A staged message
// that never reaches Publish is restored after a restart as a buffered
// message, in sequence order; Unstage withdraws it.
//
// Stage and Unstage are the only methods of a Session safe for concurrent
// use, with each other and with every other method; they need a store that
// is safe for concurrent use (those of package store are). Concurrent
// stagers are serialised, so that the store's key order is the sequence
// order. msg.Seq is ignored.
//
// Errors: ErrInvalidMessage (wrapping the packet error), or an error of the
// store, in which case nothing was written.
func (s *Session) Stage(msg Message) (seq uint64, err error) {
	if err := validateMessage(msg); err != nil {
		return 0, err
	}
	p := packet.Publish{Topic: msg.Topic, Payload: msg.Payload, QoS: msg.QoS, Retain: msg.Retain}
	if p.QoS != packet.QoS0 {
		p.PacketID = bufferPlaceholderID
	}
	// A buffer of its own per call: Stage may run on many goroutines at
	// once, so it cannot use the session's; the store copies it.
	b, err := p.Append(make([]byte, 0, min(p.Len(), 64<<10)))
	if err != nil {
		return 0, ofKind(ErrInvalidMessage, err)
	}
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	seq = s.nextSeq
	if err := s.store.Put(bufKey(seq), b); err != nil {
		return 0, errwrap.Wrap("session: staging a message", err)
	}
	s.nextSeq++
	return seq, nil
}

// Unstage removes the record Stage wrote under seq, for a caller that
// staged a message but could not hand it to Publish (its client closed
// meanwhile). It is safe for concurrent use, as Stage. Unstaging a sequence
// that a Publish took over is a mistake the session cannot see: the message
// is then no longer durable. The error is the store's, as it returned it.
func (s *Session) Unstage(seq uint64) error {
	if seq == 0 {
		return nil
	}
	return s.store.Remove(bufKey(seq))
}

// validateMessage checks what Publish and Stage accept.
func validateMessage(msg Message) error {
	if !msg.QoS.Valid() {
		return ofKind(ErrInvalidMessage, packet.ErrInvalidQoS)
	}
	if err := packet.ValidateTopicName(msg.Topic); err != nil {
		return ofKind(ErrInvalidMessage, err)
	}
	return nil
}
