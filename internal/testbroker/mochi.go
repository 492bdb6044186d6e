package testbroker

import (
	"crypto/tls"
	"fmt"
	"github.com/linnet-mqtt/linnet/internal/mochifix"
	"github.com/linnet-mqtt/linnet/internal/mochistop"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/linnet-mqtt/linnet/internal/testcert"
)

// MochiConfig configures StartMochi. The zero value is a broker that needs
// no client certificate, with fresh certificates.
type MochiConfig struct {
	// Certs are the certificates of the TLS listeners; nil generates a set.
	Certs *testcert.Set
	// ClientAuth is the client-certificate policy of the TLS listeners.
	ClientAuth tls.ClientAuthType
	// MaxTLSVersion, if set, caps the TLS version of the TLS listeners.
	MaxTLSVersion uint16
	// Logger receives the broker's log; nil discards it.
	Logger *slog.Logger
}

// Mochi is a running mochi-mqtt broker.
type Mochi struct {
	Server   *mqtt.Server
	Certs    *testcert.Set
	TCPAddr  string // host:port of the plain TCP listener
	TLSAddr  string // host:port of the TLS listener
	WSAddr   string // host:port of the WebSocket listener
	WSSAddr  string // host:port of the WebSocket-over-TLS listener
	UnixPath string // path of the unix socket listener
}

// URI returns the server URI of the listener for scheme: tcp (or mqtt),
// ssl (or tls, mqtts, tcps), ws, wss or unix.
func (m *Mochi) URI(scheme string) string {
	switch scheme {
	case "tcp", "mqtt":
		return scheme + "://" + m.TCPAddr
	case "ssl", "tls", "mqtts", "tcps":
		return scheme + "://" + m.TLSAddr
	case "ws":
		return "ws://" + m.WSAddr + "/mqtt"
	case "wss":
		return "wss://" + m.WSSAddr + "/mqtt"
	case "unix":
		return "unix://" + m.UnixPath
	}
	panic(fmt.Sprintf("testbroker: mochi has no listener for scheme %q", scheme))
}

// StartMochi starts a mochi-mqtt broker on 127.0.0.1 and stops it when the
// test ends.
func StartMochi(t testing.TB, cfg MochiConfig) *Mochi {
	t.Helper()
	if cfg.Certs == nil {
		cfg.Certs = testcert.New(t)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srvTLS := cfg.Certs.ServerTLSConfig()
	srvTLS.ClientAuth = cfg.ClientAuth
	srvTLS.ClientCAs = cfg.Certs.Pool
	srvTLS.MaxVersion = cfg.MaxTLSVersion

	sockDir, err := os.MkdirTemp("", "lnt") // short: unix socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatalf("testbroker: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sockDir) })

	s := mqtt.New(&mqtt.Options{Logger: logger})
	// Tests reconnect with the same client id at once; see internal/mochifix.
	if err := mochifix.AddTo(s, nil); err != nil {
		t.Fatalf("testbroker: adding the session hook: %v", err)
	}
	if err := s.AddHook(new(allowAll), nil); err != nil {
		t.Fatalf("testbroker: adding auth hook: %v", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	tlsL := listeners.NewTCP(listeners.Config{ID: "tls", Address: "127.0.0.1:0", TLSConfig: srvTLS})
	ws := newWSListener(t, "ws", nil)
	wss := newWSListener(t, "wss", srvTLS)
	unix := listeners.NewUnixSock(listeners.Config{ID: "unix", Address: filepath.Join(sockDir, "mqtt.sock")})
	for _, l := range []listeners.Listener{tcp, tlsL, ws, wss, unix} {
		if err := s.AddListener(l); err != nil {
			t.Fatalf("testbroker: mochi listener %s: %v", l.ID(), err)
		}
	}
	if err := s.Serve(); err != nil {
		t.Fatalf("testbroker: starting mochi: %v", err)
	}
	t.Cleanup(func() { _ = mochistop.Close(s, tcp.ID(), tlsL.ID(), ws.ID(), wss.ID(), unix.ID()) }) // mochi's own Close can deadlock
	m := &Mochi{Server: s, Certs: cfg.Certs, TCPAddr: tcp.Address(), TLSAddr: tlsL.Address(),
		WSAddr: ws.Address(), WSSAddr: wss.Address(), UnixPath: unix.Address()}
	// No readiness probe: AddListener has already bound every socket, so
	// a dial before mochi's accept loops run waits in the backlog. A probe
	// connection that the test outlives can also race mochi's Close: its
	// establishing goroutine may call ClientsWg.Add while Close waits on
	// ClientsWg, which the race detector reports (seen in
	// TestTCPAndUnixMochi under -race).
	return m
}

// allowAll lets every client connect, publish and subscribe.
type allowAll struct{ mqtt.HookBase }

func (*allowAll) ID() string { return "testbroker-allow-all" }
func (*allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (*allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (*allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

// wsListener is a mochi listener serving MQTT over WebSocket (gorilla) on a
// listener we open ourselves, so that port 0 works and Address is the real
// address. mochi's own WebSocket listener reports the configured address.
type wsListener struct {
	id        string
	ln        net.Listener
	srv       *http.Server
	establish listeners.EstablishFn
	log       *slog.Logger
	closed    atomic.Bool
}

func newWSListener(t testing.TB, id string, cfg *tls.Config) *wsListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testbroker: %v", err)
	}
	l := &wsListener{id: id, ln: ln}
	if cfg != nil {
		l.ln = tls.NewListener(ln, cfg)
	}
	up := &websocket.Upgrader{Subprotocols: []string{"mqtt"}, CheckOrigin: func(*http.Request) bool { return true }}
	l.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			if err := l.establish(l.id, &gorillaConn{Conn: c.NetConn(), ws: c}); err != nil {
				l.log.Debug("testbroker: websocket client ended", "error", err)
			}
		}),
	}
	return l
}

func (l *wsListener) ID() string       { return l.id }
func (l *wsListener) Address() string  { return l.ln.Addr().String() }
func (l *wsListener) Protocol() string { return l.id }
func (l *wsListener) Init(log *slog.Logger) error {
	l.log = log
	return nil
}
func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.establish = establish
	_ = l.srv.Serve(l.ln)
}

// Close closes the listener; like mochi's listeners it closes its clients
// only the first time, which mochistop relies on.
func (l *wsListener) Close(closeClients listeners.CloseFn) {
	_ = l.srv.Close()
	if l.closed.CompareAndSwap(false, true) {
		closeClients(l.id)
	}
}

// gorillaConn presents a gorilla WebSocket as a byte stream of binary
// messages, the way an MQTT broker reads it.
type gorillaConn struct {
	net.Conn
	ws  *websocket.Conn
	cur io.Reader
}

func (c *gorillaConn) Read(p []byte) (int, error) {
	for {
		if c.cur == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, fmt.Errorf("testbroker: websocket message type %d, want binary", typ)
			}
			c.cur = r
		}
		n, err := c.cur.Read(p)
		if err == io.EOF {
			c.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *gorillaConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *gorillaConn) Close() error { return c.ws.Close() }
