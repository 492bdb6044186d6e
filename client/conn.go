package client

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// flushBytes is how much the state owner queues before a write.
const flushBytes = 64 << 10

// connection is one network connection that a CONNACK accepted (Paho's
// network module and CommsSender): the socket, the packet.Writer the state
// owner queues packets on and flushes, and the receiver that reads from
// it. Only the state owner (comms) uses it.
type connection struct {
	conn           net.Conn
	w              *packet.Writer
	rcv            *receiver
	server         string // the server URI, password redacted: for logs, errors and callbacks
	version        Version
	sessionPresent bool
	writeTimeout   time.Duration

	since     time.Time // when the CONNACK came
	heard     bool      // a packet came after the CONNACK
	lastRead  time.Time // when the state owner last took a batch
	lastWrite time.Time
	flushAt   time.Time // a held write goes out by then; zero if none is held
}

// proven reports whether the connection proved itself before it ended at
// now: it lasted at least b.Min and the server sent something after the
// CONNACK, or it lasted at least b.Max (a client that only sends QoS 0
// without keep-alive hears nothing, however long it stays). A server that
// accepts and then drops the client at once (a client-id takeover, an
// authorisation or quota error after CONNACK) never proves it, and the
// client backs off before it tries again.
func (cn *connection) proven(now time.Time, b Backoff) bool {
	lasted := now.Sub(cn.since)
	return (cn.heard && lasted >= b.Min) || lasted >= b.Max
}

// flush writes what is queued, within the write timeout.
func (cn *connection) flush(now time.Time) error {
	cn.flushAt = time.Time{}
	if cn.w.Buffered() == 0 {
		return nil
	}
	_ = cn.conn.SetWriteDeadline(now.Add(cn.writeTimeout))
	if err := cn.w.Flush(); err != nil {
		return err
	}
	cn.lastWrite = now
	return nil
}

// close closes the socket and waits for the receiver to end.
func (cn *connection) close() {
	cn.conn.Close()
	cn.rcv.stop()
}

// dial makes one connection to one server with one protocol version: dial,
// CONNECT [MQTT-3.1.0-1], wait for CONNACK, all within ConnectTimeout. On
// success the receiver is running.
func (m *comms) dial(ctx context.Context, server string, v Version) (*connection, error) {
	o := &m.c.opts
	shown := transport.Redact(server)
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()

	cp, err := m.connectPacket(ctx, server, v)
	if err != nil {
		return nil, err
	}
	topts := make([]transport.Option, 0, len(o.Transport)+4)
	topts = append(topts, transport.WithLogger(m.c.log), transport.WithConnectTimeout(o.ConnectTimeout))
	if o.Registry != nil {
		topts = append(topts, transport.WithRegistry(o.Registry))
	}
	if len(o.WebSocketHeader) > 0 {
		topts = append(topts, webSocketHeader(o.WebSocketHeader)...)
	}
	topts = append(topts, o.Transport...)
	conn, err := transport.Dial(ctx, server, topts...)
	if err != nil {
		return nil, err
	}
	c := m.c
	c.mu.Lock()
	if m.quitting() {
		c.mu.Unlock()
		conn.Close()
		return nil, ErrClosed
	}
	c.netConn = conn // so that Close can abort the handshake
	c.mu.Unlock()
	fail := func(err error) (*connection, error) {
		conn.Close()
		c.mu.Lock()
		c.netConn = nil
		c.mu.Unlock()
		return nil, err
	}

	// The context becomes a deadline on the connection; no goroutine.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	w := packet.NewWriter(conn)
	if err := w.WritePacket(cp); err != nil {
		stop()
		return fail(m.handshakeErr(ctx, shown, err, "writing CONNECT"))
	}
	r := packet.NewReader(conn)
	r.SetMaxPacketSize(o.MaxPacketSize)
	p, err := r.ReadPacket()
	stopped := stop()
	if err != nil {
		return fail(m.handshakeErr(ctx, shown, err, "waiting for CONNACK"))
	}
	if !stopped { // the context ended just as the CONNACK came
		return fail(context.Cause(ctx))
	}
	_ = conn.SetDeadline(time.Time{})
	ack, ok := p.(*packet.Connack)
	if !ok {
		return fail(&ViolationError{Packet: p.Type(), Reason: "first packet from the server is not CONNACK"})
	}
	if ack.ReturnCode != packet.Accepted {
		return fail(&ConnectError{Code: ack.ReturnCode, Server: shown})
	}

	now := time.Now()
	cn := &connection{
		conn: conn, w: w, server: shown, version: v,
		sessionPresent: ack.SessionPresent, // ack belongs to r, which reuses it once the receiver runs
		writeTimeout:   o.WriteTimeout,
		since:          now, lastRead: now, lastWrite: now,
	}
	var pz pacer
	if o.Pacing != nil {
		pz = o.Pacing.start(conn)
	}
	cn.rcv = newReceiver(c.wake, pz)
	cn.rcv.wg.Add(1)
	go cn.rcv.run(r)
	return cn, nil
}

// connectPacket builds the CONNECT for server and version v, asking
// Options.Credentials when set.
func (m *comms) connectPacket(ctx context.Context, server string, v Version) (*packet.Connect, error) {
	o := &m.c.opts
	cp := &packet.Connect{
		CleanSession: !o.PersistentSession,
		KeepAlive:    o.keepAliveSeconds(),
		ClientID:     o.ClientID,
	}
	if v == Version31 {
		cp.ProtocolName, cp.ProtocolLevel = packet.ProtocolName31, packet.ProtocolLevel31
	} else {
		cp.ProtocolName, cp.ProtocolLevel = packet.ProtocolName311, packet.ProtocolLevel311
	}
	user, pass := o.Username, o.Password
	switch {
	case o.Credentials != nil:
		var err error
		if user, pass, err = o.Credentials(ctx, server); err != nil {
			return nil, &CredentialsError{Server: transport.Redact(server), Err: err}
		}
	case user == "":
		// The server URI's user information, if any (validated by New).
		reg := o.Registry
		if reg == nil {
			reg = transport.Default
		}
		if u, err := reg.Parse(server); err == nil && u.Username != "" {
			user, pass = u.Username, nil
			if u.HasPassword {
				pass = []byte(u.Password)
			}
		}
	}
	if user != "" {
		cp.UsernameFlag, cp.Username = true, user
		if pass != nil {
			cp.PasswordFlag, cp.Password = true, pass
		}
	}
	if w := o.Will; w != nil {
		cp.WillFlag, cp.WillTopic, cp.WillMessage, cp.WillQoS, cp.WillRetain = true, w.Topic, w.Payload, w.QoS, w.Retain
		if cp.WillMessage == nil {
			cp.WillMessage = []byte{}
		}
	}
	return cp, nil
}

// handshakeErr classifies a failure before CONNACK; server is redacted.
func (m *comms) handshakeErr(ctx context.Context, server string, err error, doing string) error {
	if m.quitting() {
		return ErrClosed
	}
	var why error
	switch {
	case ctx.Err() != nil:
		why = context.Cause(ctx)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The connect deadline on the connection fired just before the
		// context's timer: the same timeout.
		why = context.DeadlineExceeded
	case endedEarly(err):
		why = ErrNoCONNACK
	}
	if why != nil {
		err = errors.Join(why, err)
	}
	return &HandshakeError{Server: server, Doing: doing, Err: err}
}

// endedEarly reports whether err says the server closed the connection.
func endedEarly(err error) bool {
	for _, target := range [...]error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.EPIPE, io.ErrClosedPipe} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
