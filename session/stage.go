package session

import (
	"strconv"
	"sync"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
)

// stageBufs holds encoding buffers for Stage, which may run on many
// goroutines at once and so cannot use the session's own.
var stageBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// maxPooledStageBuf is the largest buffer Stage returns to the pool, so that
// one huge message does not pin its buffer.
const maxPooledStageBuf = 64 << 10

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
	bp := stageBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledStageBuf {
			stageBufs.Put(bp)
		}
	}()
	b, err := p.Append((*bp)[:0])
	if err != nil {
		return 0, ofKind(ErrInvalidMessage, err)
	}
	*bp = b
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
// is then no longer durable. The error is the store's.
func (s *Session) Unstage(seq uint64) error {
	if seq == 0 {
		return nil
	}
	if err := s.store.Remove(bufKey(seq)); err != nil {
		return errwrap.Wrap("session: removing staged record "+strconv.FormatUint(seq, 10), err)
	}
	return nil
}

// dropStaged removes the staged record of a message Publish refused, so
// that nothing refused comes back after a restart.
func (s *Session) dropStaged(seq uint64) {
	if seq == 0 {
		return
	}
	if err := s.store.Remove(bufKey(seq)); err != nil {
		s.log.Error("session: removing the staged record of a refused message", "key", bufKey(seq), "err", err)
	}
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
