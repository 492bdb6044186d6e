package packet

import "io"

// Writer encodes packets into a reused buffer and writes them to a stream,
// one Write call per flush: WritePacket writes one packet in one call, and
// Queue with Flush writes a batch in one call.
//
// Packets are checked against the spec before they are written unless
// AllowIllegalWrites is on.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	dst     io.Writer
	buf     []byte
	illegal bool
}

// NewWriter returns a Writer on dst.
func NewWriter(dst io.Writer) *Writer { return &Writer{dst: dst} }

// AllowIllegalWrites turns off the checks of the spec, so that a
// conformance test or fuzzer can send packets a broker must refuse (see
// AppendIllegal). A client never turns it on.
func (w *Writer) AllowIllegalWrites(allow bool) { w.illegal = allow }

// Queue encodes p after the packets already queued, without writing. A
// packet that fails its checks is not queued and leaves the queue as it was.
func (w *Writer) Queue(p Packet) error {
	b, err := p.appendTo(w.buf, !w.illegal)
	if err != nil {
		return err
	}
	w.buf = b
	return nil
}

// Buffered returns the number of queued bytes.
func (w *Writer) Buffered() int { return len(w.buf) }

// Flush writes every queued packet in one Write call. On an error the queue
// is dropped: the stream is broken and what reached it is unknown.
func (w *Writer) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.dst.Write(w.buf)
	if cap(w.buf) > shrinkAbove {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	return err
}

// WritePacket queues p and flushes: p, after anything queued before it,
// goes out in one Write call.
func (w *Writer) WritePacket(p Packet) error {
	if err := w.Queue(p); err != nil {
		return err
	}
	return w.Flush()
}
