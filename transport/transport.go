package transport

import (
	"context"
	"errors"
	"net"
	"time"
)

// DefaultConnectTimeout bounds an open whose context has no deadline.
const DefaultConnectTimeout = 30 * time.Second

// DialFunc opens the underlying stream (TCP or unix) for a module. Set one
// with WithDialer to go through a proxy, or to hand out in-memory pipes in
// tests. network is "tcp" or "unix"; address is host:port or a socket path.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Option configures Dial.
type Option func(*Config)

// Config is the resolved configuration of one Dial, handed to the module.
// Modules read it through its methods; it has no exported fields so that
// builds without TLS or WebSocket do not carry their types.
type Config struct {
	connectTimeout time.Duration
	dial           DialFunc
	registry       *Registry
	logger         *Logger
	tls            tlsOptions // empty struct in linnet_notls builds
	ws             wsOptions  // empty struct in linnet_nows builds
}

// WithConnectTimeout sets how long the open may take when ctx has no
// deadline. Zero or less means DefaultConnectTimeout.
func WithConnectTimeout(d time.Duration) Option {
	return func(c *Config) { c.connectTimeout = d }
}

// WithDialer replaces the net.Dialer that opens the underlying TCP or unix
// connection, for every scheme (TLS and WebSocket run on top of it).
func WithDialer(f DialFunc) Option {
	return func(c *Config) { c.dial = f }
}

// WithRegistry makes Dial look the scheme up in r instead of Default.
func WithRegistry(r *Registry) Option {
	return func(c *Config) { c.registry = r }
}

// WithLogger sets the logger for debug messages about the open. The
// default discards them.
func WithLogger(l *Logger) Option {
	return func(c *Config) { c.logger = l }
}

// DialContext opens the underlying connection through the dialer hook, or
// a net.Dialer when there is none.
func (c *Config) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if c.dial != nil {
		return c.dial(ctx, network, address)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// Logger returns the logger of the open: never nil, except in
// linnet_noslog builds, where nil is the logger that discards everything.
func (c *Config) Logger() *Logger { return c.logger }

func newConfig(opts []Option) *Config {
	c := &Config{}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.connectTimeout <= 0 {
		c.connectTimeout = DefaultConnectTimeout
	}
	if c.registry == nil {
		c.registry = Default
	}
	if c.logger == nil {
		c.logger = discard
	}
	return c
}

// Dial validates uri, picks the module registered for its scheme and opens
// a connection ready for MQTT bytes. ctx bounds the whole open (dial, TLS
// handshake, WebSocket upgrade); when it has no deadline, the connect
// timeout applies. Once Dial has returned, ctx no longer affects the
// connection.
//
// An invalid URI gives a *URIError before anything touches the network;
// every other failure is a *DialError wrapping the cause (a *TLSError, a
// *HandshakeError, a net.Error...).
func Dial(ctx context.Context, uri string, opts ...Option) (net.Conn, error) {
	cfg := newConfig(opts)
	u, err := cfg.registry.Parse(uri)
	if err != nil {
		return nil, err
	}
	m := cfg.registry.Lookup(u.Scheme)
	if m == nil { // unregistered between Parse and Lookup
		return nil, uriError(uri, "no module for scheme "+u.Scheme, ErrUnknownScheme)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.connectTimeout)
		defer cancel()
	}
	cfg.logger.DebugContext(ctx, "transport: dialing", "uri", u.String())
	conn, err := m.Dial(ctx, u, cfg)
	if err != nil {
		ctxErr := context.Cause(ctx)
		var ne net.Error
		if ctxErr == nil && errors.As(err, &ne) && ne.Timeout() {
			// The conn deadline (set from ctx) can fire before ctx's own timer.
			if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
				ctxErr = context.DeadlineExceeded
			}
		}
		if ctxErr != nil {
			err = &ctxError{ctx: ctxErr, err: err}
		}
		cfg.logger.DebugContext(ctx, "transport: dial failed", "uri", u.String(), "err", err)
		return nil, &DialError{URI: u.String(), Err: err}
	}
	return conn, nil
}

// ctxError joins the context's error to the error it caused, so that both
// errors.Is(err, context.DeadlineExceeded) and the net.Error of the dial
// hold, with the message of the cause.
type ctxError struct{ ctx, err error }

func (e *ctxError) Error() string   { return e.err.Error() }
func (e *ctxError) Unwrap() []error { return []error{e.err, e.ctx} }
func (e *ctxError) Timeout() bool   { return e.ctx == context.DeadlineExceeded }
func (e *ctxError) Temporary() bool { return false }

// closeOnCancel arranges for conn's deadlines to end I/O when ctx is done
// during an open; the returned stop must be called (it clears the
// deadlines when the open finished first). It turns a context into a
// deadline without a goroutine per operation.
func closeOnCancel(ctx context.Context, conn net.Conn) (stop func() bool) {
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stopFn := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
	return func() bool {
		ok := stopFn()
		_ = conn.SetDeadline(time.Time{})
		return ok
	}
}

// aLongTimeAgo is a non-zero time in the past, which unblocks I/O at once.
var aLongTimeAgo = time.Unix(1, 0)
