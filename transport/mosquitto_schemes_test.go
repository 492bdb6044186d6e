//go:build !linnet_notls && !linnet_nows

package transport_test

import (
	"context"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/transport"
)

// TestMosquittoWSSAndUnix completes the schemes a client reaches mosquitto
// over: a CONNECT/CONNACK exchange through wss (TLS under the WebSocket,
// verified against the test CA) and through a Unix socket. TCP, TLS and ws
// have tests of their own.
func TestMosquittoWSSAndUnix(t *testing.T) {
	mq := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{SecureWebSockets: true, Unix: true})
	for _, tc := range []struct {
		name, uri string
		opts      []transport.Option
	}{
		{"wss", mq.WSSURI(), []transport.Option{transport.WithTLSConfig(mq.Certs.ClientTLSConfig())}},
		{"unix", mq.UnixURI(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := transport.Dial(ctx, tc.uri, tc.opts...)
			if err != nil {
				t.Fatalf("Dial(%s): %v", tc.uri, err)
			}
			defer conn.Close()
			testbroker.Handshake(t, conn, "linnet-"+tc.name)
		})
	}
}
