// Package fakebroker is a scripted MQTT server for deterministic tests of
// the client, built on the packet codec (STYLE.md item 33, after x/net
// http2's testClientConn). A test accepts the client's connection, states
// the packets it wants with WantPacket and answers with WritePacket or raw
// bytes, so that it controls every byte and every moment.
//
// # Usage
//
//	fb := fakebroker.New(t)
//	opts := client.Options{Servers: []string{fb.URI()},
//		Transport: []transport.Option{transport.WithDialer(fb.Dial)}}
//	...
//	c := fb.Accept(t)
//	c.WantPacket(t, &packet.Connect{...})
//	c.WritePacket(t, &packet.Connack{})
//
// Connections are net.Pipe pairs when the client dials through fb.Dial, so
// the broker works inside testing/synctest bubbles (create it inside the
// bubble); ListenTCP accepts real loopback connections instead.
//
// # Concurrency
//
// A Broker is safe for concurrent use. A Conn belongs to the test goroutine
// that accepted it; one goroutine per Conn reads the client's packets into
// a queue so that the client's writes never block on the script, and it
// ends when the connection closes.
//
// # Errors
//
// Every helper that takes a testing.TB fails the test (t.Fatal) on an
// unexpected packet, a timeout or a broken connection.
//
// # Limitations
//
// It speaks only what a test scripts: no session, no routing, no automatic
// PINGRESP unless AutoPing is set.
package fakebroker

import (
	"context"
	"errors"

	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linnet-mqtt/linnet/packet"
)

// DefaultTimeout bounds each wait of a helper unless Conn.Timeout is set.
const DefaultTimeout = 10 * time.Second

// Broker hands out the server side of the client's connections.
type Broker struct {
	mu      sync.Mutex
	pending chan net.Conn
	closed  bool
	ln      net.Listener
	refuse  int // dials to refuse with an error
	conns   []*Conn
}

// New returns a broker whose connections come from Dial. It is closed with
// the test.
func New(t testing.TB) *Broker {
	b := &Broker{pending: make(chan net.Conn, 16)}
	t.Cleanup(b.Close)
	return b
}

// URI returns a server URI for the client's options; Dial ignores the
// address, so any tcp:// URI works.
func (b *Broker) URI() string { return "tcp://fakebroker.invalid:1883" }

// ErrRefused is returned by Dial while RefuseDials is in force.
var ErrRefused = errors.New("fakebroker: connection refused")

// RefuseDials makes the next n dials fail with ErrRefused.
func (b *Broker) RefuseDials(n int) {
	b.mu.Lock()
	b.refuse = n
	b.mu.Unlock()
}

// Dial is a transport.DialFunc: it returns the client side of a new
// net.Pipe and queues the server side for Accept.
func (b *Broker) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, net.ErrClosed
	}
	if b.refuse > 0 {
		b.refuse--
		b.mu.Unlock()
		return nil, ErrRefused
	}
	b.mu.Unlock()
	cli, srv := net.Pipe()
	select {
	case b.pending <- srv:
		return cli, nil
	case <-ctx.Done():
		cli.Close()
		srv.Close()
		return nil, ctx.Err()
	}
}

// ListenTCP listens on 127.0.0.1 and returns the tcp:// URI of the
// listener; each accepted connection is queued for Accept.
func (b *Broker) ListenTCP(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakebroker: listen: %v", err)
	}
	b.mu.Lock()
	b.ln = ln
	b.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case b.pending <- c:
			default:
				c.Close() // nobody will ever accept it
			}
		}
	}()
	return "tcp://" + ln.Addr().String()
}

// Accept waits for the client's next connection.
func (b *Broker) Accept(t testing.TB) *Conn {
	t.Helper()
	select {
	case nc := <-b.pending:
		c := newConn(nc)
		b.mu.Lock()
		b.conns = append(b.conns, c)
		b.mu.Unlock()
		return c
	case <-time.After(DefaultTimeout):
		t.Fatalf("fakebroker: no connection within %v", DefaultTimeout)
		return nil
	}
}

// Close closes the listener and every connection.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if b.ln != nil {
		b.ln.Close()
	}
	for _, c := range b.conns {
		c.Close()
	}
	for {
		select {
		case nc := <-b.pending:
			nc.Close()
		default:
			return
		}
	}
}

// Conn is the server side of one client connection.
type Conn struct {
	// Timeout bounds each wait of WantPacket, ReadPacket and WantClosed;
	// zero means DefaultTimeout. Inside a synctest bubble it is fake time.
	Timeout time.Duration

	nc      net.Conn
	w       *packet.Writer
	packets chan packet.Packet
	errMu   sync.Mutex
	err     error // why the read goroutine stopped
	done    chan struct{}
}

func newConn(nc net.Conn) *Conn {
	c := &Conn{nc: nc, w: packet.NewWriter(nc), packets: make(chan packet.Packet, 4096), done: make(chan struct{})}
	c.w.AllowIllegalWrites(true)
	go c.readLoop()
	return c
}

func (c *Conn) readLoop() {
	defer close(c.done)
	defer close(c.packets)
	r := packet.NewReader(c.nc)
	for {
		p, err := r.ReadPacket()
		if err != nil {
			c.errMu.Lock()
			c.err = err
			c.errMu.Unlock()
			return
		}
		select {
		case c.packets <- packet.Clone(p):
		default:
			c.errMu.Lock()
			c.err = errors.New("fakebroker: more than 4096 unread packets")
			c.errMu.Unlock()
			c.nc.Close()
			return
		}
	}
}

func (c *Conn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Err returns why the connection's reading stopped (io.EOF when the client
// closed it), or nil while it is open.
func (c *Conn) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// ReadPacket returns the client's next packet.
func (c *Conn) ReadPacket(t testing.TB) packet.Packet {
	t.Helper()
	p, err := c.Next(c.timeout())
	if err != nil {
		t.Fatalf("fakebroker: %v", err)
	}
	return p
}

// ErrTimeout is returned by Next when nothing came in time.
var ErrTimeout = errors.New("fakebroker: no packet in time")

// Next returns the client's next packet, ErrTimeout when none comes within
// d, or the read error when the connection ended (io.EOF: closed by the
// client).
func (c *Conn) Next(d time.Duration) (packet.Packet, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case p, ok := <-c.packets:
		if !ok {
			return nil, c.Err()
		}
		return p, nil
	case <-timer.C:
		return nil, ErrTimeout
	}
}

// WantPacket reads the client's next packet and fails the test unless it
// equals want (compared with go-cmp; a nil and an empty slice are equal).
// It returns the packet read.
func (c *Conn) WantPacket(t testing.TB, want packet.Packet) packet.Packet {
	t.Helper()
	got := c.ReadPacket(t)
	if diff := cmp.Diff(want, got, emptyEqual); diff != "" {
		t.Fatalf("fakebroker: unexpected packet from the client (-want +got):\n%s", diff)
	}
	return got
}

// WantType reads the client's next packet and fails the test unless it is
// of type typ. It returns the packet.
func (c *Conn) WantType(t testing.TB, typ packet.Type) packet.Packet {
	t.Helper()
	got := c.ReadPacket(t)
	if got.Type() != typ {
		t.Fatalf("fakebroker: got %v from the client, want a %v", got, typ)
	}
	return got
}

var emptyEqual = cmp.FilterValues(func(x, y []byte) bool { return len(x) == 0 && len(y) == 0 },
	cmp.Comparer(func(x, y []byte) bool { return true }))

// WantClosed waits until the client closes the connection, failing the
// test if a packet comes first or nothing happens in time.
func (c *Conn) WantClosed(t testing.TB) {
	t.Helper()
	p, err := c.Next(c.timeout())
	switch {
	case err == nil:
		t.Fatalf("fakebroker: got %v, want the connection closed", p)
	case errors.Is(err, ErrTimeout):
		t.Fatalf("fakebroker: connection still open after %v", c.timeout())
	}
}

// WritePacket sends p to the client. Illegal packets are written as they
// are, for hostile-server tests.
func (c *Conn) WritePacket(t testing.TB, p packet.Packet) {
	t.Helper()
	if err := c.write(func() error { return c.w.WritePacket(p) }); err != nil {
		t.Fatalf("fakebroker: write %v: %v", p, err)
	}
}

// WriteBytes sends raw bytes to the client.
func (c *Conn) WriteBytes(t testing.TB, b []byte) {
	t.Helper()
	if err := c.write(func() error { _, err := c.nc.Write(b); return err }); err != nil {
		t.Fatalf("fakebroker: write bytes: %v", err)
	}
}

// TryWritePacket sends p and returns the error instead of failing the
// test, for scripts where the client may already have closed.
func (c *Conn) TryWritePacket(p packet.Packet) error {
	return c.write(func() error { return c.w.WritePacket(p) })
}

func (c *Conn) write(f func() error) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout()))
	defer c.nc.SetWriteDeadline(time.Time{})
	return f()
}

// Close closes the connection, as a server that drops the client, and
// waits for the read goroutine to end.
func (c *Conn) Close() {
	c.nc.Close()
	<-c.done
}

// Drain discards the packets read so far and returns them.
func (c *Conn) Drain() []packet.Packet {
	var ps []packet.Packet
	for {
		select {
		case p, ok := <-c.packets:
			if !ok {
				return ps
			}
			ps = append(ps, p)
		default:
			return ps
		}
	}
}
