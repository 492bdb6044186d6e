//go:build !linnet_nows

package transport

import (
	"bufio"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// TestWSErrorTexts pins the texts of the WebSocket and proxy errors built
// from parts: the literals are what the package wrote with fmt before it
// dropped fmt (issue 5).
func TestWSErrorTexts(t *testing.T) {
	text := func(err error) string {
		if err == nil {
			return "<no error>"
		}
		return err.Error()
	}
	head := func(resp string) error {
		_, _, _, err := readResponseHead(bufio.NewReader(strings.NewReader(resp)))
		return err
	}
	t.Setenv("REQUEST_METHOD", "")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	t.Setenv("HTTP_PROXY", "%zz")
	_, proxyErr := ProxyFromEnvironment(&URI{Scheme: "ws", Host: "example.com", Port: 80})
	for _, c := range []struct {
		err  error
		want string
	}{
		{checkHeader(map[string][]string{"Bad Name": nil}), `transport: websocket header name "Bad Name" is not a valid token`},
		{checkHeader(map[string][]string{"": nil}), `transport: websocket header name "" is not a valid token`},
		{checkHeader(map[string][]string{"X-\u00e9": nil}), `transport: websocket header name "X-é" is not a valid token`},
		{checkHeader(map[string][]string{"sec-websocket-key": {"k"}}), `transport: websocket header "sec-websocket-key" belongs to the handshake and cannot be set`},
		{checkHeader(map[string][]string{"X-Token": {"a\r\nb"}}), `transport: websocket header "X-Token" has a control character in its value`},
		{head("HTTP/2 200 OK\r\n\r\n"), `transport: websocket handshake: malformed HTTP status line "HTTP/2 200 OK"`},
		{head("HTTP/1.1 abc \"quoted\"\r\n\r\n"), `transport: websocket handshake: malformed HTTP status line "HTTP/1.1 abc \"quoted\""`},
		{head("HTTP/1.1 099 Low\r\n\r\n"), `transport: websocket handshake: malformed HTTP status line "HTTP/1.1 099 Low"`},
		{head("HTTP/1.0 " + strings.Repeat("x", 100) + "\r\n\r\n"), `transport: websocket handshake: malformed HTTP status line "HTTP/1.0 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."`},
		{head(""), "transport: websocket handshake: the server closed the connection without a response"},
		{head("HTTP/1.1 200 OK\r\nbad header line\r\n\r\n"), `transport: websocket handshake: malformed HTTP header: malformed MIME header: missing colon: "bad header line": HTTP 200 OK`},
		{func() error {
			_, err := (&limitReader{r: strings.NewReader("x"), n: 0}).Read(make([]byte, 1))
			return err
		}(), "transport: websocket handshake: response head longer than 65536 bytes"},
		{proxyErr, `transport: invalid proxy address in the environment: parse "%zz": invalid URL escape "%zz"`},
	} {
		if got := text(c.err); got != c.want {
			t.Errorf("%#q, want %#q", got, c.want)
		}
	}
	// The wrapped cause stays reachable, as with fmt's %w.
	var ue *url.Error
	if !errors.As(proxyErr, &ue) || errors.Unwrap(proxyErr) != error(ue) {
		t.Errorf("%v does not wrap its *url.Error", proxyErr)
	}
}
