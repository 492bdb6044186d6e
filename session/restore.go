package session

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
)

// parseKey parses s-<id>, sc-<id> and r-<id> keys, id in 1..65535 written
// in canonical decimal.
func parseKey(k string) (kind int, pid uint16, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(k, "sc-"):
		kind, rest = keySC, k[3:]
	case strings.HasPrefix(k, "s-"):
		kind, rest = keyS, k[2:]
	case strings.HasPrefix(k, "r-"):
		kind, rest = keyR, k[2:]
	default:
		return 0, 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 16)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != rest {
		return 0, 0, false
	}
	return kind, uint16(n), true
}

// parseBufKey parses sb-<seq>, seq >= 1 in canonical decimal.
func parseBufKey(k string) (uint64, bool) {
	rest, ok := strings.CutPrefix(k, "sb-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != rest {
		return 0, false
	}
	return n, true
}

// errBadRecord describes a record restore cannot use.
var errBadRecord = errors.New("session: unusable record")

// badRecord returns errBadRecord with what is wrong with the record:
// "session: unusable record: detail".
func badRecord(detail string) error {
	return errwrap.Detail(errBadRecord, detail)
}

// misplaced reports a record whose packet p does not fit its key k.
func misplaced(p packet.Packet, k string) error {
	return badRecord(p.String() + " does not belong under " + k)
}

// restore rebuilds the state from the store, in the store's insertion
// order, which is the order the records were first written in: that order,
// not the packet identifiers, gives the re-send order, so it survives
// identifier wrap-around.
//
// In-flight messages come first, then the queued ones (sb-), in sequence
// order: a message was queued only behind everything in flight, and is
// admitted to the window in sequence order.
func (s *Session) restore() error {
	s.restoredSeqs = nil
	keys, err := s.store.Keys()
	if err != nil {
		return errwrap.Wrap("session: listing the store", err)
	}
	for _, k := range keys {
		if err := s.restoreKey(k); err != nil {
			s.log.Error("session: skipping a stored record", "key", k, "err", err)
			if errors.Is(err, errBadRecord) {
				if err := s.store.Remove(k); err != nil {
					s.log.Error("session: removing an unusable record", "key", k, "err", err)
				}
			}
		}
	}
	s.dropAdmittedQueued()
	if n := s.InFlight() + len(s.inbound) + s.buffer.Len(); n > 0 {
		s.log.Info("session: restored", "inflight", s.InFlight(), "inbound", len(s.inbound), "buffered", s.buffer.Len())
	}
	return nil
}

// seqTrailerLen is the length of the trailer after the PUBLISH in the s-
// record of a message that was queued (sb-<seq>) before it was admitted: the
// sequence number, big-endian.
const seqTrailerLen = 8

func appendSeqTrailer(b []byte, seq uint64) []byte { return binary.BigEndian.AppendUint64(b, seq) }

// decodeRecord reads the record under k and decodes its packet. trailer is
// what follows the packet; only s- records may have one.
func (s *Session) decodeRecord(k string) (p packet.Packet, trailer []byte, err error) {
	data, err := s.store.Get(k)
	if err != nil {
		// store.ErrNotFound: gone meanwhile; store.ErrCorrupt: the store
		// has quarantined it. Either way there is nothing to use.
		return nil, nil, errwrap.Wrap("session: reading the record", err)
	}
	p, n, err := packet.Decode(data)
	if err != nil {
		return nil, nil, ofKind(errBadRecord, err)
	}
	return p, data[n:], nil
}

func (s *Session) restoreKey(k string) error {
	if seq, ok := parseBufKey(k); ok {
		p, trailer, err := s.decodeRecord(k)
		if err != nil {
			return err
		}
		pub, ok := p.(*packet.Publish)
		if !ok || len(trailer) != 0 {
			return misplaced(p, k)
		}
		r := s.newOut(kindPublish)
		r.pub = *pub
		r.pub.PacketID, r.pub.Dup = 0, false
		r.st, r.bufSeq = stBuffered, seq
		s.insertQueued(r)
		s.nextSeq = max(s.nextSeq, seq+1)
		return nil
	}
	kind, pid, ok := parseKey(k)
	if !ok {
		return errors.New("session: not a key of the session, left alone")
	}
	p, trailer, err := s.decodeRecord(k)
	if err != nil {
		return err
	}
	var seq uint64
	switch {
	case len(trailer) == 0:
	case kind == keyS && len(trailer) == seqTrailerLen:
		seq = binary.BigEndian.Uint64(trailer)
		if seq == 0 {
			return badRecord("sequence 0 after the PUBLISH")
		}
	default:
		return badRecord(strconv.Itoa(len(trailer)) + " bytes after the packet")
	}
	switch kind {
	case keyS:
		pub, ok := p.(*packet.Publish)
		if !ok || pub.QoS == packet.QoS0 || pub.PacketID != pid {
			return misplaced(p, k)
		}
		if seq != 0 {
			// It was queued as sb-<seq>: a crash right after this record was
			// written may have left that record too. The sequence must not
			// be handed out again while this record holds it.
			s.restoredSeqs = append(s.restoredSeqs, seq)
			s.nextSeq = max(s.nextSeq, seq+1)
		}
		if old := s.byPID[pid]; old != nil {
			// An sc- record came first: it replaces this one.
			return badRecord("superseded by its PUBREL record")
		}
		if err := s.ids.Reserve(pid); err != nil {
			return ofKind(errBadRecord, err)
		}
		r := s.newOut(kindPublish)
		r.pub = *pub
		r.st, r.sent = stInflight, true // it may have been sent: a re-send has DUP=1
		s.byPID[pid] = r
		s.inflight.PushBack(r)
	case keySC:
		rel, ok := p.(*packet.Pubrel)
		if !ok || rel.PacketID != pid {
			return misplaced(p, k)
		}
		r := s.byPID[pid]
		if r != nil {
			// The PUBLISH record of a QoS 2 message whose PUBREC was seen:
			// a crash between writing sc- and removing s- leaves both.
			// sc- replaces it [MQTT-4.3.3-1].
			if err := s.store.Remove(s.key(keyS, pid)); err != nil {
				s.log.Error("session: removing a superseded record", "key", s.key(keyS, pid), "err", err)
			}
			s.inflight.Remove(r)
		} else {
			if err := s.ids.Reserve(pid); err != nil {
				return ofKind(errBadRecord, err)
			}
			r = s.newOut(kindPublish)
			s.byPID[pid] = r
		}
		r.pub = packet.Publish{QoS: packet.QoS2, PacketID: pid} // only the id matters from here on
		r.st, r.sent = stReleased, true
		s.released.PushBack(r)
	case keyR:
		pub, ok := p.(*packet.Publish)
		if !ok || pub.QoS != packet.QoS2 || pub.PacketID != pid {
			return misplaced(p, k)
		}
		r := s.newIn()
		r.pub = *pub
		r.buf = pub.Payload
		r.st = inAwaitRel // delivered when the server re-sends PUBREL [MQTT-4.4.0-1]
		s.inbound[pid] = r
	}
	return nil
}

// insertQueued puts a restored queued message into the offline buffer in
// sequence order. Stores list keys in insertion order, which is sequence
// order already, so this appends; the walk only guards against a store that
// does not keep that order.
func (s *Session) insertQueued(r *outRecord) {
	at := s.buffer.tail
	for at != nil && at.bufSeq > r.bufSeq {
		at = at.prev
	}
	if at == s.buffer.tail {
		s.buffer.PushBack(r)
		return
	}
	s.buffer.InsertAfter(at, r)
}

// dropAdmittedQueued removes the queued copies (sb-<seq>) of messages whose
// s- record carries seq: a crash between admit writing s-<id> and removing
// sb-<seq> leaves both, and the s- record is the one that counts (it may
// have been sent with its identifier).
func (s *Session) dropAdmittedQueued() {
	if len(s.restoredSeqs) == 0 {
		return
	}
	admitted := make(map[uint64]bool, len(s.restoredSeqs))
	for _, seq := range s.restoredSeqs {
		admitted[seq] = true
	}
	s.restoredSeqs = nil
	for r := s.buffer.head; r != nil; {
		next := r.next
		if admitted[r.bufSeq] {
			s.log.Info("session: a queued message was admitted before the crash; keeping its PUBLISH record", "key", bufKey(r.bufSeq))
			if err := s.store.Remove(bufKey(r.bufSeq)); err != nil {
				s.log.Error("session: removing an admitted queued record", "key", bufKey(r.bufSeq), "err", err)
			}
			s.freeOut(r)
		}
		r = next
	}
}
