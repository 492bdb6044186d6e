package packet

import (
	"errors"
	"io"
)

// InitialReadBufferSize is the size of a new Reader's buffer: enough for
// the packets of an idle connection (CONNACK, PINGRESP, acks), so that
// thousands of idle connections cost little.
const InitialReadBufferSize = 512

// DefaultReadBufferSize is the size a Reader's buffer grows to, doubling
// from InitialReadBufferSize, while the stream keeps filling it (every Read
// fills the room there is), so that a busy connection reads many packets per
// Read call. Only a packet larger than it makes the buffer grow further.
const DefaultReadBufferSize = 4096

// shrinkAbove is the buffer size over which an empty Reader buffer is let go,
// so that one large packet does not pin its memory for the connection's life.
const shrinkAbove = 64 << 10

// Reader reads MQTT packets from a byte stream.
//
// The packets ReadPacket returns belong to the Reader and are reused: a
// packet, its strings' backing and its byte slices are valid until the next
// call. Clone what must outlive it. In steady state, reading PUBLISH packets
// on a bounded set of topics allocates nothing: the Reader interns topic
// names and filters, and remembers the last few that passed their checks,
// so that a topic seen again costs one comparison.
//
// The maximum packet size is checked as soon as the fixed header is read,
// before the buffer grows; the buffer then grows only as the packet's bytes
// arrive, so a peer that announces a large packet and stalls costs little.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	src        io.Reader
	buf        []byte
	start, end int // buf[start:end] is read but not yet returned
	max        int
	err        error // a stream error that came with the bytes that completed a packet
	full       bool  // the last Read filled the buffer: the stream has more, grow
	// in interns topics and filters. It is made on the first packet that
	// has some (PUBLISH, SUBSCRIBE, UNSUBSCRIBE, CONNECT), so that an idle
	// connection does not pay for its tables.
	in *interner
	// pk holds one reused value per packet type: inline for the packets a
	// client reads, made on first use for those only a server reads, so
	// that a client's Reader stays small.
	pk struct {
		connack  Connack
		publish  Publish
		puback   Puback
		pubrec   Pubrec
		pubrel   Pubrel
		pubcomp  Pubcomp
		suback   Suback
		unsuback Unsuback
		pingreq  Pingreq
		pingresp Pingresp
		disc     Disconnect

		connect     *Connect
		subscribe   *Subscribe
		unsubscribe *Unsubscribe
	}
}

// NewReader returns a Reader on src that accepts packets up to
// MaxPacketSize; see SetMaxPacketSize.
func NewReader(src io.Reader) *Reader {
	return &Reader{src: src, max: MaxPacketSize}
}

// SetMaxPacketSize sets the largest packet, fixed header included, that
// ReadPacket accepts. n <= 0 or over MaxPacketSize means MaxPacketSize. A
// larger packet fails with a *ProtocolError matching ErrPacketTooLarge.
func (r *Reader) SetMaxPacketSize(n int) {
	if n <= 0 || n > MaxPacketSize {
		n = MaxPacketSize
	}
	r.max = n
}

// Reset discards any buffered bytes and a pending stream error and makes r
// read from src, keeping its buffer, its interned strings and its maximum
// packet size, like bufio.Reader.Reset. It lets one Reader serve connection
// after connection without allocating.
func (r *Reader) Reset(src io.Reader) {
	r.src, r.err, r.full = src, nil, false
	r.start, r.end = 0, 0
}

// MaxPacketSize returns the limit set by SetMaxPacketSize.
func (r *Reader) MaxPacketSize() int { return r.max }

// Buffered returns the number of bytes read from the stream but not yet
// returned as packets.
func (r *Reader) Buffered() int { return r.end - r.start }

// Ready reports whether the next ReadPacket returns without reading from
// the stream: a whole packet is buffered, or what is buffered already fails
// (a malformed fixed header, a packet over the size limit, a stream error
// kept from the last Read). A caller that collects several packets per
// wake-up reads on while Ready is true; the packets it has taken stay valid
// as long as ReadPacket is not called with Ready false (the buffer is moved
// or refilled only then).
func (r *Reader) Ready() bool {
	if r.start == r.end {
		return false
	}
	_, _, rl, hl, err := parseFixedHeader(r.buf[r.start:r.end])
	if err == io.ErrUnexpectedEOF {
		return r.err != nil
	}
	return err != nil || hl+rl <= r.end-r.start || hl+rl > r.max || r.err != nil
}

// ReadPacket reads and decodes the next packet.
//
// It returns io.EOF when the stream ends cleanly between packets,
// io.ErrUnexpectedEOF when it ends inside one, a *ProtocolError for a packet
// that breaks the spec or the size limit, io.ErrNoProgress when the stream
// returns neither bytes nor an error 100 times in a row, and other errors
// from the stream as they are (after any packet completed by the same Read). After a *ProtocolError the stream cannot be trusted: MQTT
// closes the connection [MQTT-4.8.0-1].
func (r *Reader) ReadPacket() (Packet, error) {
	if r.start == r.end {
		r.start, r.end = 0, 0
		if cap(r.buf) > shrinkAbove {
			r.buf = nil
		}
	}
	// The fixed header: at most five bytes.
	var (
		t     Type
		flags byte
		rl    int
		hl    int
		err   error
	)
	if r.end-r.start < 2 {
		// Nothing of the header yet (the usual case between packets):
		// read before parsing.
		if err = r.fill(2, true); err != nil {
			return nil, err
		}
	}
	for {
		t, flags, rl, hl, err = parseFixedHeader(r.buf[r.start:r.end])
		if err != io.ErrUnexpectedEOF {
			break
		}
		if err = r.fill(5, true); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	total := hl + rl
	if total > r.max {
		return nil, sizeError(t, total, r.max)
	}
	if err := r.fill(total, false); err != nil {
		return nil, err
	}
	p := r.packet(t)
	body := r.buf[r.start+hl : r.start+total : r.start+total]
	r.start += total
	if err := p.decode(flags, body, r.in); err != nil {
		return nil, err
	}
	return p, nil
}

// maxEmptyReads is how many (0, nil) reads in a row fill accepts before it
// gives up with io.ErrNoProgress, as bufio does: io.Reader allows an
// occasional empty read, and it means nothing happened.
const maxEmptyReads = 100

// fill reads until buf holds want bytes past start. With some set, it
// returns as soon as any new byte arrives instead (the fixed header's length
// is not known until its bytes are there). A stream that ends is io.EOF when
// nothing of the packet has arrived, io.ErrUnexpectedEOF after part of it.
// An error that arrives with bytes is kept for the next fill, so that a
// packet completed by a Read returning (n, io.EOF) is still returned.
func (r *Reader) fill(want int, some bool) error {
	empty := 0
	for r.end-r.start < want {
		if r.err != nil {
			return r.streamError()
		}
		if r.end == len(r.buf) {
			r.grow(want)
		}
		n, err := r.src.Read(r.buf[r.end:])
		if n < 0 || n > len(r.buf)-r.end {
			return errors.New("mqtt: stream reader returned an impossible count")
		}
		r.end += n
		r.full = r.end == len(r.buf)
		r.err = err
		if n > 0 {
			empty = 0
			if some {
				return nil
			}
			continue
		}
		if err == nil {
			if empty++; empty >= maxEmptyReads {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

// streamError turns the pending stream error into what ReadPacket returns:
// io.EOF between packets, io.ErrUnexpectedEOF inside one, others as they are.
func (r *Reader) streamError() error {
	if r.err != io.EOF {
		return r.err
	}
	if r.end == r.start {
		return io.EOF
	}
	return io.ErrUnexpectedEOF
}

// grow makes room after end for a packet of need bytes from start: by
// moving the unread bytes to the front when the buffer is large enough,
// else by doubling it, never past need (a new buffer is
// InitialReadBufferSize). A buffer that the last Read filled doubles too,
// up to DefaultReadBufferSize: the stream has more than it holds.
func (r *Reader) grow(need int) {
	unread := r.end - r.start
	c := cap(r.buf)
	busy := r.full && c < DefaultReadBufferSize
	r.full = false
	if c >= need && r.start > 0 && !busy {
		copy(r.buf, r.buf[r.start:r.end])
	} else {
		size := max(InitialReadBufferSize, min(2*c, need))
		if busy {
			size = max(size, min(2*c, DefaultReadBufferSize))
		}
		nb := make([]byte, size)
		copy(nb, r.buf[r.start:r.end])
		r.buf = nb
	}
	r.start, r.end = 0, unread
}

// packet returns the reused value for packets of type t, making it (and
// the interner, for the types that intern strings) on first use.
func (r *Reader) packet(t Type) Packet {
	switch t {
	case TypeConnack:
		return &r.pk.connack
	case TypePublish:
		r.interning()
		return &r.pk.publish
	case TypePuback:
		return &r.pk.puback
	case TypePubrec:
		return &r.pk.pubrec
	case TypePubrel:
		return &r.pk.pubrel
	case TypePubcomp:
		return &r.pk.pubcomp
	case TypeSuback:
		return &r.pk.suback
	case TypeUnsuback:
		return &r.pk.unsuback
	case TypePingreq:
		return &r.pk.pingreq
	case TypePingresp:
		return &r.pk.pingresp
	case TypeConnect:
		r.interning()
		if r.pk.connect == nil {
			r.pk.connect = new(Connect)
		}
		return r.pk.connect
	case TypeSubscribe:
		r.interning()
		if r.pk.subscribe == nil {
			r.pk.subscribe = new(Subscribe)
		}
		return r.pk.subscribe
	case TypeUnsubscribe:
		r.interning()
		if r.pk.unsubscribe == nil {
			r.pk.unsubscribe = new(Unsubscribe)
		}
		return r.pk.unsubscribe
	}
	return &r.pk.disc
}

func (r *Reader) interning() {
	if r.in == nil {
		r.in = new(interner)
	}
}
