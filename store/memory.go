package store

import (
	"cmp"
	"slices"
	"sync"
)

// Memory is a Persistence that keeps records in memory, like Paho's
// MemoryPersistence. Records do not survive Close: Close discards them, and
// the next Open starts empty.
//
// Memory is safe for concurrent use. Put copies the value once; a value
// removed by Remove or Clear gives its buffer back to a small free list that
// later Puts reuse, so a steady stream of Put and Remove allocates nothing.
type Memory struct {
	mu      sync.RWMutex
	open    bool
	seq     uint64
	records map[string]memRecord
	free    [][]byte // buffers of removed records, reused by Put
}

type memRecord struct {
	seq  uint64
	data []byte
}

// Free-list bounds: at most memFreeMax buffers, each at most memFreeCap bytes,
// so a burst of large values does not pin memory after it is removed.
const (
	memFreeMax = 64
	memFreeCap = 64 << 10
)

var _ Persistence = (*Memory)(nil)

// NewMemory returns a memory store. Open it before use.
func NewMemory() *Memory {
	return &Memory{}
}

// Open prepares the store. The client id and server URI are not used: each
// Memory holds the records of one client.
func (m *Memory) Open(clientID, serverURI string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.open {
		return ErrAlreadyOpen
	}
	m.open = true
	m.seq = 0
	m.records = make(map[string]memRecord)
	return nil
}

// Put stores a copy of data under key.
func (m *Memory) Put(key string, data []byte) error {
	if err := checkPut(key, data); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.open {
		return ErrClosed
	}
	if r, ok := m.records[key]; ok {
		// Over an existing key: keep the place, reuse the buffer if it fits.
		// Get hands out copies, so nobody else holds r.data.
		r.data = m.fill(r.data, data)
		m.records[key] = r
		return nil
	}
	m.seq++
	m.records[key] = memRecord{seq: m.seq, data: m.fill(m.takeFree(len(data)), data)}
	return nil
}

// fill copies data into buf, growing it only when it is too small.
func (m *Memory) fill(buf, data []byte) []byte {
	if cap(buf) < len(data) {
		return append([]byte(nil), data...)
	}
	buf = buf[:len(data)]
	copy(buf, data)
	return buf
}

func (m *Memory) takeFree(n int) []byte {
	for i := len(m.free) - 1; i >= 0; i-- {
		if cap(m.free[i]) >= n {
			b := m.free[i]
			m.free[i] = m.free[len(m.free)-1]
			m.free[len(m.free)-1] = nil
			m.free = m.free[:len(m.free)-1]
			return b
		}
	}
	return nil
}

func (m *Memory) putFree(b []byte) {
	if cap(b) == 0 || cap(b) > memFreeCap || len(m.free) >= memFreeMax {
		return
	}
	m.free = append(m.free, b[:0])
}

// Get returns a copy of the value stored under key.
func (m *Memory) Get(key string) ([]byte, error) {
	b, err := m.AppendValue(nil, key)
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{} // an empty value is still a value
	}
	return b, nil
}

// AppendValue appends the value stored under key to dst and returns the
// extended slice. It allocates nothing when dst has room, which Get cannot
// promise.
func (m *Memory) AppendValue(dst []byte, key string) ([]byte, error) {
	if err := ValidKey(key); err != nil {
		return dst, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return dst, ErrClosed
	}
	r, ok := m.records[key]
	if !ok {
		return dst, ErrNotFound
	}
	return append(dst, r.data...), nil
}

// Remove deletes key. Removing an absent key is not an error.
func (m *Memory) Remove(key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.open {
		return ErrClosed
	}
	if r, ok := m.records[key]; ok {
		delete(m.records, key)
		m.putFree(r.data)
	}
	return nil
}

// Trim lets go of what the store keeps only for reuse: the buffers of
// removed records and, when it holds no record, the grown table. Records are
// untouched. A client calls it once its connection has been idle for a
// while, so that an idle client holds nothing here; Put and Remove in steady
// state allocate nothing, because Trim is not called between them.
func (m *Memory) Trim() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.free)
	m.free = nil
	if m.open && len(m.records) == 0 {
		m.records = make(map[string]memRecord)
	}
}

// Keys returns the keys in insertion order.
func (m *Memory) Keys() ([]string, error) {
	m.mu.RLock()
	if !m.open {
		m.mu.RUnlock()
		return nil, ErrClosed
	}
	type ks struct {
		seq uint64
		key string
	}
	all := make([]ks, 0, len(m.records))
	for k, r := range m.records {
		all = append(all, ks{r.seq, k})
	}
	m.mu.RUnlock()
	// Sorting pointers rather than the structs themselves shares the sort
	// code every program already has for pointer slices (the generic
	// instantiation for structs cost about 15 KB of binary).
	byPtr := make([]*ks, len(all))
	for i := range all {
		byPtr[i] = &all[i]
	}
	slices.SortFunc(byPtr, func(a, b *ks) int { return cmp.Compare(a.seq, b.seq) })
	keys := make([]string, len(all))
	for i, e := range byPtr {
		keys[i] = e.key
	}
	return keys, nil
}

// Contains reports whether key is stored.
func (m *Memory) Contains(key string) (bool, error) {
	if err := ValidKey(key); err != nil {
		return false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return false, ErrClosed
	}
	_, ok := m.records[key]
	return ok, nil
}

// Clear removes every record.
func (m *Memory) Clear() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.open {
		return ErrClosed
	}
	for k, r := range m.records {
		delete(m.records, k)
		m.putFree(r.data)
	}
	return nil
}

// Close discards every record. Closing a closed store is not an error.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open = false
	m.records = nil
	m.free = nil
	return nil
}
