//go:build !linnet_nows

package transport

import (
	"bufio"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// WebSocket opcodes and close codes (RFC 6455 §5.2, §7.4.1).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	closeNormal       = 1000
	closeProtocol     = 1002
	closeUnsupported  = 1003
	closeNoStatus     = 1005
	closeTooBig       = 1009
	maxControlPayload = 125
	maxFrameHeader    = 14
	writeChunk        = 16 << 10 // masked bytes per write call on large frames
	closeWriteTimeout = time.Second
)

// wsConn is an MQTT byte stream over a WebSocket, as a net.Conn. Each Write
// sends one binary frame; Read returns the payload of binary frames as one
// stream, whatever the framing ([MQTT-6.0.0-2]).
//
// Concurrency: Read calls are serialised by rmu, which guards the read
// state; Write calls and control frames by wmu, which guards the write
// state. A ping read while a Write holds wmu is answered by that writer
// before it unlocks (see unlockWrite), so a Read never waits for a Write.
// Close may be called at any time from any goroutine.
type wsConn struct {
	conn     net.Conn
	client   bool // a client masks what it writes; a server (tests only) unmasks what it reads
	maxFrame int64

	rmu        sync.Mutex
	br         *bufio.Reader
	remaining  int64   // payload bytes left in the current data frame
	rmask      [4]byte // mask of the current frame (server mode)
	rmaskPos   int
	rmasked    bool
	fragmented bool  // inside a fragmented binary message
	rerr       error // sticky read error
	ctlBuf     [maxControlPayload]byte

	wmu  sync.Mutex
	wbuf []byte // reused frame buffer: header and masked payload
	rng  *rand.ChaCha8
	werr error // sticky: a frame was written only in part

	pmu        sync.Mutex // guards pong
	pong       [maxControlPayload]byte
	pongLen    int
	ctlPending atomic.Bool // a pong waits for the write lock

	closeOnce  sync.Once
	closed     atomic.Bool
	peerClosed atomic.Bool // the close handshake has been done from Read
	closeErr   error
}

func newWSConn(conn net.Conn, br *bufio.Reader, client bool, maxFrame int64) *wsConn {
	c := &wsConn{conn: conn, br: br, client: client, maxFrame: maxFrame,
		wbuf: make([]byte, 0, 512)}
	if client {
		var seed [32]byte
		_, _ = crand.Read(seed[:])
		c.rng = rand.NewChaCha8(seed)
	}
	return c
}

// Read reads MQTT bytes from the payload of binary frames. It answers
// pings. After the server's close frame it returns io.EOF for a normal
// closure (status 1000 or none, no reason) and a *CloseError wrapping
// io.EOF otherwise; after a protocol violation, a *WebSocketError.
func (c *wsConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rerr != nil {
		return 0, c.rerr
	}
	if c.closed.Load() {
		return 0, &net.OpError{Op: "read", Net: "websocket", Addr: c.conn.RemoteAddr(), Err: net.ErrClosed}
	}
	if len(p) == 0 {
		return 0, nil
	}
	for c.remaining == 0 {
		if err := c.nextFrame(); err != nil {
			return 0, c.readFailed(err)
		}
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	if c.rmasked {
		c.rmaskPos = maskBytes(c.rmask, c.rmaskPos, p[:n])
	}
	c.remaining -= int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the frame was cut short
		}
		return n, c.readFailed(err)
	}
	return n, nil
}

// readFailed makes err sticky unless it is a timeout, after which reading
// may go on: the frame parser consumes nothing until a whole header is
// buffered, and payload reads track what they consumed.
func (c *wsConn) readFailed(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	c.rerr = err
	return err
}

// nextFrame reads one frame header, handles control frames whole, and
// sets up the payload of a data frame for Read.
func (c *wsConn) nextFrame() error {
	hdr, err := c.br.Peek(2)
	if err != nil {
		if errors.Is(err, io.EOF) && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	fin, rsv, op := hdr[0]&0x80 != 0, hdr[0]&0x70, hdr[0]&0x0f
	masked, length := hdr[1]&0x80 != 0, int64(hdr[1]&0x7f)
	size := 2
	switch length {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if masked {
		size += 4
	}
	if rsv != 0 {
		return c.fail(closeProtocol, ErrWebSocketProtocol, "reserved bits set, no extension was negotiated")
	}
	if masked == c.client {
		if c.client {
			return c.fail(closeProtocol, ErrWebSocketProtocol, "masked frame from the server")
		}
		return c.fail(closeProtocol, ErrWebSocketProtocol, "unmasked frame from the client")
	}
	if hdr, err = c.br.Peek(size); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	switch length {
	case 126:
		length = int64(binary.BigEndian.Uint16(hdr[2:]))
	case 127:
		l := binary.BigEndian.Uint64(hdr[2:])
		if l>>63 != 0 {
			return c.fail(closeProtocol, ErrWebSocketProtocol, "payload length has its top bit set")
		}
		length = int64(l)
	}
	var mask [4]byte
	if masked {
		copy(mask[:], hdr[size-4:])
	}

	if op&0x8 != 0 { // control frame, read whole
		if !fin || length > maxControlPayload {
			return c.fail(closeProtocol, ErrWebSocketProtocol, "fragmented or oversized control frame")
		}
		frame, err := c.br.Peek(size + int(length))
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		payload := c.ctlBuf[:copy(c.ctlBuf[:], frame[size:])]
		if masked {
			maskBytes(mask, 0, payload)
		}
		_, _ = c.br.Discard(size + int(length))
		switch op {
		case opClose:
			return c.peerClose(payload)
		case opPing:
			c.queuePong(payload)
		case opPong:
		default:
			return c.fail(closeProtocol, ErrWebSocketProtocol, "reserved control opcode")
		}
		return nil
	}

	switch op {
	case opBinary:
		if c.fragmented {
			return c.fail(closeProtocol, ErrWebSocketProtocol, "new message inside a fragmented one")
		}
	case opContinuation:
		if !c.fragmented {
			return c.fail(closeProtocol, ErrWebSocketProtocol, "continuation frame without a message")
		}
	case opText: // [MQTT-6.0.0-1]
		return c.fail(closeUnsupported, ErrTextFrame, "the connection is closed")
	default:
		return c.fail(closeProtocol, ErrWebSocketProtocol, "reserved data opcode")
	}
	if length > c.maxFrame {
		return c.fail(closeTooBig, ErrFrameTooLarge, "frame payload exceeds the maximum frame size")
	}
	_, _ = c.br.Discard(size)
	c.fragmented = !fin
	c.remaining = length
	c.rmask, c.rmaskPos, c.rmasked = mask, 0, masked
	return nil
}

// fail sends a close frame with code and closes the connection.
func (c *wsConn) fail(code int, kind error, detail string) error {
	c.closeWith(code, "")
	return &WebSocketError{Err: kind, Detail: detail}
}

// peerClose answers the server's close frame and ends the connection.
func (c *wsConn) peerClose(payload []byte) error {
	code, reason := closeNoStatus, ""
	switch {
	case len(payload) == 1:
		return c.fail(closeProtocol, ErrWebSocketProtocol, "close frame with a 1-byte payload")
	case len(payload) >= 2:
		code = int(binary.BigEndian.Uint16(payload))
		reason = string(payload[2:])
		if !utf8.ValidString(reason) {
			reason = "(invalid UTF-8)"
		}
	}
	c.peerClosed.Store(true)
	echo := code
	if code == closeNoStatus {
		echo = 0
	}
	c.closeWith(echo, "")
	if (code == closeNormal || code == closeNoStatus) && reason == "" {
		return io.EOF // a plain end of stream, as io.ReadFull and bufio expect it
	}
	return &CloseError{Code: code, Reason: reason}
}

// queuePong records the payload of a ping and writes the pong now if no
// Write holds the write lock; otherwise that Write sends it.
func (c *wsConn) queuePong(payload []byte) {
	c.pmu.Lock()
	c.pongLen = copy(c.pong[:], payload)
	c.pmu.Unlock()
	c.ctlPending.Store(true)
	if c.wmu.TryLock() {
		c.unlockWrite()
	}
}

// unlockWrite writes a pending pong, then releases wmu; it checks again
// after unlocking so that a pong queued meanwhile is never stranded.
func (c *wsConn) unlockWrite() {
	for {
		if c.ctlPending.Load() {
			var buf [maxControlPayload]byte
			c.pmu.Lock()
			n := copy(buf[:], c.pong[:c.pongLen])
			c.ctlPending.Store(false)
			c.pmu.Unlock()
			if c.werr == nil {
				_, _ = c.writeFrame(opPong, buf[:n])
			}
		}
		c.wmu.Unlock()
		if !c.ctlPending.Load() || !c.wmu.TryLock() {
			return
		}
	}
}

// Write sends p as one binary frame.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.unlockWrite()
	if c.werr != nil {
		return 0, c.werr
	}
	if c.closed.Load() {
		return 0, &net.OpError{Op: "write", Net: "websocket", Addr: c.conn.RemoteAddr(), Err: net.ErrClosed}
	}
	return c.writeFrame(opBinary, p)
}

// writeFrame writes one frame, masking into the reused buffer in chunks.
// It returns how many bytes of p were written. Callers hold wmu.
func (c *wsConn) writeFrame(op byte, p []byte) (int, error) {
	if want := min(maxFrameHeader+len(p), writeChunk); cap(c.wbuf) < want {
		c.wbuf = make([]byte, 0, min(max(want, 2*cap(c.wbuf)), writeChunk))
	}
	b := append(c.wbuf[:0], 0x80|op)
	var maskBit byte
	if c.client {
		maskBit = 0x80
	}
	switch n := len(p); {
	case n <= 125:
		b = append(b, maskBit|byte(n))
	case n <= 0xffff:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var mask [4]byte
	if c.client {
		binary.LittleEndian.PutUint32(mask[:], uint32(c.rng.Uint64()))
		b = append(b, mask[:]...)
	}
	hdrLen := len(b)
	written, pos, off := 0, 0, 0
	for {
		chunk := min(len(p)-off, cap(b)-len(b))
		start := len(b)
		b = append(b, p[off:off+chunk]...)
		if c.client {
			pos = maskBytes(mask, pos, b[start:])
		}
		off += chunk
		n, err := c.conn.Write(b)
		written += n
		if err != nil {
			var ne net.Error
			if written > 0 || !(errors.As(err, &ne) && ne.Timeout()) {
				c.werr = err // the stream is out of frame sync
			}
			return max(written-hdrLen, 0), err
		}
		b = b[:0]
		if off == len(p) {
			break
		}
	}
	return len(p), nil
}

// closeWith writes a close frame with code (none if 0) when the write lock
// is free, then closes the connection. It runs once.
func (c *wsConn) closeWith(code int, reason string) {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if c.wmu.TryLock() {
			if c.werr == nil {
				var payload [maxControlPayload]byte
				n := 0
				if code != 0 {
					binary.BigEndian.PutUint16(payload[:], uint16(code))
					n = 2 + copy(payload[2:], reason)
				}
				_ = c.conn.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
				_, _ = c.writeFrame(opClose, payload[:n])
			}
			c.wmu.Unlock()
		}
		c.closeErr = c.conn.Close()
	})
}

// Close sends a close frame (status 1000) if no Write is in progress and
// closes the connection, which unblocks pending Reads and Writes. It is
// idempotent: later calls do nothing and return nil.
func (c *wsConn) Close() error {
	first := !c.closed.Load()
	c.closeWith(closeNormal, "")
	if first {
		return c.closeErr
	}
	return nil
}

func (c *wsConn) LocalAddr() net.Addr                { return c.conn.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr               { return c.conn.RemoteAddr() }
func (c *wsConn) SetDeadline(t time.Time) error      { return c.conn.SetDeadline(t) }
func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.conn.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// maskBytes XORs b with the mask starting at mask position pos and returns
// the position after b. Eight bytes at a time on the aligned middle.
func maskBytes(mask [4]byte, pos int, b []byte) int {
	i := 0
	for ; i < len(b) && pos&3 != 0; i++ {
		b[i] ^= mask[pos&3]
		pos++
	}
	if len(b)-i >= 8 {
		k := uint64(binary.LittleEndian.Uint32(mask[:]))
		k |= k << 32
		for ; len(b)-i >= 8; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= mask[pos&3]
		pos++
	}
	return pos & 3
}
