// Package embedbroker runs a mochi-mqtt broker inside the process, on
// loopback TCP listeners with ports chosen by the kernel, for the linnet
// command's demo and benchmarks.
//
// # Usage
//
//	b, err := embedbroker.Start(embedbroker.Config{Listeners: []string{"redirect", "dms"}})
//	if err != nil { ... }
//	defer b.Close()
//	uri := b.URI("dms") // tcp://127.0.0.1:<port>
//
// Every listener is a plain TCP listener on 127.0.0.1:0. All listeners share
// one broker: a message published through one reaches subscribers on the
// others. Config.Auth decides who may connect; nil lets everybody in.
//
// # Concurrency
//
// Start, URI, Clients and Close are safe for concurrent use. Auth is called
// on the broker's goroutines, one per connecting client, possibly at the same
// time.
//
// # Errors
//
// Start returns the error of a listener that could not be opened or of the
// broker that could not start, wrapped once; nothing is retried.
//
// # Limitations
//
// Only plain TCP on loopback: this is a broker for demos and benchmarks on
// one machine, not a server to expose. Sessions and retained messages live in
// memory and end with Close. mochi speaks MQTT 5 as well as 3.1.1; the linnet
// client only uses 3.1.1.
package embedbroker

import (
	"errors"
	"fmt"
	"github.com/linnet-mqtt/linnet/internal/mochifix"
	"github.com/linnet-mqtt/linnet/internal/mochistop"
	"io"
	"log/slog"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Config configures Start. The zero value is one listener named "tcp" that
// accepts every client.
type Config struct {
	// Listeners names the TCP listeners to open, one per name, each on its
	// own port of 127.0.0.1. Empty means one named "tcp".
	Listeners []string
	// Auth, when set, decides whether a client may connect, from its client
	// id, user name and password. mochi answers a refused 3.1.1 client
	// with CONNACK return code 5, "not authorized".
	Auth func(clientID, username string, password []byte) bool
	// Logger receives the broker's log; nil discards it.
	Logger *slog.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	srv   *mqtt.Server
	addrs map[string]string

	closeOnce sync.Once
	closeErr  error
}

// ErrNoListener is returned for a listener name that was not configured.
var ErrNoListener = errors.New("embedbroker: no such listener")

// Start starts a broker with the listeners of cfg and returns once they
// accept connections.
func Start(cfg Config) (*Broker, error) {
	names := cfg.Listeners
	if len(names) == 0 {
		names = []string{"tcp"}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	caps := mqtt.NewDefaultServerCapabilities()
	// Benchmarks push many QoS 0 messages at once; give slow readers room
	// before mochi starts dropping them.
	caps.MaximumClientWritesPending = 64 * 1024
	srv := mqtt.New(&mqtt.Options{Logger: logger, Capabilities: caps})
	// The DMS agent leaves the redirect listener and connects to the DMS
	// listener with the same client id at once; see internal/mochifix.
	if err := mochifix.AddTo(srv, nil); err != nil {
		return nil, fmt.Errorf("embedbroker: adding the session hook: %w", err)
	}
	if err := srv.AddHook(&authHook{check: cfg.Auth}, nil); err != nil {
		return nil, fmt.Errorf("embedbroker: adding the auth hook: %w", err)
	}
	tcps := make(map[string]*listeners.TCP, len(names))
	for _, name := range names {
		if _, dup := tcps[name]; dup {
			return nil, fmt.Errorf("embedbroker: listener %q named twice", name)
		}
		l := listeners.NewTCP(listeners.Config{ID: name, Address: "127.0.0.1:0"})
		if err := srv.AddListener(l); err != nil {
			_ = srv.Close()
			return nil, fmt.Errorf("embedbroker: listener %q: %w", name, err)
		}
		tcps[name] = l
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("embedbroker: starting mochi: %w", err)
	}
	b := &Broker{srv: srv, addrs: make(map[string]string, len(names))}
	for name, l := range tcps {
		// AddListener has called Init, which opened the socket: Address is
		// the real port, and connections queue in the backlog until Serve's
		// goroutine accepts them.
		b.addrs[name] = l.Address()
	}
	return b, nil
}

// URI returns tcp://127.0.0.1:<port> of the named listener, or "" when there
// is none by that name.
func (b *Broker) URI(name string) string {
	addr, ok := b.addrs[name]
	if !ok {
		return ""
	}
	return "tcp://" + addr
}

// Addr returns the host:port of the named listener, or ErrNoListener.
func (b *Broker) Addr(name string) (string, error) {
	addr, ok := b.addrs[name]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrNoListener, name)
	}
	return addr, nil
}

// Clients returns how many clients are connected.
func (b *Broker) Clients() int {
	n := 0
	for _, cl := range b.srv.Clients.GetAll() {
		if !cl.Closed() {
			n++
		}
	}
	return n
}

// Close disconnects every client, closes the listeners and stops the
// broker. It is idempotent.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		ids := make([]string, 0, len(b.addrs))
		for name := range b.addrs {
			ids = append(ids, name)
		}
		b.closeErr = mochistop.Close(b.srv, ids...) // mochi's own Close can deadlock
	})
	return b.closeErr
}

// authHook lets clients in by Config.Auth and allows every topic.
type authHook struct {
	mqtt.HookBase
	check func(clientID, username string, password []byte) bool
}

func (*authHook) ID() string { return "linnet-embedbroker-auth" }

func (*authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if h.check == nil {
		return true
	}
	return h.check(cl.ID, string(pk.Connect.Username), pk.Connect.Password)
}

func (*authHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }
