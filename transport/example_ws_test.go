//go:build !linnet_nows

package transport_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/linnet-mqtt/linnet/transport"
)

// ExampleWithWebSocketHeader dials a WebSocket MQTT server with an
// Authorization header. So that the example runs, the server is an
// in-process WebSocket server on 127.0.0.1 that checks the header and
// answers the CONNECT with a CONNACK; against a real broker the URI would be
// e.g. "wss://broker.example/mqtt" with WithTLSConfig.
func ExampleWithWebSocketHeader() {
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer secret-token" {
			http.Error(w, "token missing", http.StatusUnauthorized)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if _, connect, err := c.ReadMessage(); err == nil && connect[0] == 0x10 {
			_ = c.WriteMessage(websocket.BinaryMessage, []byte{0x20, 0x02, 0x00, 0x00}) // CONNACK, accepted
		}
		_, _, _ = c.ReadMessage() // until the client closes
	}))
	defer srv.Close()
	uri := "ws" + strings.TrimPrefix(srv.URL, "http") + "/mqtt"

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, uri,
		transport.WithWebSocketHeader(http.Header{"Authorization": {"Bearer secret-token"}}),
		transport.WithMaxFrameSize(1<<20))
	if err != nil {
		fmt.Println(err) // a *transport.HandshakeError carries the HTTP status of a refusal
		return
	}
	defer conn.Close()
	connect := []byte{0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, 'x'}
	if _, err := conn.Write(connect); err != nil {
		fmt.Println(err)
		return
	}
	connack := make([]byte, 4)
	if _, err := io.ReadFull(conn, connack); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("CONNACK % x\n", connack)

	// Without the header the upgrade is refused with the server's status.
	_, err = transport.Dial(ctx, uri)
	var he *transport.HandshakeError
	if errors.As(err, &he) {
		fmt.Printf("refused: %d %q\n", he.StatusCode, he.Body)
	}
	// Output:
	// CONNACK 20 02 00 00
	// refused: 401 "token missing\n"
}
