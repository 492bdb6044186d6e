//go:build !linnet_nows && !linnet_notls

package transport_test

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/internal/testcert"
	"github.com/linnet-mqtt/linnet/transport"
)

// TestWSSMochi exchanges CONNECT and CONNACK with the embedded broker over
// WebSocket on TLS, and checks that a wss server with an untrusted
// certificate is refused as such.
func TestWSSMochi(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	c := dialWS(t, b.URI("wss"), transport.WithTLSConfig(&tls.Config{RootCAs: b.Certs.Pool}))
	testbroker.Handshake(t, c, "lnt-wss")

	_, err := transport.Dial(ctxT(t), b.URI("wss"), transport.WithProxy(nil))
	wantTLS(t, err, transport.ErrUnknownAuthority)
}

// TestWSSProxy checks wss through an HTTP CONNECT proxy with credentials:
// the tunnel is asked for the target's name, TLS runs end to end with the
// target inside the tunnel, and the certificate is verified against the
// URI's host, not the proxy's address. The broker presents a certificate
// valid only for testcert.WrongHost (a name that does not resolve; only the
// proxy maps it to the broker), so verification against the proxy's
// 127.0.0.1 would fail, and the same broker reached as "localhost" must
// fail with ErrHostnameMismatch.
func TestWSSProxy(t *testing.T) {
	certs := testcert.New(t)
	onlyTarget := *certs
	onlyTarget.Server = certs.WrongHost
	b := testbroker.StartMochi(t, testbroker.MochiConfig{Certs: &onlyTarget})
	_, port, err := net.SplitHostPort(b.WSSAddr)
	if err != nil {
		t.Fatal(err)
	}
	target := net.JoinHostPort(testcert.WrongHost, port)
	asLocalhost := net.JoinHostPort("localhost", port)
	proxy, targets := connectProxy(t, map[string]string{target: b.WSSAddr, asLocalhost: b.WSSAddr}, "Basic dTpw") // u:p
	proxy.User = url.UserPassword("u", "p")
	viaProxy := transport.WithProxy(func(*transport.URI) (*url.URL, error) { return proxy, nil })
	trust := transport.WithTLSConfig(&tls.Config{RootCAs: certs.Pool})

	c, err := transport.Dial(ctxT(t), "wss://"+target+"/mqtt", trust, viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	testbroker.Handshake(t, c, "lnt-wss-proxy")
	_ = c.Close()
	if got := <-targets; got != target {
		t.Errorf("CONNECT %s, want %s", got, target)
	}

	// The proxy chosen from HTTPS_PROXY, credentials from its URL.
	t.Setenv("HTTPS_PROXY", "http://u:p@"+proxy.Host)
	t.Setenv("NO_PROXY", "")
	c, err = transport.Dial(ctxT(t), "wss://"+target+"/mqtt", trust)
	if err != nil {
		t.Fatalf("wss with HTTPS_PROXY: %v", err)
	}
	testbroker.Handshake(t, c, "lnt-wss-envproxy")
	_ = c.Close()
	if got := <-targets; got != target {
		t.Errorf("CONNECT %s, want %s", got, target)
	}

	_, err = transport.Dial(ctxT(t), "wss://"+asLocalhost+"/mqtt", trust, viaProxy)
	wantTLS(t, err, transport.ErrHostnameMismatch)
	if got := <-targets; got != asLocalhost {
		t.Errorf("CONNECT %s, want %s", got, asLocalhost)
	}
}

// TestWSSProxySNI checks, with an independent TLS WebSocket server (gorilla
// on httptest) behind the CONNECT proxy, that the client sends the target's
// name in SNI and the WebSocket Host header, and completes an MQTT CONNECT
// and CONNACK through the tunnel.
func TestWSSProxySNI(t *testing.T) {
	certs := testcert.New(t)
	sni := make(chan string, 1)
	up := mqttUpgrader()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != testcert.WrongHost+":8443" {
			t.Errorf("Host %q, want the target", r.Host)
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if _, msg, err := c.ReadMessage(); err != nil || !bytes.Equal(msg, testbroker.ConnectPacket("lnt-sni")) {
			t.Errorf("ReadMessage = % x, %v; want the CONNECT", msg, err)
			return
		}
		_ = c.WriteMessage(websocket.BinaryMessage, testbroker.ConnackAccepted)
		_, _, _ = c.ReadMessage() // until the client closes
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{certs.WrongHost.Cert},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			sni <- h.ServerName
			return nil, nil
		},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	target := net.JoinHostPort(testcert.WrongHost, "8443")
	proxy, targets := connectProxy(t, map[string]string{target: strings.TrimPrefix(srv.URL, "https://")}, "Basic dTpw")
	proxy.User = url.UserPassword("u", "p")

	c, err := transport.Dial(ctxT(t), "wss://"+target+"/mqtt",
		transport.WithTLSConfig(&tls.Config{RootCAs: certs.Pool}),
		transport.WithProxy(func(*transport.URI) (*url.URL, error) { return proxy, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := <-targets; got != target {
		t.Errorf("CONNECT %s, want %s", got, target)
	}
	if got := <-sni; got != testcert.WrongHost {
		t.Errorf("SNI %q, want %q", got, testcert.WrongHost)
	}
	testbroker.Handshake(t, c, "lnt-sni")
}
