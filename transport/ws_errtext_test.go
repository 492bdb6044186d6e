//go:build !linnet_nows

package transport_test

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/linnet-mqtt/linnet/transport"
)

// TestWSHandshakeErrorTexts pins the whole text of handshake failures that
// name what the server sent, and of a refused proxy scheme: the literals are
// what the package wrote with fmt before it dropped fmt (issue 5).
func TestWSHandshakeErrorTexts(t *testing.T) {
	switching := func(extra string) func(string, *bufio.ReadWriter) {
		return func(key string, rw *bufio.ReadWriter) {
			fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Accept: %s\r\n%s\r\n", accept(key), extra)
		}
	}
	for _, c := range []struct {
		respond func(string, *bufio.ReadWriter)
		want    string
	}{
		{switching(""), `transport: websocket handshake: server selected subprotocol "", want "mqtt": HTTP 101 Switching Protocols`},
		{switching("Sec-WebSocket-Protocol: mqttv3.1\r\nSec-WebSocket-Protocol: \"x\"\r\n"), `transport: websocket handshake: server selected subprotocol "mqttv3.1, \"x\"", want "mqtt": HTTP 101 Switching Protocols`},
		{switching("Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"), `transport: websocket handshake: server selected extension "permessage-deflate", none was offered: HTTP 101 Switching Protocols`},
	} {
		uri := fakeServer(t, c.respond)
		_, err := transport.Dial(ctxT(t), uri, transport.WithProxy(nil))
		var he *transport.HandshakeError
		if !errors.As(err, &he) {
			t.Fatalf("Dial = %v, want a HandshakeError", err)
		}
		if got := he.Error(); got != c.want {
			t.Errorf("%#q, want %#q", got, c.want)
		}
	}

	_, err := transport.Dial(ctxT(t), "ws://127.0.0.1:1/mqtt", transport.WithProxy(func(*transport.URI) (*url.URL, error) {
		return &url.URL{Scheme: "socks5", Host: "127.0.0.1:1080"}, nil
	}))
	var de *transport.DialError
	if !errors.As(err, &de) {
		t.Fatalf("Dial = %v, want a DialError", err)
	}
	if got, want := err.Error(), `transport: dial ws://127.0.0.1:1/mqtt: transport: proxy scheme "socks5" is not supported, only http`; got != want {
		t.Errorf("%#q, want %#q", got, want)
	}
}
