package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// The -d packet trace. The client has no per-packet hook, so the command
// gives it a registry whose modules wrap the built-in ones: each opened
// connection is the MQTT byte stream (under TLS and WebSocket framing, which
// the built-in module has already taken off), and the wrapper decodes what
// goes through it in either direction and prints one line per packet in
// the words of mosquitto -d:
//
//	Client linnet-1 sending PUBLISH (d0, q1, r0, m1, 't', ... (5 bytes))
//	Client linnet-1 received PUBACK (Mid: 1, RC:0)

// traceRegistry returns a registry with the built-in schemes, each
// wrapped to trace through t.
func traceRegistry(t *tracer) *transport.Registry {
	r := transport.NewRegistry()
	for _, scheme := range r.Schemes() {
		r.Register(scheme, traceModule{inner: r.Lookup(scheme), t: t})
	}
	return r
}

type traceModule struct {
	inner transport.Module
	t     *tracer
}

func (m traceModule) Validate(u *transport.URI) error { return m.inner.Validate(u) }

func (m traceModule) Dial(ctx context.Context, u *transport.URI, cfg *transport.Config) (net.Conn, error) {
	conn, err := m.inner.Dial(ctx, u, cfg)
	if err != nil {
		return nil, err
	}
	tc := &traceConn{Conn: conn}
	tc.in = streamDecoder{emit: func(h byte, body []byte, rem int) { m.t.packet("received", h, body, rem) }}
	tc.out = streamDecoder{emit: func(h byte, body []byte, rem int) { m.t.packet("sending", h, body, rem) }}
	return tc, nil
}

// tracer prints the trace lines; both directions of a connection share it.
type tracer struct {
	mu sync.Mutex
	w  io.Writer
	id string // the client id, from the last CONNECT sent
}

func newTracer(w io.Writer) *tracer { return &tracer{w: w, id: "(null)"} }

type traceConn struct {
	net.Conn
	rmu, wmu sync.Mutex // Read and Write may run on different goroutines
	in, out  streamDecoder
}

func (c *traceConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.rmu.Lock()
	c.in.feed(p[:n])
	c.rmu.Unlock()
	return n, err
}

func (c *traceConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.wmu.Lock()
	c.out.feed(p[:n])
	c.wmu.Unlock()
	return n, err
}

// keepBody is how much of a packet's body the decoder keeps: every packet
// but a PUBLISH is decoded whole up to this size; of a PUBLISH only the
// topic and packet id are read, and the payload is counted, not kept.
const keepBody = 2 + 65535 + 2

// streamDecoder splits a byte stream into packets without holding more
// than keepBody bytes of any.
type streamDecoder struct {
	emit   func(header byte, body []byte, remaining int)
	hdr    []byte // fixed header so far
	inBody bool   // the fixed header is complete
	rem    int    // remaining length
	got    int    // body bytes seen
	body   []byte
	broken bool
}

func (d *streamDecoder) feed(b []byte) {
	for len(b) > 0 && !d.broken {
		if !d.inBody {
			d.hdr = append(d.hdr, b[0])
			b = b[1:]
			if len(d.hdr) < 2 {
				continue
			}
			n, _, err := packet.ParseRemainingLength(d.hdr[1:])
			if err == io.ErrUnexpectedEOF {
				continue
			}
			if err != nil {
				d.broken = true // the client never writes this, and reading it ends the connection
				return
			}
			d.inBody, d.rem, d.got, d.body = true, n, 0, d.body[:0]
		} else {
			take := min(len(b), d.rem-d.got)
			if keep := min(take, keepBody-len(d.body)); keep > 0 {
				d.body = append(d.body, b[:keep]...)
			}
			d.got += take
			b = b[take:]
		}
		if d.inBody && d.got == d.rem {
			d.emit(d.hdr[0], d.body, d.rem)
			d.inBody, d.hdr = false, d.hdr[:0]
		}
	}
}

// packet prints the line for one packet.
func (t *tracer) packet(dir string, h byte, body []byte, rem int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	typ := packet.Type(h >> 4)
	if typ == packet.TypePublish {
		t.publish(dir, h, body, rem)
		return
	}
	whole := append(packet.AppendRemainingLength([]byte{h}, rem), body...)
	p, _, err := packet.Decode(whole)
	if err != nil || len(body) < rem {
		t.line("%s %s (%d bytes)", dir, typeName(typ), rem)
		return
	}
	out := dir == "sending"
	switch p := p.(type) {
	case *packet.Connect:
		if p.ClientID != "" {
			t.id = p.ClientID
		}
		t.line("%s CONNECT", dir)
	case *packet.Connack:
		t.line("%s CONNACK (%d)", dir, p.ReturnCode)
	case *packet.Puback:
		t.ack(out, "PUBACK", p.PacketID, true)
	case *packet.Pubrec:
		t.ack(out, "PUBREC", p.PacketID, out)
	case *packet.Pubrel:
		t.ack(out, "PUBREL", p.PacketID, false)
	case *packet.Pubcomp:
		t.ack(out, "PUBCOMP", p.PacketID, !out)
	case *packet.Subscribe:
		for _, s := range p.Subscriptions {
			t.line("%s SUBSCRIBE (Mid: %d, Topic: %s, QoS: %d, Options: 0x00)", dir, p.PacketID, s.Filter, s.QoS)
		}
	case *packet.Suback:
		t.line("%s SUBACK", dir)
		if !out {
			codes := make([]string, len(p.ReturnCodes))
			for i, c := range p.ReturnCodes {
				codes[i] = fmt.Sprint(byte(c))
			}
			fmt.Fprintf(t.w, "Subscribed (mid: %d): %s\n", p.PacketID, strings.Join(codes, ", "))
		}
	case *packet.Unsubscribe:
		for _, f := range p.Filters {
			t.line("%s UNSUBSCRIBE (Mid: %d, Topic: %s)", dir, p.PacketID, f)
		}
	default:
		t.line("%s %s", dir, typeName(typ))
	}
}

// ack prints an acknowledgement: received ones as "(Mid: 1, RC:0)" or
// "(Mid: 1)", sent ones as "(m1, rc0)" or "(m1)", as mosquitto does.
func (t *tracer) ack(out bool, name string, id uint16, rc bool) {
	switch {
	case out && rc:
		t.line("sending %s (m%d, rc0)", name, id)
	case out:
		t.line("sending %s (m%d)", name, id)
	case rc:
		t.line("received %s (Mid: %d, RC:0)", name, id)
	default:
		t.line("received %s (Mid: %d)", name, id)
	}
}

func (t *tracer) publish(dir string, h byte, body []byte, rem int) {
	qos := (h >> 1) & 3
	if len(body) < 2 {
		t.line("%s PUBLISH (malformed, %d bytes)", dir, rem)
		return
	}
	n := int(binary.BigEndian.Uint16(body))
	idLen := 0
	if qos > 0 {
		idLen = 2
	}
	if len(body) < 2+n+idLen {
		t.line("%s PUBLISH (malformed, %d bytes)", dir, rem)
		return
	}
	topic := string(body[2 : 2+n])
	var mid uint16
	if qos > 0 {
		mid = binary.BigEndian.Uint16(body[2+n:])
	}
	t.line("%s PUBLISH (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))", dir, (h>>3)&1, qos, h&1, mid, topic, rem-2-n-idLen)
}

func (t *tracer) line(format string, args ...any) {
	fmt.Fprintf(t.w, "Client %s "+format+"\n", append([]any{t.id}, args...)...)
}

func typeName(t packet.Type) string {
	return strings.ToUpper(t.String())
}
