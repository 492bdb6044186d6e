package session

// Compact releases what the session keeps only for reuse: the backing
// arrays of its empty queues, its pools of records, the spare chunk of the
// packet-identifier set, the encoding buffer, and its tables while they are
// empty. Nothing the session holds is lost: a queue, table or pool that is
// not empty stays as it is. The next message allocates again what it needs.
//
// A queue in steady state allocates nothing, so calling Compact on every
// turn would undo that; an owner calls it once its connection has been idle
// for a while (the client does it a second after its last activity), so
// that thousands of idle connections cost what they hold, not what their
// busiest moment needed.
func (s *Session) Compact() {
	compactRing(&s.control)
	compactRing(&s.pubs)
	compactRing(&s.events)
	compactRing(&s.acks)
	s.outPool, s.inPool, s.enc = nil, nil, nil
	s.ids.spare = nil
	if len(s.byPID) == 0 {
		s.byPID = make(map[uint16]*outRecord)
	}
	if len(s.inbound) == 0 {
		s.inbound = make(map[uint16]*inRecord)
	}
	if len(s.extraComp) == 0 {
		s.extraComp = nil
	}
}

// compactRing drops the backing array of an empty ring.
func compactRing[T any](r *ring[T]) {
	if r.n == 0 {
		r.buf, r.head = nil, 0
	}
}
