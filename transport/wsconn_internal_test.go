//go:build !linnet_nows

package transport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

// wsPipe returns a client and a server WebSocket over net.Pipe.
func wsPipe() (client, server *wsConn) {
	a, b := net.Pipe()
	return newWSConn(a, bufio.NewReader(a), true, DefaultMaxFrameSize),
		newWSConn(b, bufio.NewReader(b), false, DefaultMaxFrameSize)
}

// TestWSConnNetConn runs the net.Conn conformance suite of x/net on the
// WebSocket conn: deadlines, concurrent use, Close unblocking I/O.
func TestWSConnNetConn(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		cl, sv := wsPipe()
		return cl, sv, func() { _ = cl.Close(); _ = sv.Close() }, nil
	})
}

// TestWSConnCloseUnblocksRead checks that Close ends a pending Read and that
// Close is idempotent. The pending Read may also see the server's answer to
// the close frame first (over net.Pipe the server echoes it before Close
// closes the pipe), and then ends with io.EOF, a normal closure.
func TestWSConnCloseUnblocksRead(t *testing.T) {
	cl, sv := wsPipe()
	defer sv.Close()
	go func() { _, _ = io.Copy(io.Discard, sv) }() // take the close frame
	errc := make(chan error, 1)
	go func() {
		_, err := cl.Read(make([]byte, 1))
		errc <- err
	}()
	if err := cl.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	pending := <-errc
	if !errors.Is(pending, net.ErrClosed) && !errors.Is(pending, io.ErrClosedPipe) && pending != io.EOF {
		t.Fatalf("pending Read = %v, want closed", pending)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	// After a completed close handshake the end of stream stays io.EOF.
	if _, err := cl.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) && (pending != io.EOF || err != io.EOF) {
		t.Fatalf("Read after Close = %v (pending Read: %v)", err, pending)
	}
	if _, err := cl.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
}

// TestWSConnReadTimeoutKeepsFrameSync checks that a read deadline that
// expires in the middle of a frame header loses no bytes.
func TestWSConnReadTimeoutKeepsFrameSync(t *testing.T) {
	cl, sv := wsPipe()
	defer cl.Close()
	defer sv.Close()
	raw := sv.conn
	go func() {
		_, _ = raw.Write([]byte{0x82}) // first header byte only
	}()
	_ = cl.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	var ne net.Error
	if _, err := cl.Read(make([]byte, 4)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read = %v, want timeout", err)
	}
	_ = cl.SetReadDeadline(time.Time{})
	go func() { _, _ = raw.Write([]byte{0x03, 'a', 'b', 'c'}) }()
	got := make([]byte, 3)
	if _, err := io.ReadFull(cl, got); err != nil || string(got) != "abc" {
		t.Fatalf("after timeout: %q, %v", got, err)
	}
}

// TestWSConnLargeWrite checks a frame longer than the write chunk and the
// 64-bit length form, masked in place and unmasked by the server side.
func TestWSConnLargeWrite(t *testing.T) {
	cl, sv := wsPipe()
	defer cl.Close()
	defer sv.Close()
	msg := make([]byte, 70000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	go func() { _, _ = cl.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(sv, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("server read %v, equal=%v", err, bytes.Equal(got, msg))
	}
}

func TestMaskBytes(t *testing.T) {
	mask := [4]byte{1, 2, 3, 4}
	for n := range 40 {
		for start := range 4 {
			b := make([]byte, n)
			want := make([]byte, n)
			for i := range b {
				b[i] = byte(i)
				want[i] = byte(i) ^ mask[(start+i)&3]
			}
			if pos := maskBytes(mask, start, b); pos != (start+n)&3 || !bytes.Equal(b, want) {
				t.Fatalf("n=%d start=%d: % x, pos %d", n, start, b, pos)
			}
		}
	}
}

// byteConn reads a fixed input and discards writes: a net.Conn for
// driving the frame reader with arbitrary bytes.
type byteConn struct {
	net.Conn // nil; only the methods below are used
	r        io.Reader
}

func (c *byteConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *byteConn) Close() error                     { return nil }
func (c *byteConn) SetWriteDeadline(time.Time) error { return nil }
func (c *byteConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }

// FuzzWSRead feeds arbitrary bytes to the client's frame reader: it never
// panics, returns at most the payload bytes it was given, and reads no more
// than the frame size bound allows in one frame.
func FuzzWSRead(f *testing.F) {
	f.Add([]byte{0x82, 0x02, 0x20, 0x02})
	f.Add([]byte{0x02, 0x01, 0x20, 0x89, 0x00, 0x80, 0x01, 0x02})
	f.Add([]byte{0x81, 0x01, 'x'})
	f.Add([]byte{0x88, 0x02, 0x03, 0xe8})
	f.Add([]byte{0x82, 0x7e, 0x00, 0x04, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0x7f, 0xff, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x82, 0x81, 1, 2, 3, 4, 5})
	f.Add([]byte{0x80, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newWSConn(&byteConn{r: bytes.NewReader(in)}, bufio.NewReader(bytes.NewReader(in)), true, 1<<10)
		total := 0
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			total += n
			if err != nil {
				break
			}
		}
		if total > len(in) {
			t.Fatalf("read %d payload bytes from %d input bytes", total, len(in))
		}
	})
}
