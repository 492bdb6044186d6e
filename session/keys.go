package session

import (
	"strconv"
	"sync/atomic"
)

// The store keys of packet identifiers ("s-123", "sc-123", "r-123") come
// from one table per prefix, shared by every session of the process and
// built 256 identifiers at a time on first use. A key is a substring of its
// chunk's single string, so handing it out does not allocate, and the
// memory is paid once per process, at most about 600 KB per prefix once a
// long-lived client has cycled through all 65,535 identifiers (a per-session
// map of the same keys took several megabytes per session).
var keyTables [3][256]atomic.Pointer[keyChunk]

// keyChunk holds the keys of 256 consecutive packet identifiers: key i is
// s[off[i]:off[i+1]].
type keyChunk struct {
	s   string
	off [257]uint16
}

// storeKey returns the store key of pid under the prefix of kind.
func storeKey(kind int, pid uint16) string {
	slot := &keyTables[kind][pid>>8]
	c := slot.Load()
	if c == nil {
		c = newKeyChunk(keyPrefixes[kind], pid&^0xff)
		if !slot.CompareAndSwap(nil, c) {
			c = slot.Load() // another session built the same chunk first
		}
	}
	i := pid & 0xff
	return c.s[c.off[i]:c.off[i+1]]
}

func newKeyChunk(prefix string, first uint16) *keyChunk {
	c := new(keyChunk)
	b := make([]byte, 0, 256*(len(prefix)+5))
	for i := range 256 {
		c.off[i] = uint16(len(b))
		b = append(b, prefix...)
		b = strconv.AppendUint(b, uint64(first)+uint64(i), 10)
	}
	c.off[256] = uint16(len(b))
	c.s = string(b)
	return c
}
