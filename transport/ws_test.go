//go:build !linnet_nows

package transport_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/transport"
)

// wsServer runs an independent WebSocket server (gorilla) on 127.0.0.1 and
// calls script with each upgraded connection. It returns the ws:// URI.
func wsServer(t *testing.T, up *websocket.Upgrader, script func(t *testing.T, r *http.Request, c *websocket.Conn)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		script(t, r, c)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/mqtt"
}

func mqttUpgrader() *websocket.Upgrader {
	return &websocket.Upgrader{Subprotocols: []string{"mqtt"}}
}

func dialWS(t *testing.T, uri string, opts ...transport.Option) net.Conn {
	t.Helper()
	c, err := transport.Dial(ctxT(t), uri, append([]transport.Option{transport.WithProxy(nil)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func readErr(t *testing.T, c net.Conn) error {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.ReadAll(c)
	if err == nil {
		t.Fatal("ReadAll ended without error")
	}
	return err
}

// TestWSMochi exchanges CONNECT and CONNACK with the embedded broker over
// WebSocket.
func TestWSMochi(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	testbroker.Handshake(t, dialWS(t, b.URI("ws")), "lnt-ws")
}

// TestWSMosquitto exchanges CONNECT and CONNACK with mosquitto's
// WebSocket listener (libwebsockets).
func TestWSMosquitto(t *testing.T) {
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{WebSockets: true})
	testbroker.Handshake(t, dialWS(t, m.WSURI()), "lnt-mosq-ws")
}

// TestWSBinaryStream checks [MQTT-6.0.0-3] (the client offers the mqtt
// subprotocol, with the custom headers), [MQTT-6.0.0-1] (the client sends
// MQTT in binary frames) and [MQTT-6.0.0-2] (several packets in one frame,
// one packet across frames, and one packet across the fragments of a
// message with a ping between them are read as one stream). The server is
// gorilla's; the frames it really wrote are parsed from its connection, so
// the test proves the message was fragmented.
func TestWSBinaryStream(t *testing.T) {
	up := mqttUpgrader()
	up.WriteBufferSize = 64
	// A PUBLISH (QoS 0, topic "a/b") of 408 bytes, sent as one WebSocket
	// message in three fragments: gorilla's server-side WriteMessage always
	// sends one frame, but each Write on a NextWriter larger than twice the
	// write buffer (2*(64+14) bytes) goes out as a frame of its own, and
	// Close sends the rest in the final frame.
	publish := append([]byte{0x30, 0x95, 0x03, 0x00, 0x03, 'a', '/', 'b'}, bytes.Repeat([]byte{0x5a}, 400)...)
	parts := [][]byte{publish[:200], publish[200:400], publish[400:]}
	pong := make(chan string, 1)
	uri, rec := wsServerRec(t, up, func(t *testing.T, r *http.Request, c *websocket.Conn) {
		if got := r.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" {
			t.Errorf("offered subprotocol %q, want mqtt", got)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer token" {
			t.Errorf("Authorization = %q", got)
		}
		if r.URL.RequestURI() != "/mqtt?x=1" {
			t.Errorf("request target %q", r.URL.RequestURI())
		}
		c.SetPongHandler(func(s string) error { pong <- s; return nil })
		typ, msg, err := c.ReadMessage()
		if err != nil || typ != websocket.BinaryMessage || !bytes.Equal(msg, testbroker.ConnectPacket("ws")) {
			t.Errorf("got message type %d % x, %v; want the CONNECT in a binary frame", typ, msg, err)
		}
		_ = c.WriteMessage(websocket.BinaryMessage, []byte{0x20, 0x02, 0x00, 0x00, 0xd0, 0x00, 0x90}) // CONNACK, PINGRESP, half a SUBACK
		_ = c.WriteMessage(websocket.BinaryMessage, []byte{0x03, 0x00, 0x01, 0x00})                   // the rest of the SUBACK
		_ = c.WriteMessage(websocket.BinaryMessage, nil)                                              // empty frames carry nothing
		w, err := c.NextWriter(websocket.BinaryMessage)
		if err != nil {
			t.Errorf("NextWriter: %v", err)
			return
		}
		for i, p := range parts {
			if _, err := w.Write(p); err != nil {
				t.Errorf("Write: %v", err)
			}
			if i == 0 { // a control frame between the fragments
				_ = c.WriteControl(websocket.PingMessage, []byte("mid-message"), time.Now().Add(5*time.Second))
			}
		}
		if err := w.Close(); err != nil {
			t.Errorf("closing the fragmented message: %v", err)
		}
		// The client answered the ping before it sent this PINGREQ.
		if _, msg, err := c.ReadMessage(); err != nil || !bytes.Equal(msg, []byte{0xc0, 0x00}) {
			t.Errorf("ReadMessage = % x, %v; want PINGREQ", msg, err)
		}
		_, _, _ = c.ReadMessage() // until the client closes
	})
	c := dialWS(t, uri+"?x=1", transport.WithWebSocketHeader(http.Header{"Authorization": {"Bearer token"}}))
	if _, err := c.Write(testbroker.ConnectPacket("ws")); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x20, 0x02, 0x00, 0x00, 0xd0, 0x00, 0x90, 0x03, 0x00, 0x01, 0x00}
	if got := readN(t, c, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("read % x, want % x", got, want)
	}
	if got := readN(t, c, len(publish)); !bytes.Equal(got, publish) {
		t.Fatalf("PUBLISH across fragments read as % x", got)
	}
	if _, err := c.Write([]byte{0xc0, 0x00}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-pong:
		if got != "mid-message" {
			t.Errorf("pong payload %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pong for the ping between fragments")
	}

	// What the server wrote: four unfragmented binary messages (the CONNACK
	// one, the rest of the SUBACK, the empty one), then the PUBLISH as a
	// binary frame without FIN, the ping, and continuations up to one with
	// FIN.
	frames := rec.frames(t)
	wantFrames := []wsFrame{
		{fin: true, op: 2, payload: want[:7]},
		{fin: true, op: 2, payload: want[7:]},
		{fin: true, op: 2, payload: []byte{}},
		{fin: false, op: 2, payload: parts[0]},
		{fin: true, op: 9, payload: []byte("mid-message")},
		{fin: false, op: 0, payload: parts[1]},
		{fin: true, op: 0, payload: parts[2]},
	}
	if len(frames) < len(wantFrames) {
		t.Fatalf("server wrote %d frames, want at least %d: %v", len(frames), len(wantFrames), frames)
	}
	if d := cmp.Diff(wantFrames, frames[:len(wantFrames)], cmp.AllowUnexported(wsFrame{})); d != "" {
		t.Fatalf("frames written by the server (-want +got):\n%s", d)
	}
}

// wsFrame is one frame as written by the server: FIN, opcode, payload.
type wsFrame struct {
	fin     bool
	op      byte
	payload []byte
}

// frameRecorder keeps every byte the server wrote on its connections.
type frameRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// frames parses what the server wrote after its handshake response into
// frames (RFC 6455 §5.2; a server's frames are not masked). An incomplete
// frame at the end is left out.
func (r *frameRecorder) frames(t *testing.T) []wsFrame {
	t.Helper()
	r.mu.Lock()
	b := bytes.Clone(r.buf.Bytes())
	r.mu.Unlock()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no handshake response in %q", b)
	}
	b = b[i+4:]
	var out []wsFrame
	for len(b) >= 2 {
		f := wsFrame{fin: b[0]&0x80 != 0, op: b[0] & 0x0f}
		if b[1]&0x80 != 0 {
			t.Fatalf("the server masked a frame")
		}
		n, h := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return out
			}
			n, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return out
			}
			n, h = binary.BigEndian.Uint64(b[2:]), 10
		}
		if uint64(len(b)-h) < n {
			return out
		}
		f.payload = b[h : h+int(n)]
		out = append(out, f)
		b = b[h+int(n):]
	}
	return out
}

type recListener struct {
	net.Listener
	rec *frameRecorder
}

func (l recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return recConn{Conn: c, rec: l.rec}, nil
}

type recConn struct {
	net.Conn
	rec *frameRecorder
}

func (c recConn) Write(p []byte) (int, error) {
	c.rec.mu.Lock()
	c.rec.buf.Write(p)
	c.rec.mu.Unlock()
	return c.Conn.Write(p)
}

// wsServerRec is wsServer with the bytes the server writes recorded. Use it
// with one connection.
func wsServerRec(t *testing.T, up *websocket.Upgrader, script func(t *testing.T, r *http.Request, c *websocket.Conn)) (string, *frameRecorder) {
	t.Helper()
	rec := new(frameRecorder)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		script(t, r, c)
	}))
	srv.Listener = recListener{Listener: srv.Listener, rec: rec}
	srv.Start()
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/mqtt", rec
}

// TestWSPing checks that a ping from the server is answered with a pong
// carrying its payload.
func TestWSPing(t *testing.T) {
	pong := make(chan string, 1)
	uri := wsServer(t, mqttUpgrader(), func(t *testing.T, _ *http.Request, c *websocket.Conn) {
		c.SetPongHandler(func(s string) error { pong <- s; return nil })
		_ = c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(5*time.Second))
		_ = c.WriteMessage(websocket.BinaryMessage, []byte{0xd0, 0x00})
		if _, msg, err := c.ReadMessage(); err != nil || !bytes.Equal(msg, []byte{0xc0, 0x00}) {
			t.Errorf("ReadMessage = % x, %v", msg, err)
		}
	})
	c := dialWS(t, uri)
	readN(t, c, 2) // the ping came before these bytes, so it has been answered
	if _, err := c.Write([]byte{0xc0, 0x00}); err != nil {
		t.Fatal(err)
	}
	// The server read our PINGREQ after the pong, so the pong handler ran.
	select {
	case got := <-pong:
		if got != "are you there" {
			t.Errorf("pong payload %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pong")
	}
}

// TestWSCloseFromServer checks the close handshake started by the server:
// Read returns a *CloseError with the status that wraps io.EOF, and the
// client echoes the status.
func TestWSCloseFromServer(t *testing.T) {
	echoed := make(chan error, 1)
	uri := wsServer(t, mqttUpgrader(), func(t *testing.T, _ *http.Request, c *websocket.Conn) {
		_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"))
		_, _, err := c.ReadMessage()
		echoed <- err
	})
	c := dialWS(t, uri)
	err := readErr(t, c)
	var ce *transport.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye" || !errors.Is(err, io.EOF) {
		t.Fatalf("Read = %v, want CloseError 4001 bye wrapping io.EOF", err)
	}
	if err := <-echoed; !websocket.IsCloseError(err, 4001) {
		t.Fatalf("server got %v, want the close status echoed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after the close handshake = %v", err)
	}
}

// TestWSTextFrameRejected checks [MQTT-6.0.0-1]: a text frame from the
// server is a protocol error; the client closes with status 1003.
func TestWSTextFrameRejected(t *testing.T) {
	closed := make(chan error, 1)
	uri := wsServer(t, mqttUpgrader(), func(t *testing.T, _ *http.Request, c *websocket.Conn) {
		_ = c.WriteMessage(websocket.TextMessage, []byte("hello"))
		_, _, err := c.ReadMessage()
		closed <- err
	})
	c := dialWS(t, uri)
	if err := readErr(t, c); !errors.Is(err, transport.ErrTextFrame) {
		t.Fatalf("Read = %v, want ErrTextFrame", err)
	}
	if err := <-closed; !websocket.IsCloseError(err, websocket.CloseUnsupportedData) {
		t.Fatalf("server got %v, want close 1003", err)
	}
}

// TestWSFrameTooLarge checks the frame size bound: the client closes with
// status 1009 before reading the payload.
func TestWSFrameTooLarge(t *testing.T) {
	closed := make(chan error, 1)
	uri := wsServer(t, mqttUpgrader(), func(t *testing.T, _ *http.Request, c *websocket.Conn) {
		_ = c.WriteMessage(websocket.BinaryMessage, make([]byte, 1025))
		_, _, err := c.ReadMessage()
		closed <- err
	})
	c := dialWS(t, uri, transport.WithMaxFrameSize(1024))
	if err := readErr(t, c); !errors.Is(err, transport.ErrFrameTooLarge) {
		t.Fatalf("Read = %v, want ErrFrameTooLarge", err)
	}
	if err := <-closed; !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("server got %v, want close 1009", err)
	}
}

// TestWSHandshakeStatus checks that a refused upgrade reports the HTTP
// status and the start of the body.
func TestWSHandshakeStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/mqtt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", "Bearer")
		http.Error(w, "token expired", http.StatusUnauthorized)
	}))
	defer srv.Close()
	base := "ws" + strings.TrimPrefix(srv.URL, "http")
	for _, c := range []struct {
		uri  string
		code int
		body string
	}{
		{base + "/mqtt", 401, "token expired\n"},
		{base + "/elsewhere", 404, "404 page not found\n"},
	} {
		_, err := transport.Dial(ctxT(t), c.uri, transport.WithProxy(nil))
		var he *transport.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != c.code || he.Body != c.body || !errors.Is(err, transport.ErrWebSocketHandshake) {
			t.Errorf("Dial(%s) = %v, want HandshakeError %d %q", c.uri, err, c.code, c.body)
		}
	}
}

// TestWSNoSubprotocol checks that the client refuses a server that does
// not select the mqtt subprotocol.
func TestWSNoSubprotocol(t *testing.T) {
	uri := wsServer(t, &websocket.Upgrader{}, func(*testing.T, *http.Request, *websocket.Conn) {})
	_, err := transport.Dial(ctxT(t), uri, transport.WithProxy(nil))
	var he *transport.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 101 || !strings.Contains(he.Reason, "subprotocol") {
		t.Fatalf("Dial = %v, want a HandshakeError about the subprotocol", err)
	}
}

// fakeServer accepts one connection, reads the upgrade request and lets
// respond write whatever it likes.
func fakeServer(t *testing.T, respond func(key string, rw *bufio.ReadWriter)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		rw := bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
		tp := textproto.NewReader(rw.Reader)
		if _, err := tp.ReadLine(); err != nil {
			return
		}
		h, err := tp.ReadMIMEHeader()
		if err != nil {
			return
		}
		respond(h.Get("Sec-Websocket-Key"), rw)
		_ = rw.Flush()
		_, _ = io.Copy(io.Discard, c)
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return "ws://" + l.Addr().String() + "/mqtt"
}

func accept(key string) string {
	// Computed independently of the package: RFC 6455 §1.3 example logic.
	return websocketAccept(key)
}

// TestWSBadAccept checks that a wrong Sec-WebSocket-Accept fails the
// handshake.
func TestWSBadAccept(t *testing.T) {
	uri := fakeServer(t, func(key string, rw *bufio.ReadWriter) {
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", accept(key+"x"))
	})
	_, err := transport.Dial(ctxT(t), uri, transport.WithProxy(nil))
	var he *transport.HandshakeError
	if !errors.As(err, &he) || !strings.Contains(he.Reason, "Sec-WebSocket-Accept") {
		t.Fatalf("Dial = %v, want a HandshakeError about Sec-WebSocket-Accept", err)
	}
}

// TestWSRawFrames drives the frame reader with hand-written frames: a
// fragmented message with a ping between the fragments, then a masked
// frame, which a server must never send.
func TestWSRawFrames(t *testing.T) {
	uri := fakeServer(t, func(key string, rw *bufio.ReadWriter) {
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"+
			"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", accept(key))
		rw.Write([]byte{0x02, 0x02, 0x20, 0x02})       // binary, not final
		rw.Write([]byte{0x89, 0x01, 'p'})              // ping between fragments
		rw.Write([]byte{0x80, 0x02, 0x00, 0x00})       // final continuation
		rw.Write([]byte{0x82, 0x81, 1, 2, 3, 4, 0xff}) // masked: protocol error
	})
	c := dialWS(t, uri)
	if got := readN(t, c, 4); !bytes.Equal(got, []byte{0x20, 0x02, 0x00, 0x00}) {
		t.Fatalf("read % x", got)
	}
	if err := readErr(t, c); !errors.Is(err, transport.ErrWebSocketProtocol) {
		t.Fatalf("Read = %v, want ErrWebSocketProtocol", err)
	}
}

// TestWSHeaderChecks checks that handshake headers cannot be overridden
// and that header injection is refused.
func TestWSHeaderChecks(t *testing.T) {
	for _, h := range []http.Header{
		{"Sec-WebSocket-Protocol": {"other"}},
		{"Upgrade": {"h2c"}},
		{"X-Evil": {"a\r\nInjected: 1"}},
		{"Bad Name": {"x"}},
	} {
		_, err := transport.Dial(ctxT(t), "ws://127.0.0.1:1/mqtt", transport.WithWebSocketHeader(h), transport.WithProxy(nil))
		if err == nil || errors.Is(err, transport.ErrInvalidURI) {
			t.Errorf("header %v: %v, want a refusal", h, err)
		}
	}
}

// connectProxy runs an HTTP CONNECT proxy on 127.0.0.1 until the test
// ends. It tunnels "CONNECT <target>" to routes[target] when the request
// carries Proxy-Authorization auth, and answers 407 or 502 otherwise. Each
// CONNECT target it received is sent on the returned channel (buffered).
func connectProxy(t *testing.T, routes map[string]string, auth string) (*url.URL, <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	targets := make(chan string, 16)
	var wg sync.WaitGroup
	serve := func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		tp := textproto.NewReader(br)
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		h, err := tp.ReadMIMEHeader()
		if err != nil {
			return
		}
		method, rest, _ := strings.Cut(line, " ")
		target, proto, _ := strings.Cut(rest, " ")
		if method != "CONNECT" || proto != "HTTP/1.1" || h.Get("Host") != target {
			fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		targets <- target
		if h.Get("Proxy-Authorization") != auth {
			fmt.Fprintf(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
			return
		}
		addr, ok := routes[target]
		if !ok {
			fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		up, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		defer up.Close()
		fmt.Fprintf(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(up, br)
			_ = up.(*net.TCPConn).CloseWrite()
		}()
		_, _ = io.Copy(c, up)
		_ = c.Close() // ends the other direction too
		<-done
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); serve(c) }()
		}
	}()
	t.Cleanup(func() { _ = l.Close(); wg.Wait() })
	return &url.URL{Scheme: "http", Host: l.Addr().String()}, targets
}

// TestWSProxy checks ws through an HTTP CONNECT proxy with credentials, and
// that wrong credentials are a proxy HandshakeError.
func TestWSProxy(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	proxy, targets := connectProxy(t, map[string]string{b.WSAddr: b.WSAddr}, "Basic dTpw") // u:p
	proxy.User = url.UserPassword("u", "p")
	c, err := transport.Dial(ctxT(t), b.URI("ws"), transport.WithProxy(func(*transport.URI) (*url.URL, error) { return proxy, nil }))
	if err != nil {
		t.Fatal(err)
	}
	testbroker.Handshake(t, c, "lnt-proxy")
	c.Close()
	if got := <-targets; got != b.WSAddr {
		t.Errorf("CONNECT %s, want %s", got, b.WSAddr)
	}

	proxy.User = url.UserPassword("u", "wrong")
	_, err = transport.Dial(ctxT(t), b.URI("ws"), transport.WithProxy(func(*transport.URI) (*url.URL, error) { return proxy, nil }))
	var he *transport.HandshakeError
	if !errors.As(err, &he) || !he.Proxy || he.StatusCode != 407 {
		t.Fatalf("Dial with wrong proxy credentials = %v, want a proxy HandshakeError 407", err)
	}
}

// TestWSProxyRefused checks that a proxy's refusal is a HandshakeError
// marked Proxy.
func TestWSProxyRefused(t *testing.T) {
	uri := fakeServer(t, func(_ string, rw *bufio.ReadWriter) {
		rw.WriteString("HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nnope!\n")
	})
	proxy, _ := url.Parse("http://" + strings.TrimSuffix(strings.TrimPrefix(uri, "ws://"), "/mqtt"))
	_, err := transport.Dial(ctxT(t), "ws://broker.invalid/mqtt", transport.WithProxy(func(*transport.URI) (*url.URL, error) { return proxy, nil }))
	var he *transport.HandshakeError
	if !errors.As(err, &he) || !he.Proxy || he.StatusCode != 403 || he.Body != "nope!\n" {
		t.Fatalf("Dial = %v, want a proxy HandshakeError 403", err)
	}
}

// TestProxyFromEnvironment checks the proxy choice against the rules of
// net/http.
func TestProxyFromEnvironment(t *testing.T) {
	t.Setenv("HTTP_PROXY", "proxy.example:3128")
	t.Setenv("HTTPS_PROXY", "http://secure.example:8080")
	t.Setenv("NO_PROXY", "internal.example, .corp.example, 10.0.0.0/8, 192.168.1.1, other.example:8883")
	t.Setenv("REQUEST_METHOD", "")
	for _, c := range []struct {
		uri, want string
	}{
		{"ws://broker.example/mqtt", "http://proxy.example:3128"},
		{"wss://broker.example/mqtt", "http://secure.example:8080"},
		{"ws://localhost:8080/mqtt", ""},
		{"ws://127.0.0.1:8080/mqtt", ""},
		{"ws://[::1]:8080/mqtt", ""},
		{"ws://internal.example/mqtt", ""},
		{"ws://a.internal.example/mqtt", ""},
		{"ws://corp.example/mqtt", "http://proxy.example:3128"},
		{"ws://a.corp.example/mqtt", ""},
		{"ws://10.1.2.3/mqtt", ""},
		{"ws://192.168.1.1/mqtt", ""},
		{"ws://192.168.1.2/mqtt", "http://proxy.example:3128"},
		{"wss://other.example:8883/mqtt", ""},
		{"wss://other.example/mqtt", "http://secure.example:8080"},
	} {
		p, err := transport.ProxyFromEnvironment(envURI(t, c.uri))
		got := ""
		if p != nil {
			got = p.String()
		}
		if err != nil || got != c.want {
			t.Errorf("ProxyFromEnvironment(%s) = %q, %v; want %q", c.uri, got, err, c.want)
		}
	}
	t.Setenv("NO_PROXY", "*")
	u := envURI(t, "ws://broker.example")
	if p, _ := transport.ProxyFromEnvironment(u); p != nil {
		t.Errorf("NO_PROXY=* still chose %v", p)
	}
	t.Setenv("REQUEST_METHOD", "GET")
	t.Setenv("NO_PROXY", "")
	if p, _ := transport.ProxyFromEnvironment(u); p != nil {
		t.Errorf("CGI: HTTP_PROXY used: %v", p)
	}
}

// envURI builds a URI without the registry, so that wss works in builds
// without TLS too.
func envURI(t *testing.T, s string) *transport.URI {
	t.Helper()
	v, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	port := 80
	if v.Scheme == "wss" {
		port = 443
	}
	if v.Port() != "" {
		port, _ = strconv.Atoi(v.Port())
	}
	return &transport.URI{Scheme: v.Scheme, Host: v.Hostname(), Port: port, Path: v.Path}
}

// TestParseWS checks the defaults of the WebSocket schemes.
func TestParseWS(t *testing.T) {
	for in, want := range map[string]string{
		"ws://broker":           "ws://broker:80/mqtt",
		"WS://broker:8080/":     "ws://broker:8080/",
		"ws://[::1]:8080/x?a=b": "ws://[::1]:8080/x?a=b",
		"ws://u:pw@broker/mqtt": "ws://u:xxxxx@broker:80/mqtt",
		"ws://broker?":          "ws://broker:80/mqtt",
	} {
		u, err := transport.Parse(in)
		if err != nil || u.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, in := range []string{"ws://", "ws:///mqtt", "ws://broker:0", "ws://broker#x"} {
		if err := transport.Validate(in); !errors.Is(err, transport.ErrInvalidURI) {
			t.Errorf("Validate(%q) = %v", in, err)
		}
	}
}

// TestWSContextBoundsUpgrade checks that ctx bounds the upgrade with a
// server that accepts and never answers.
func TestWSContextBoundsUpgrade(t *testing.T) {
	uri := fakeServer(t, func(string, *bufio.ReadWriter) {})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := transport.Dial(ctx, uri, transport.WithProxy(nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want DeadlineExceeded", err)
	}
}
