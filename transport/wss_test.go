//go:build !linnet_nows && !linnet_notls

package transport_test

import (
	"crypto/tls"
	"testing"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
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
