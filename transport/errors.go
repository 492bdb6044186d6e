package transport

import (
	"errors"
	"io"
	"strconv"
)

// Sentinels for errors.Is. The typed errors below wrap one of them.
var (
	// ErrInvalidURI is wrapped by every *URIError.
	ErrInvalidURI = errors.New("invalid server URI")
	// ErrUnknownScheme: no module is registered for the URI's scheme (or it
	// was left out of this build by a build tag).
	ErrUnknownScheme = errors.New("unknown scheme")
	// ErrMissingHost: the scheme needs a host and the URI has none.
	ErrMissingHost = errors.New("missing host")
	// ErrBadPort: the port is not a number from 1 to 65535.
	ErrBadPort = errors.New("bad port")
	// ErrUnexpectedPart: the URI has a part its scheme does not use (a path
	// on tcp, a query on tls, a fragment anywhere, a host on unix).
	ErrUnexpectedPart = errors.New("unexpected URI part")

	// ErrTLS is wrapped by every *TLSError.
	ErrTLS = errors.New("TLS failed")
	// ErrUnknownAuthority: the server's certificate chain does not lead to a
	// trusted root.
	ErrUnknownAuthority = errors.New("server certificate signed by unknown authority")
	// ErrHostnameMismatch: the server's certificate is not valid for the host
	// named in the URI (or tls.Config.ServerName).
	ErrHostnameMismatch = errors.New("server certificate is not valid for the host")
	// ErrCertificateExpired: the server's certificate is expired or not yet
	// valid.
	ErrCertificateExpired = errors.New("server certificate expired or not yet valid")
	// ErrCertificateInvalid: the server's certificate failed verification for
	// another reason (key usage, constraints...).
	ErrCertificateInvalid = errors.New("server certificate invalid")
	// ErrClientCertRejected: the server rejected the client's certificate or
	// the lack of one. With TLS 1.3 this can only be seen on the first read
	// after the handshake; the connection returned by Dial reports it there
	// as a *TLSError too.
	ErrClientCertRejected = errors.New("server rejected the client certificate")
)

// URIError reports a server URI that cannot be used. It wraps ErrInvalidURI
// and one of ErrUnknownScheme, ErrMissingHost, ErrBadPort, ErrUnexpectedPart,
// or, for a URI that is not well-formed, an error that says what is wrong.
type URIError struct {
	URI    string // the URI with any password redacted
	Reason string // what is wrong, for people
	Err    error  // the sentinel or cause
}

func (e *URIError) Error() string {
	return "transport: invalid server URI " + strconv.Quote(e.URI) + ": " + e.Reason
}

// Unwrap returns ErrInvalidURI and the specific cause.
func (e *URIError) Unwrap() []error { return []error{ErrInvalidURI, e.Err} }

// TLSError reports a failed TLS handshake, or a TLS alert on the first read
// that rejects the client certificate. Kind is one of the TLS sentinels
// (ErrUnknownAuthority, ErrHostnameMismatch, ErrCertificateExpired,
// ErrCertificateInvalid, ErrClientCertRejected) or ErrTLS when the failure
// fits none of them; Err is the error of crypto/tls, so errors.As still finds
// x509.UnknownAuthorityError, x509.HostnameError and the like.
type TLSError struct {
	Kind error
	Err  error
}

func (e *TLSError) Error() string {
	if e.Kind == ErrTLS {
		return "transport: TLS: " + errText(e.Err)
	}
	return "transport: TLS: " + errText(e.Kind) + ": " + errText(e.Err)
}

// Unwrap returns ErrTLS, Kind and the crypto/tls error.
func (e *TLSError) Unwrap() []error { return []error{ErrTLS, e.Kind, e.Err} }

// DialError wraps any failure of Dial with the (redacted) URI it was for.
// When the context ended the open, it also wraps the context's error, so
// errors.Is(err, context.DeadlineExceeded) holds.
type DialError struct {
	URI string
	Err error
}

func (e *DialError) Error() string { return "transport: dial " + e.URI + ": " + errText(e.Err) }

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }

// ErrNoCertificates: a CA file holds no PEM certificate.
var ErrNoCertificates = errors.New("no PEM certificates found")

// WebSocket sentinels. They are defined in every build so that code which
// checks for them compiles with the linnet_nows tag too.
var (
	// ErrWebSocketHandshake is wrapped by every *HandshakeError.
	ErrWebSocketHandshake = errors.New("websocket handshake failed")
	// ErrWebSocketProtocol: the server broke RFC 6455 (a masked frame,
	// reserved bits or opcodes, a bad continuation, a bad control frame).
	ErrWebSocketProtocol = errors.New("websocket protocol violation")
	// ErrTextFrame: the server sent a text frame. MQTT travels in binary
	// frames only [MQTT-6.0.0-1]; the connection is closed with status 1003.
	ErrTextFrame = errors.New("websocket text frame, MQTT needs binary frames [MQTT-6.0.0-1]")
	// ErrFrameTooLarge: a frame from the server exceeds the maximum frame
	// size (WithMaxFrameSize); the connection is closed with status 1009.
	ErrFrameTooLarge = errors.New("websocket frame too large")
)

// HandshakeError reports a failed WebSocket upgrade or HTTP proxy CONNECT:
// a status other than the one wanted, or a 101 response that fails the
// checks of RFC 6455 (the Sec-WebSocket-Accept value, the subprotocol).
type HandshakeError struct {
	Proxy      bool   // the HTTP proxy refused the CONNECT
	StatusCode int    // HTTP status code of the response, 0 if none was read
	Status     string // e.g. "401 Unauthorized"
	Body       string // the first bytes of the response body, if any
	Reason     string // what check failed, for people
}

func (e *HandshakeError) Error() string {
	what := "websocket handshake"
	if e.Proxy {
		what = "proxy CONNECT"
	}
	s := "transport: " + what + ": " + e.Reason
	if e.Status != "" {
		s += ": HTTP " + e.Status
	}
	if e.Body != "" {
		s += ": " + strconv.Quote(e.Body)
	}
	return s
}

// Unwrap returns ErrWebSocketHandshake.
func (e *HandshakeError) Unwrap() error { return ErrWebSocketHandshake }

// WebSocketError reports a broken WebSocket stream. Err is ErrTextFrame,
// ErrFrameTooLarge or ErrWebSocketProtocol.
type WebSocketError struct {
	Err    error
	Detail string
}

func (e *WebSocketError) Error() string {
	return "transport: websocket: " + e.Err.Error() + ": " + e.Detail
}

// Unwrap returns the sentinel.
func (e *WebSocketError) Unwrap() error { return e.Err }

// CloseError is returned by Read after the server closed the WebSocket
// with a close frame that says more than a normal closure: a status other
// than 1000 (or none), or a reason. It wraps io.EOF: the stream has ended,
// and Code says why (1001 going away, 1011 server error, ...). A normal
// closure without a reason is a plain io.EOF.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	s := "transport: websocket closed by server with status " + strconv.Itoa(e.Code)
	if e.Reason == "" {
		return s
	}
	return s + ": " + strconv.Quote(e.Reason)
}

// Unwrap returns io.EOF.
func (e *CloseError) Unwrap() error { return io.EOF }

// errText is the text of err as fmt's %v wrote it, "<nil>" for none: the
// error types above can be built with a nil Err. The package does without
// fmt, which a constrained build cannot afford (issue 5).
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
