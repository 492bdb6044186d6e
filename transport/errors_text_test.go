package transport_test

import (
	"errors"
	"io"
	"testing"

	"github.com/linnet-mqtt/linnet/transport"
)

// TestErrorTexts pins the text of the error types, which logs show and
// callers may compare: the literals are what the package wrote with fmt
// before it dropped fmt (issue 5), "<nil>" for a missing error included.
func TestErrorTexts(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&transport.URIError{URI: "tcp://h:99999", Reason: "port out of range", Err: transport.ErrBadPort}, `transport: invalid server URI "tcp://h:99999": port out of range`},
		{&transport.URIError{URI: "tcp://\"q\"\x00\xff\u00e9/\t", Reason: "odd"}, `transport: invalid server URI "tcp://\"q\"\x00\xffé/\t": odd`},
		{&transport.URIError{}, `transport: invalid server URI "": `},
		{&transport.TLSError{Kind: transport.ErrTLS, Err: io.ErrUnexpectedEOF}, "transport: TLS: unexpected EOF"},
		{&transport.TLSError{Kind: transport.ErrUnknownAuthority, Err: errors.New("x509: unknown authority")}, "transport: TLS: server certificate signed by unknown authority: x509: unknown authority"},
		{&transport.TLSError{Kind: transport.ErrTLS}, "transport: TLS: <nil>"},
		{&transport.TLSError{}, "transport: TLS: <nil>: <nil>"},
		{&transport.DialError{URI: "ws://h:80/mqtt", Err: io.EOF}, "transport: dial ws://h:80/mqtt: EOF"},
		{&transport.DialError{}, "transport: dial : <nil>"},
		{&transport.HandshakeError{Reason: "missing Connection: Upgrade"}, "transport: websocket handshake: missing Connection: Upgrade"},
		{&transport.HandshakeError{StatusCode: 401, Status: "401 Unauthorized", Body: "token \"expired\"\n\u00e9\x01", Reason: "the server did not switch to WebSocket"}, `transport: websocket handshake: the server did not switch to WebSocket: HTTP 401 Unauthorized: "token \"expired\"\né\x01"`},
		{&transport.HandshakeError{Proxy: true, StatusCode: 407, Status: "407 Proxy Authentication Required", Reason: "refused"}, "transport: proxy CONNECT: refused: HTTP 407 Proxy Authentication Required"},
		{&transport.CloseError{Code: 1001}, "transport: websocket closed by server with status 1001"},
		{&transport.CloseError{Code: 1011, Reason: "bye \"now\"\n"}, `transport: websocket closed by server with status 1011: "bye \"now\"\n"`},
		{&transport.CloseError{Reason: "x"}, `transport: websocket closed by server with status 0: "x"`},
		{&transport.WebSocketError{Err: transport.ErrTextFrame, Detail: "opcode 1"}, "transport: websocket: websocket text frame, MQTT needs binary frames [MQTT-6.0.0-1]: opcode 1"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("%#v: %#q, want %#q", c.err, got, c.want)
		}
	}
}
