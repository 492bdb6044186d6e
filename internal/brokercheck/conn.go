package brokercheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// transcript records what one check sent and received, for the report of a
// failure. It is shared by the connections of the check.
type transcript struct {
	mu    sync.Mutex
	start time.Time
	lines []string
}

func (t *transcript) add(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, fmt.Sprintf("%6.3fs ", time.Since(t.start).Seconds())+fmt.Sprintf(format, args...))
}

func (t *transcript) snapshot() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// run is the state of one check while it runs.
type run struct {
	ctx      context.Context // ends at deadline
	cfg      *Config
	name     string // the check's name, for topics
	index    int    // the check's place in the suite, for client ids
	tr       *transcript
	deadline time.Time // the end of the check's time limit

	mu     sync.Mutex // guards conns against the watchdog
	conns  []*conn
	closed bool // closeAll ran: no new connections
}

// id returns a client id unique to this run and check: only letters and
// digits, so that any server accepts it [MQTT-3.1.3-5].
func (r *run) id(role string) string {
	return fmt.Sprintf("%s%02d%s", r.cfg.Prefix, r.index, role)
}

// topic returns a topic name under the run's prefix.
func (r *run) topic(suffix string) string {
	return r.cfg.Prefix + "/" + r.name + "/" + suffix
}

// conn is one raw connection of a check: exact packets in, exact packets
// out, everything logged.
type conn struct {
	r    *run
	name string
	nc   net.Conn
	rd   *packet.Reader
	buf  []byte

	pending []packet.Packet // read early by subscribe, returned by the next reads
	rx      tailReader      // what the reader read, to show undecodable input
	seen    []packet.Packet // packets expectClose allowed before the close
}

// tailReader reads from src and remembers the last bytes read.
type tailReader struct {
	src  net.Conn
	tail []byte
}

const tailSize = 64

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.src.Read(p)
	t.tail = append(t.tail, p[:n]...)
	if len(t.tail) > tailSize {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-tailSize:]...)
	}
	return n, err
}

func (r *run) dial(name string) (*conn, error) {
	if r.expired() {
		return nil, &timeoutError{what: "time to open a connection (" + name + ")"}
	}
	var (
		nc  net.Conn
		err error
	)
	if r.cfg.Dial != nil {
		nc, err = r.cfg.Dial(r.ctx)
	} else {
		nc, err = transport.Dial(r.ctx, r.cfg.URI, r.cfg.Transport...)
	}
	if err != nil {
		r.tr.add("%s: dial %s: %v", name, r.cfg.URI, err)
		if r.ctx.Err() != nil {
			return nil, &timeoutError{what: "the connection to " + r.cfg.URI}
		}
		return nil, &DialError{URI: r.cfg.URI, Err: err}
	}
	c := &conn{r: r, name: name, nc: nc}
	c.rd = packet.NewReader(&c.rx)
	c.rx.src = nc
	r.mu.Lock()
	closed := r.closed
	if !closed {
		r.conns = append(r.conns, c)
	}
	r.mu.Unlock()
	if closed {
		_ = nc.Close()
		return nil, &timeoutError{what: "the connection to " + r.cfg.URI}
	}
	r.tr.add("%s: connected", name)
	return c, nil
}

// closeAll closes every connection of the check; it runs when the check
// ends and when its time limit passes.
func (r *run) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, c := range r.conns {
		_ = c.nc.Close()
	}
}

// newConnect returns a CONNECT for client id with the run's credentials.
func (r *run) newConnect(id string, clean bool) *packet.Connect {
	p := &packet.Connect{ClientID: id, CleanSession: clean, KeepAlive: 30}
	if r.cfg.Username != "" {
		p.UsernameFlag, p.Username = true, r.cfg.Username
		if r.cfg.Password != nil {
			p.PasswordFlag, p.Password = true, r.cfg.Password
		}
	}
	return p
}

// subscribed opens a session and subscribes it to subs (packet id 1), all
// of them granted.
func (r *run) subscribed(name, id string, clean bool, subs ...packet.Subscription) (*conn, error) {
	c, _, err := r.session(name, id, clean)
	if err != nil {
		return nil, err
	}
	if err := c.subscribeOK(1, subs...); err != nil {
		return nil, err
	}
	return c, nil
}

// publisher opens the clean session a check publishes from.
func (r *run) publisher() (*conn, error) {
	c, _, err := r.session("pub", r.id("p"), true)
	return c, err
}

// session dials and connects with an accepted CONNACK, or fails.
func (r *run) session(name, id string, clean bool) (*conn, *packet.Connack, error) {
	c, err := r.dial(name)
	if err != nil {
		return nil, nil, err
	}
	ack, err := c.connect(r.newConnect(id, clean))
	if err != nil {
		return nil, nil, err
	}
	if ack.ReturnCode != packet.Accepted {
		return nil, nil, &setupError{fmt.Sprintf("%s: CONNACK %v refused an ordinary CONNECT", name, ack.ReturnCode)}
	}
	return c, ack, nil
}

// send writes p exactly as given, legal or not.
func (c *conn) send(p packet.Packet) error {
	b, err := packet.AppendIllegal(c.buf[:0], p)
	if err != nil {
		return fmt.Errorf("brokercheck: encoding %v: %w", p, err)
	}
	c.buf = b
	return c.write(b, p.String())
}

// sendBytes writes raw bytes described by what.
func (c *conn) sendBytes(b []byte, what string) error {
	return c.write(b, what)
}

func (c *conn) write(b []byte, what string) error {
	c.r.tr.add("%s → %s  [% x]", c.name, what, b)
	_ = c.nc.SetWriteDeadline(c.r.deadline)
	_, err := c.nc.Write(b)
	if err != nil {
		c.r.tr.add("%s: write failed: %v", c.name, err)
		if c.r.expired() || errors.Is(err, net.ErrClosed) {
			return &timeoutError{what: "a write of " + what}
		}
		return &closedError{err}
	}
	return nil
}

// closedError is a connection the broker ended (EOF, reset, a failed
// write): the outcome that checks of malformed input want.
type closedError struct{ err error }

func (e *closedError) Error() string { return "the broker closed the connection: " + e.err.Error() }
func (e *closedError) Unwrap() error { return e.err }

// badInputError is something from the broker that is not a valid packet.
type badInputError struct {
	conn string
	err  error
	tail []byte
}

func (e *badInputError) Error() string {
	return fmt.Sprintf("%s: the broker sent an invalid packet (%v), ending in [% x]", e.conn, e.err, e.tail)
}
func (e *badInputError) Unwrap() error { return e.err }

// rule returns the rule the broker's packet breaks, or fallback.
func (e *badInputError) rule(fallback string) string {
	var pe *packet.ProtocolError
	if errors.As(e.err, &pe) && pe.Rule != "" {
		return pe.Rule
	}
	return fallback
}

// timeoutError is a check that ran out of its time limit while waiting
// for what; rule, when set, is the statement it was waiting on.
type timeoutError struct{ what, rule string }

func (e *timeoutError) Error() string {
	if e.rule != "" {
		return "timed out waiting for " + e.what + " [" + e.rule + "]"
	}
	return "timed out waiting for " + e.what
}

// expired reports whether the check's time limit has passed.
func (r *run) expired() bool { return !time.Now().Before(r.deadline) }

// read returns the next packet, a copy the caller may keep. It fails with
// a *closedError when the broker ended the connection and a *timeoutError
// when nothing came before the check's deadline.
func (c *conn) read(what string) (packet.Packet, error) {
	if c.r.expired() {
		// Even a loop over packets already read ends with the limit.
		c.r.tr.add("%s: the time limit passed (waiting for %s)", c.name, what)
		return nil, &timeoutError{what: what}
	}
	if len(c.pending) > 0 {
		p := c.pending[0]
		c.pending = c.pending[1:]
		return p, nil
	}
	_ = c.nc.SetReadDeadline(c.r.deadline)
	p, err := c.rd.ReadPacket()
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, net.ErrClosed), c.r.expired():
			// net.ErrClosed: the watchdog closed the connection at
			// the deadline; only the broker's close counts as one.
			c.r.tr.add("%s: nothing more before the time limit (waiting for %s)", c.name, what)
			return nil, &timeoutError{what: what}
		case isClosed(err):
			c.r.tr.add("%s ← connection closed by the broker (%v)", c.name, err)
			return nil, &closedError{err}
		}
		c.r.tr.add("%s ← undecodable input: %v; the last bytes received: [% x]", c.name, err, c.rx.tail)
		return nil, &badInputError{conn: c.name, err: err, tail: append([]byte(nil), c.rx.tail...)}
	}
	p = packet.Clone(p)
	b, _ := packet.AppendIllegal(nil, p)
	c.r.tr.add("%s ← %v  [% x]", c.name, p, b)
	return p, nil
}

// isReservedRefusal reports whether err is a CONNACK with a return code
// MQTT 3.1.1 reserves (an MQTT 5 reason code such as 0x80 or 0x82): a
// refusal, though not one a 3.1.1 client can decode.
func isReservedRefusal(err error) bool {
	var bad *badInputError
	if !errors.As(err, &bad) {
		return false
	}
	t := bad.tail
	return len(t) == 4 && t[0] == 0x20 && t[1] == 0x02 && t[3] > 5
}

// isClosedErr reports whether err is the broker closing the connection.
func isClosedErr(err error) bool {
	var ce *closedError
	return errors.As(err, &ce)
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// expect reads the next packet and fails unless it has type T. An
// inbound PUBLISH that comes first (a broker may route a client's own
// message back before acknowledging it) is kept for a later read.
func expect[T packet.Packet](c *conn, what string) (T, error) {
	var zero T
	var early []packet.Packet
	defer func() { c.pending = append(early, c.pending...) }()
	for {
		p, err := c.read(what)
		if err != nil {
			return zero, err
		}
		if v, ok := p.(T); ok {
			return v, nil
		}
		if m, ok := p.(*packet.Publish); ok && len(early) < maxEarly {
			early = append(early, m)
			continue
		}
		return zero, fmt.Errorf("%s: want %s, got %v", c.name, what, p)
	}
}

// maxEarly is how many PUBLISH packets a wait for an answer keeps for
// later reads: a broker that sends more has lost the thread.
const maxEarly = 64
