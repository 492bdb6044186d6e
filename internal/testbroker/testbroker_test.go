package testbroker_test

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/linnet-mqtt/linnet/internal/leaktest"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// wsStream adapts a gorilla client connection for testbroker.Handshake.
type wsStream struct {
	net.Conn
	ws *websocket.Conn
}

func (s wsStream) Write(p []byte) (int, error) {
	return len(p), s.ws.WriteMessage(websocket.BinaryMessage, p)
}

func (s wsStream) Read(p []byte) (int, error) {
	_, b, err := s.ws.ReadMessage()
	return copy(p, b), err
}

// TestMochiListeners connects to every listener of the embedded broker with
// independent clients (net, crypto/tls, gorilla) and exchanges CONNECT and
// CONNACK.
func TestMochiListeners(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	dial := map[string]func() (net.Conn, error){
		"tcp":  func() (net.Conn, error) { return net.Dial("tcp", b.TCPAddr) },
		"unix": func() (net.Conn, error) { return net.Dial("unix", b.UnixPath) },
		"tls": func() (net.Conn, error) {
			return tls.Dial("tcp", b.TLSAddr, &tls.Config{RootCAs: b.Certs.Pool, ServerName: "127.0.0.1"})
		},
		"ws": func() (net.Conn, error) {
			c, _, err := websocket.DefaultDialer.Dial(b.URI("ws"), nil)
			if err != nil {
				return nil, err
			}
			return wsStream{Conn: c.NetConn(), ws: c}, nil
		},
		"wss": func() (net.Conn, error) {
			d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: b.Certs.Pool}}
			c, _, err := d.Dial(b.URI("wss"), nil)
			if err != nil {
				return nil, err
			}
			return wsStream{Conn: c.NetConn(), ws: c}, nil
		},
	}
	for name, d := range dial {
		t.Run(name, func(t *testing.T) {
			c, err := d()
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			testbroker.Handshake(t, c, "tb-"+name)
		})
	}
}

// TestMosquitto starts mosquitto with every listener and persistence,
// connects to each, and restarts it.
func TestMosquitto(t *testing.T) {
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{TLS: true, WebSockets: true, Persistence: true})
	check := func() {
		c, err := net.Dial("tcp", strings.TrimPrefix(m.URI(), "tcp://"))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		testbroker.Handshake(t, c, "tb-mosq")
	}
	check()
	tc, err := tls.Dial("tcp", strings.TrimPrefix(m.TLSURI(), "ssl://"), &tls.Config{RootCAs: m.Certs.Pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("tls dial: %v\n%s", err, m.Output())
	}
	testbroker.Handshake(t, tc, "tb-mosq-tls")
	tc.Close()
	m.Restart()
	check()
	m.Stop()
	m.Stop()
}
