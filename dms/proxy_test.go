package dms_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
)

// packetProxy forwards loopback TCP connections to a real broker and drops
// the client's packets of chosen types, so that a real broker can be made
// to "never answer" a SUBSCRIBE or a PUBLISH. It reports the type of every
// packet the client sent on seen, dropped or not.
type packetProxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	drop   atomic.Uint32 // a bit per packet.Type
	seen   chan packet.Type
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t testing.TB, target string) *packetProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &packetProxy{t: t, ln: ln, target: target, seen: make(chan packet.Type, 1000)}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *packetProxy) uri() string { return "tcp://" + p.ln.Addr().String() }

// setDrop makes the proxy drop the client's packets of these types from
// now on (none: forward everything).
func (p *packetProxy) setDrop(types ...packet.Type) {
	var bits uint32
	for _, ty := range types {
		bits |= 1 << ty
	}
	p.drop.Store(bits)
}

// waitSeen waits until the client sent a packet of type ty.
func (p *packetProxy) waitSeen(t testing.TB, ty packet.Type) {
	t.Helper()
	ctx := waitCtx(t)
	for {
		select {
		case got := <-p.seen:
			if got == ty {
				return
			}
		case <-ctx.Done():
			t.Fatalf("proxy: the client sent no %v", ty)
		}
	}
}

func (p *packetProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *packetProxy) serve() {
	defer p.wg.Done()
	p.mu.Lock()
	p.conns = []net.Conn{}
	p.mu.Unlock()
	for {
		cli, err := p.ln.Accept()
		if err != nil {
			return
		}
		srv, err := net.Dial("tcp", p.target)
		if err != nil {
			cli.Close()
			continue
		}
		if !p.track(cli) || !p.track(srv) {
			srv.Close()
			return
		}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(cli, srv)
			cli.Close()
		}()
		go func() {
			defer p.wg.Done()
			p.forward(cli, srv)
			srv.Close()
		}()
	}
}

// forward copies the client's packets to the server, one whole packet at a
// time, leaving out the dropped types.
func (p *packetProxy) forward(cli, srv net.Conn) {
	buf := make([]byte, 0, 512)
	one := make([]byte, 1)
	for {
		buf = buf[:0]
		if _, err := io.ReadFull(cli, one); err != nil {
			return
		}
		buf = append(buf, one[0])
		n, mul := 0, 1
		for i := 0; ; i++ {
			if _, err := io.ReadFull(cli, one); err != nil || i == 4 {
				return
			}
			buf = append(buf, one[0])
			n += int(one[0]&0x7f) * mul
			mul *= 128
			if one[0]&0x80 == 0 {
				break
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(cli, body); err != nil {
			return
		}
		ty := packet.Type(buf[0] >> 4)
		select {
		case p.seen <- ty:
		default:
		}
		if p.drop.Load()&(1<<ty) != 0 {
			continue
		}
		if _, err := srv.Write(append(buf, body...)); err != nil {
			return
		}
	}
}

func (p *packetProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
