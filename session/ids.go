package session

import "math/bits"

// MaxPacketIDs is the number of packet identifiers: 1 to 65535 (§2.3.1).
const MaxPacketIDs = 65535

// idSet allocates MQTT packet identifiers: never 0 [MQTT-2.3.1-1], never
// one that is in use [MQTT-2.3.1-2], and an identifier comes back only when
// Free is called for it, after the final acknowledgement [MQTT-2.3.1-3].
//
// It is a bitmap of the 65536 values (bit 0 is always set, so 0 is never
// handed out) with a rotating cursor: Alloc continues after the identifier it
// handed out last, so a freed identifier is reused as late as possible, and
// it scans 64 identifiers per word, so allocation is O(1) amortised. The zero
// value is not ready; use newIDSet.
type idSet struct {
	words  [1024]uint64 // bit i of word w: identifier w*64+i is in use
	cursor uint16       // the identifier handed out last
	used   int          // identifiers in use, 0 not counted
}

func newIDSet() *idSet {
	s := &idSet{}
	s.words[0] = 1 // identifier 0 is never free [MQTT-2.3.1-1]
	return s
}

// Len returns the number of identifiers in use.
func (s *idSet) Len() int { return s.used }

// Full reports whether every identifier is in use.
func (s *idSet) Full() bool { return s.used == MaxPacketIDs }

// InUse reports whether id is allocated. 0 is always reported in use.
func (s *idSet) InUse(id uint16) bool { return s.words[id>>6]&(1<<(id&63)) != 0 }

// Alloc returns the next free identifier after the cursor, or
// ErrNoPacketID when all 65535 are in use.
func (s *idSet) Alloc() (uint16, error) {
	if s.used == MaxPacketIDs {
		return 0, ErrNoPacketID
	}
	start := uint32(s.cursor) + 1 // first candidate
	// Scan whole words starting at the word of the candidate, masking off the
	// bits before the candidate in the first word, wrapping once around.
	w := (start >> 6) & 1023
	mask := ^uint64(0) << (start & 63) // start 65536 wraps to word 0, bit 0
	for i := 0; i <= 1024; i++ {
		free := ^s.words[w] & mask
		if free != 0 {
			id := uint16(w<<6 | uint32(bits.TrailingZeros64(free)))
			s.words[w] |= 1 << (id & 63)
			s.used++
			s.cursor = id
			return id, nil
		}
		w = (w + 1) & 1023
		mask = ^uint64(0)
	}
	return 0, ErrNoPacketID // unreachable while used < MaxPacketIDs
}

// Reserve marks id as in use, for state restored from a store. It fails
// with ErrPacketIDInUse when id is 0 or already in use.
func (s *idSet) Reserve(id uint16) error {
	if s.InUse(id) {
		return ErrPacketIDInUse
	}
	s.words[id>>6] |= 1 << (id & 63)
	s.used++
	return nil
}

// Free releases id. Freeing 0 or a free identifier does nothing and reports
// false.
func (s *idSet) Free(id uint16) bool {
	if id == 0 || !s.InUse(id) {
		return false
	}
	s.words[id>>6] &^= 1 << (id & 63)
	s.used--
	return true
}

// Reset frees every identifier and keeps the cursor where it is, so that
// identifiers of a discarded session are not the first ones reused.
func (s *idSet) Reset() {
	s.words = [1024]uint64{}
	s.words[0] = 1
	s.used = 0
}
