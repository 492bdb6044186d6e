package session

// ring is a FIFO queue on a circular buffer. It allocates only when it grows
// past its largest size so far, so a queue in steady state allocates nothing.
type ring[T any] struct {
	buf  []T
	head int // index of the first element
	n    int // number of elements
}

func (r *ring[T]) Len() int { return r.n }

func (r *ring[T]) Push(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)%len(r.buf)] = v
	r.n++
}

func (r *ring[T]) grow() {
	size := 2 * len(r.buf)
	if size == 0 {
		size = 16
	}
	buf := make([]T, size)
	for i := 0; i < r.n; i++ {
		buf[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = buf, 0
}

// Pop removes and returns the first element. The queue must not be empty.
func (r *ring[T]) Pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero // drop references for the garbage collector
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return v
}

// At returns a pointer to the i-th element, 0 being the first.
func (r *ring[T]) At(i int) *T { return &r.buf[(r.head+i)%len(r.buf)] }

// Clear removes every element and keeps the buffer.
func (r *ring[T]) Clear() {
	var zero T
	for i := 0; i < r.n; i++ {
		r.buf[(r.head+i)%len(r.buf)] = zero
	}
	r.head, r.n = 0, 0
}

// outList is an intrusive doubly linked list of records, in insertion order,
// with O(1) removal from the middle. A record is on at most one list.
type outList struct {
	head, tail *outRecord
	n          int
}

func (l *outList) Len() int { return l.n }

func (l *outList) PushBack(r *outRecord) {
	r.list, r.prev, r.next = l, l.tail, nil
	if l.tail == nil {
		l.head = r
	} else {
		l.tail.next = r
	}
	l.tail = r
	l.n++
}

func (l *outList) Remove(r *outRecord) {
	if r.list != l {
		return
	}
	if r.prev == nil {
		l.head = r.next
	} else {
		r.prev.next = r.next
	}
	if r.next == nil {
		l.tail = r.prev
	} else {
		r.next.prev = r.prev
	}
	r.list, r.prev, r.next = nil, nil, nil
	l.n--
}

// InsertAfter puts r, which is on no list, right after at, which is on l.
func (l *outList) InsertAfter(at, r *outRecord) {
	if at == nil {
		r.list, r.prev, r.next = l, nil, l.head
		if l.head == nil {
			l.tail = r
		} else {
			l.head.prev = r
		}
		l.head = r
		l.n++
		return
	}
	r.list, r.prev, r.next = l, at, at.next
	if at.next == nil {
		l.tail = r
	} else {
		at.next.prev = r
	}
	at.next = r
	l.n++
}

// PopFront removes and returns the first record, or nil.
func (l *outList) PopFront() *outRecord {
	r := l.head
	if r != nil {
		l.Remove(r)
	}
	return r
}

// AppendList moves every record of o to the back of l.
func (l *outList) AppendList(o *outList) {
	for r := o.PopFront(); r != nil; r = o.PopFront() {
		l.PushBack(r)
	}
}
