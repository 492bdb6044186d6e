//go:build !linnet_nows

package transport_test

import (
	"context"
	"net/http"
	"time"

	"github.com/linnet-mqtt/linnet/transport"
)

func ExampleWithWebSocketHeader() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, "wss://broker.example/mqtt",
		transport.WithWebSocketHeader(http.Header{"Authorization": {"Bearer <token>"}}),
		transport.WithMaxFrameSize(1<<20))
	if err != nil {
		return // a *transport.HandshakeError carries the HTTP status of a refusal
	}
	defer conn.Close()
}
