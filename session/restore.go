package session

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

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

// restore rebuilds the state from the store, in the store's insertion
// order, which is the order the records were first written in: that order,
// not the packet identifiers, gives the re-send order, so it survives
// identifier wrap-around.
func (s *Session) restore() error {
	keys, err := s.store.Keys()
	if err != nil {
		return fmt.Errorf("session: listing the store: %w", err)
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
	if n := s.InFlight() + len(s.inbound) + s.buffer.Len(); n > 0 {
		s.log.Info("session: restored", "inflight", s.InFlight(), "inbound", len(s.inbound), "buffered", s.buffer.Len())
	}
	return nil
}

func (s *Session) decodeRecord(k string) (packet.Packet, error) {
	data, err := s.store.Get(k)
	if err != nil {
		// store.ErrNotFound: gone meanwhile; store.ErrCorrupt: the store
		// has quarantined it. Either way there is nothing to use.
		return nil, fmt.Errorf("session: reading the record: %w", err)
	}
	p, n, err := packet.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	if n != len(data) {
		return nil, fmt.Errorf("%w: %d bytes after the packet", errBadRecord, len(data)-n)
	}
	return p, nil
}

func (s *Session) restoreKey(k string) error {
	if seq, ok := parseBufKey(k); ok {
		p, err := s.decodeRecord(k)
		if err != nil {
			return err
		}
		pub, ok := p.(*packet.Publish)
		if !ok {
			return fmt.Errorf("%w: %v instead of PUBLISH", errBadRecord, p.Type())
		}
		r := s.newOut(kindPublish)
		r.pub = *pub
		r.pub.PacketID, r.pub.Dup = 0, false
		r.st, r.bufSeq = stBuffered, seq
		s.buffer.PushBack(r)
		s.nextSeq = max(s.nextSeq, seq+1)
		return nil
	}
	kind, pid, ok := parseKey(k)
	if !ok {
		return errors.New("session: not a key of the session, left alone")
	}
	p, err := s.decodeRecord(k)
	if err != nil {
		return err
	}
	switch kind {
	case keyS:
		pub, ok := p.(*packet.Publish)
		if !ok || pub.QoS == packet.QoS0 || pub.PacketID != pid {
			return fmt.Errorf("%w: %v does not belong under %s", errBadRecord, p, k)
		}
		if old := s.byPID[pid]; old != nil {
			// An sc- record came first: it replaces this one.
			return fmt.Errorf("%w: superseded by its PUBREL record", errBadRecord)
		}
		if err := s.ids.Reserve(pid); err != nil {
			return fmt.Errorf("%w: %w", errBadRecord, err)
		}
		r := s.newOut(kindPublish)
		r.pub = *pub
		r.st, r.sent = stInflight, true // it may have been sent: a re-send has DUP=1
		s.byPID[pid] = r
		s.inflight.PushBack(r)
	case keySC:
		rel, ok := p.(*packet.Pubrel)
		if !ok || rel.PacketID != pid {
			return fmt.Errorf("%w: %v does not belong under %s", errBadRecord, p, k)
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
				return fmt.Errorf("%w: %w", errBadRecord, err)
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
			return fmt.Errorf("%w: %v does not belong under %s", errBadRecord, p, k)
		}
		r := s.newIn()
		r.pub = *pub
		r.buf = pub.Payload
		r.st = inAwaitRel // delivered when the server re-sends PUBREL [MQTT-4.4.0-1]
		s.inbound[pid] = r
	}
	return nil
}
