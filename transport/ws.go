//go:build !linnet_nows

package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

const (
	// DefaultWSPort and DefaultWSSPort are the ports of ws:// and wss://
	// URIs without one.
	DefaultWSPort  = 80
	DefaultWSSPort = 443
	// DefaultWebSocketPath is the request path of WebSocket URIs without one.
	DefaultWebSocketPath = "/mqtt"
	// DefaultMaxFrameSize bounds the payload of one WebSocket frame from the
	// server. Frames are streamed, not buffered, so the bound is a guard
	// against a hostile server rather than a memory budget; raise it with
	// WithMaxFrameSize if the server sends larger packets in one frame.
	DefaultMaxFrameSize = 16 << 20

	maxHandshakeResponse = 64 << 10 // status line and headers
	maxBodyExcerpt       = 512
	websocketGUID        = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

type wsOptions struct {
	header   map[string][]string
	maxFrame int64
	proxy    func(*URI) (*url.URL, error)
	proxySet bool
}

// WithWebSocketHeader adds header fields to the WebSocket upgrade request,
// e.g. Authorization. An http.Header can be passed as it is. The fields of
// the handshake itself (Upgrade, Connection, Sec-WebSocket-*) cannot be
// set; Host can, to override the URI's host. The map is copied.
//
// This option exists only in builds without the linnet_nows tag.
func WithWebSocketHeader(h map[string][]string) Option {
	c := make(map[string][]string, len(h))
	for k, v := range h {
		c[k] = append([]string(nil), v...)
	}
	return func(cfg *Config) { cfg.ws.header = c }
}

// WithMaxFrameSize bounds the payload of a WebSocket frame from the server;
// a larger one closes the connection with ErrFrameTooLarge. Zero or less
// means DefaultMaxFrameSize.
func WithMaxFrameSize(n int64) Option {
	return func(cfg *Config) { cfg.ws.maxFrame = n }
}

// WithProxy sets how ws and wss connections choose an HTTP proxy: f returns
// the proxy URL for a server URI, or nil for a direct connection. A nil f
// means never use a proxy. Without this option, ProxyFromEnvironment
// decides.
func WithProxy(f func(*URI) (*url.URL, error)) Option {
	return func(cfg *Config) { cfg.ws.proxy, cfg.ws.proxySet = f, true }
}

func addWS(m map[string]Module) { m["ws"] = wsModule{tls: false} }

// wsModule opens WebSocket connections; with tls set it runs TLS under the
// WebSocket (wss, see wss.go).
type wsModule struct{ tls bool }

func (m wsModule) Validate(u *URI) error {
	if u.Host == "" {
		return uriError(u.raw, "missing host", ErrMissingHost)
	}
	if u.Port == 0 {
		u.Port = DefaultWSPort
		if m.tls {
			u.Port = DefaultWSSPort
		}
	}
	if u.Path == "" {
		u.Path = DefaultWebSocketPath
	}
	if u.RawQuery == "?" {
		u.RawQuery = ""
	}
	return nil
}

func (m wsModule) Dial(ctx context.Context, u *URI, cfg *Config) (net.Conn, error) {
	if err := checkHeader(cfg.ws.header); err != nil {
		return nil, err
	}
	conn, err := dialMaybeProxy(ctx, u, cfg)
	if err != nil {
		return nil, err
	}
	if m.tls {
		if conn, err = wssTLS(ctx, conn, u.Host, cfg); err != nil {
			return nil, err
		}
	}
	wc, err := clientHandshake(ctx, conn, u, cfg)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return wc, nil
}

var reservedHeaders = map[string]bool{
	"Upgrade": true, "Connection": true, "Sec-Websocket-Key": true, "Sec-Websocket-Version": true,
	"Sec-Websocket-Protocol": true, "Sec-Websocket-Accept": true, "Sec-Websocket-Extensions": true,
	"Content-Length": true, "Transfer-Encoding": true,
}

// checkHeader refuses header fields that would break the request or the
// handshake: reserved names, and names or values with control characters.
func checkHeader(h map[string][]string) error {
	for k, vs := range h {
		if k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ':' }) {
			return errors.New("transport: websocket header name " + strconv.Quote(k) + " is not a valid token")
		}
		if reservedHeaders[textproto.CanonicalMIMEHeaderKey(k)] {
			return errors.New("transport: websocket header " + strconv.Quote(k) + " belongs to the handshake and cannot be set")
		}
		for _, v := range vs {
			if strings.ContainsFunc(v, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) {
				return errors.New("transport: websocket header " + strconv.Quote(k) + " has a control character in its value")
			}
		}
	}
	return nil
}

// clientHandshake upgrades conn to a WebSocket carrying MQTT (RFC 6455
// §4.1, MQTT §6). ctx bounds it through conn's deadlines.
func clientHandshake(ctx context.Context, conn net.Conn, u *URI, cfg *Config) (*wsConn, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])

	target := (&url.URL{Path: u.Path, RawQuery: u.RawQuery}).RequestURI()
	host := u.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if (u.Port != DefaultWSPort || u.Scheme != "ws") && (u.Port != DefaultWSSPort || u.Scheme != "wss") {
		host = net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
	}
	var req bytes.Buffer
	req.WriteString("GET " + target + " HTTP/1.1\r\n")
	hostSet := false
	for k, vs := range cfg.ws.header {
		if textproto.CanonicalMIMEHeaderKey(k) == "Host" && len(vs) > 0 {
			host, hostSet = vs[0], true
		}
	}
	req.WriteString("Host: " + host + "\r\n")
	// [MQTT-6.0.0-3] the client offers the "mqtt" subprotocol.
	req.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n")
	for k, vs := range cfg.ws.header {
		if hostSet && textproto.CanonicalMIMEHeaderKey(k) == "Host" {
			continue
		}
		for _, v := range vs {
			req.WriteString(k + ": " + v + "\r\n")
		}
	}
	req.WriteString("\r\n")

	stop := closeOnCancel(ctx, conn)
	defer stop()
	if _, err := conn.Write(req.Bytes()); err != nil {
		return nil, err
	}
	lim := &limitReader{r: conn, n: maxHandshakeResponse}
	br := bufio.NewReaderSize(lim, 4096)
	code, status, hdr, err := readResponseHead(br)
	if err != nil {
		return nil, err
	}
	if code != 101 {
		return nil, &HandshakeError{StatusCode: code, Status: status, Body: bodyExcerpt(br, hdr),
			Reason: "the server did not switch to WebSocket"}
	}
	fail := func(reason string) error { return &HandshakeError{StatusCode: code, Status: status, Reason: reason} }
	if !strings.EqualFold(hdr.Get("Upgrade"), "websocket") {
		return nil, fail("missing or wrong Upgrade header")
	}
	if !headerHasToken(hdr["Connection"], "upgrade") {
		return nil, fail("missing Connection: Upgrade")
	}
	sum := sha1.Sum([]byte(key + websocketGUID))
	if hdr.Get("Sec-Websocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, fail("wrong Sec-WebSocket-Accept")
	}
	if p := hdr["Sec-Websocket-Protocol"]; len(p) != 1 || p[0] != "mqtt" {
		return nil, fail("server selected subprotocol " + strconv.Quote(strings.Join(p, ", ")) + `, want "mqtt"`)
	}
	if e := hdr.Get("Sec-Websocket-Extensions"); e != "" {
		return nil, fail("server selected extension " + strconv.Quote(e) + ", none was offered")
	}
	if !stop() && ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	lim.n = -1 // from now on frames, bounded by the frame size
	maxFrame := cfg.ws.maxFrame
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	return newWSConn(conn, br, true, maxFrame), nil
}

// readResponseHead reads an HTTP/1.x status line and header.
func readResponseHead(br *bufio.Reader) (code int, status string, hdr textproto.MIMEHeader, err error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = &HandshakeError{Reason: "the server closed the connection without a response"}
		}
		return 0, "", nil, err
	}
	proto, status, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") || len(status) < 3 {
		return 0, "", nil, &HandshakeError{Reason: "malformed HTTP status line " + strconv.Quote(truncate(line, 80))}
	}
	code, err = strconv.Atoi(status[:3])
	if err != nil || code < 100 {
		return 0, "", nil, &HandshakeError{Reason: "malformed HTTP status line " + strconv.Quote(truncate(line, 80))}
	}
	hdr, err = tp.ReadMIMEHeader()
	if err != nil {
		return code, status, nil, &HandshakeError{StatusCode: code, Status: status, Reason: "malformed HTTP header: " + err.Error()}
	}
	return code, status, hdr, nil
}

// bodyExcerpt reads up to maxBodyExcerpt bytes of a response body, without
// waiting for more than the response says it has.
func bodyExcerpt(br *bufio.Reader, hdr textproto.MIMEHeader) string {
	n := int64(maxBodyExcerpt)
	if strings.EqualFold(hdr.Get("Transfer-Encoding"), "chunked") {
		line, err := textproto.NewReader(br).ReadLine()
		if err != nil {
			return ""
		}
		size, _, _ := strings.Cut(line, ";")
		sz, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil {
			return ""
		}
		n = min(n, sz)
	} else if cl := hdr.Get("Content-Length"); cl != "" {
		sz, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || sz < 0 {
			return ""
		}
		n = min(n, sz)
	}
	buf := make([]byte, n)
	got, _ := io.ReadFull(br, buf)
	return strings.ToValidUTF8(string(buf[:got]), "\uFFFD")
}

func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// limitReader returns an error after n bytes; n < 0 means no limit. It
// bounds the handshake response before the stream turns into frames.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, &HandshakeError{Reason: "response head longer than " + strconv.Itoa(maxHandshakeResponse) + " bytes"}
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
