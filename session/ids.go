package session

import "math/bits"

// MaxPacketIDs is the number of packet identifiers: 1 to 65535 (§2.3.1).
const MaxPacketIDs = 65535

// Geometry of idSet: 16 chunks of 64 words of 64 bits cover the 65536
// values; a chunk exists only while one of its 4096 identifiers is in use.
const (
	idChunkWords = 64
	idChunkBits  = idChunkWords * 64 // identifiers per chunk
	idChunks     = 65536 / idChunkBits
	idWords      = idChunks * idChunkWords
)

// idChunk is the bitmap of 4096 consecutive identifiers (512 bytes).
type idChunk [idChunkWords]uint64

// idSet allocates MQTT packet identifiers: never 0 [MQTT-2.3.1-1], never
// one that is in use [MQTT-2.3.1-2], and an identifier comes back only when
// Free is called for it, after the final acknowledgement [MQTT-2.3.1-3].
//
// It is a bitmap of the 65536 values with a rotating cursor: Alloc continues
// after the identifier it handed out last, so a freed identifier is reused
// as late as possible, and it scans 64 identifiers per word, so allocation
// is O(1) amortised. The bitmap is sparse: it is cut into 16 chunks of 4096
// identifiers, and a chunk is allocated only while one of its identifiers
// is in use (a missing chunk is all free). An idle session holds no chunk;
// a window of w identifiers in flight holds about w/4096 + 2 chunks of 512
// bytes, and one emptied chunk is kept as a spare so that a cursor moving
// from chunk to chunk allocates nothing in steady state. The zero value is
// not ready; use newIDSet.
type idSet struct {
	chunks [idChunks]*idChunk
	count  [idChunks]uint16 // identifiers in use per chunk
	spare  *idChunk         // an emptied chunk, zeroed, kept for reuse
	cursor uint16           // the identifier handed out last
	used   int              // identifiers in use, 0 not counted
}

func newIDSet() *idSet { return &idSet{} }

// Len returns the number of identifiers in use.
func (s *idSet) Len() int { return s.used }

// Full reports whether every identifier is in use.
func (s *idSet) Full() bool { return s.used == MaxPacketIDs }

// InUse reports whether id is allocated. 0 is always reported in use
// [MQTT-2.3.1-1].
func (s *idSet) InUse(id uint16) bool {
	if id == 0 {
		return true
	}
	c := s.chunks[id/idChunkBits]
	return c != nil && c[id%idChunkBits>>6]&(1<<(id&63)) != 0
}

// word returns the bitmap word w (0..1023) as Alloc sees it: identifier 0
// always set, a missing chunk all clear.
func (s *idSet) word(w uint32) uint64 {
	var v uint64
	if c := s.chunks[w/idChunkWords]; c != nil {
		v = c[w%idChunkWords]
	}
	if w == 0 {
		v |= 1
	}
	return v
}

// set marks id in use, allocating its chunk if needed. id is not 0 and not
// in use.
func (s *idSet) set(id uint16) {
	ci := id / idChunkBits
	c := s.chunks[ci]
	if c == nil {
		if c = s.spare; c != nil {
			s.spare = nil
		} else {
			c = new(idChunk)
		}
		s.chunks[ci] = c
	}
	c[id%idChunkBits>>6] |= 1 << (id & 63)
	s.count[ci]++
	s.used++
}

// Alloc returns the next free identifier after the cursor, or
// ErrNoPacketID when all 65535 are in use.
func (s *idSet) Alloc() (uint16, error) {
	if s.used == MaxPacketIDs {
		return 0, ErrNoPacketID
	}
	start := uint32(s.cursor) + 1 // first candidate
	// Scan whole words starting at the word of the candidate, masking off the
	// bits before the candidate in the first word, wrapping once around.
	w := (start >> 6) % idWords
	mask := ^uint64(0) << (start & 63) // start 65536 wraps to word 0, bit 0
	for i := 0; i <= idWords; i++ {
		free := ^s.word(w) & mask
		if free != 0 {
			id := uint16(w<<6 | uint32(bits.TrailingZeros64(free)))
			s.set(id)
			s.cursor = id
			return id, nil
		}
		w = (w + 1) % idWords
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
	s.set(id)
	return nil
}

// Free releases id. Freeing 0 or a free identifier does nothing and reports
// false. A chunk left empty is let go (or kept as the spare).
func (s *idSet) Free(id uint16) bool {
	if id == 0 || !s.InUse(id) {
		return false
	}
	ci := id / idChunkBits
	c := s.chunks[ci]
	c[id%idChunkBits>>6] &^= 1 << (id & 63)
	s.used--
	if s.count[ci]--; s.count[ci] == 0 {
		s.chunks[ci] = nil
		if s.spare == nil {
			s.spare = c // every bit is clear again
		}
	}
	return true
}

// Reset frees every identifier and keeps the cursor where it is, so that
// identifiers of a discarded session are not the first ones reused.
func (s *idSet) Reset() {
	for i, c := range s.chunks {
		if c != nil && s.spare == nil {
			*c = idChunk{}
			s.spare = c
		}
		s.chunks[i], s.count[i] = nil, 0
	}
	s.used = 0
}
