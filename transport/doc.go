// Package transport opens the byte stream an MQTT client talks over, chosen
// by the scheme of a server URI, like Paho's NetworkModule and
// NetworkModuleFactory.
//
// # Usage
//
// Dial validates the URI, picks the module registered for its scheme and
// returns a net.Conn ready for MQTT bytes:
//
//	conn, err := transport.Dial(ctx, "ssl://broker.example:8883",
//		transport.WithTLSConfig(cfg))
//
// Schemes and their defaults:
//
//	tcp, mqtt                plain TCP, port 1883
//	ssl, tls, mqtts, tcps    TLS over TCP, port 8883
//	ws                       WebSocket, port 80, path /mqtt
//	wss                      WebSocket over TLS, port 443, path /mqtt
//	unix                     unix stream socket: unix:///run/mqtt.sock
//
// ctx bounds the whole open: the dial, the TLS handshake and the WebSocket
// upgrade. When ctx has no deadline, DefaultConnectTimeout (30 s) applies,
// or WithConnectTimeout. Validate checks a URI without touching the
// network (the client checks its server list with it); Parse also returns
// the parsed form with defaults filled in.
//
// Extending: a Module validates and dials one scheme. Register adds or
// replaces one on the Default registry; NewRegistry with WithRegistry keeps
// the change private (tests should do this). WithDialer replaces the
// net.Dialer under every scheme, for proxies, tests or in-memory pipes.
//
// TLS: WithTLSConfig sets the *tls.Config (cloned; ServerName defaults to
// the URI host); LoadTLSConfig builds one from a CA file and an optional
// client certificate and key. Certificate verification is always on
// unless the configuration sets InsecureSkipVerify. Never do that outside a
// test: the connection can then be read and changed by anyone in the path,
// credentials included; Dial logs a warning each time.
//
// WebSocket: a client of RFC 6455 written for this package. It offers the
// subprotocol "mqtt" and requires the server to select it, sends every
// Write as one masked binary frame, and reads binary frames as one stream,
// whatever their boundaries. It answers pings, completes the close
// handshake, refuses text frames, and bounds frames from the server
// (WithMaxFrameSize, DefaultMaxFrameSize). WithWebSocketHeader adds header
// fields (e.g. Authorization). An HTTP proxy is chosen by
// ProxyFromEnvironment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, as net/http
// chooses) and used with CONNECT; WithProxy overrides the choice.
//
// # Build tags
//
// The default build has every scheme. Three tags drop code for constrained
// devices:
//
//	linnet_notls   no TLS: crypto/tls is not linked; no ssl, tls, mqtts,
//	               tcps or wss scheme; WithTLSConfig and LoadTLSConfig do
//	               not exist
//	linnet_nows    no WebSocket: no ws or wss scheme; the WebSocket options
//	               and ProxyFromEnvironment do not exist
//	linnet_noslog  no log/slog: Logger is a type that discards everything
//	               (the same in store, session and client), so WithLogger
//	               takes nil only
//
// for example: go build -tags linnet_nows,linnet_notls. The error types and
// sentinels exist in every build. No build links net/http. A test
// (TestConstrainedBuilds) checks all four combinations with go list -deps.
//
// # Concurrency
//
// Dial, Parse, Validate and the registries are safe for concurrent use;
// registering while dialling is fine. The returned connections are
// net.Conns with the usual rules: one Read and one Write may run at the
// same time, and Close may be called at any time and unblocks pending I/O.
// TCP, unix and TLS connections are those of the standard library (a
// second Close returns an error wrapping net.ErrClosed). The WebSocket conn
// serialises concurrent Reads and concurrent Writes, its Close is
// idempotent (later calls return nil), and it starts no goroutine. Dial
// turns ctx into connection deadlines with context.AfterFunc, not a
// goroutine.
//
// # Errors
//
//   - *URIError (errors.Is ErrInvalidURI and one of ErrUnknownScheme,
//     ErrMissingHost, ErrBadPort, ErrUnexpectedPart): a URI that cannot be
//     used, before anything touches the network. Passwords are redacted.
//   - *DialError: any failure of the open, with the URI. When ctx ended it,
//     errors.Is(err, context.DeadlineExceeded) (or Canceled) holds and the
//     error is a net.Error with Timeout() for a deadline.
//   - *TLSError (errors.Is ErrTLS and one of ErrUnknownAuthority,
//     ErrHostnameMismatch, ErrCertificateExpired, ErrCertificateInvalid,
//     ErrClientCertRejected): what failed in TLS; the crypto/x509 error is
//     still reachable with errors.As. With TLS 1.3 a server rejects a
//     client certificate only after the client's handshake is done: the
//     first Read of the returned conn then fails with the same *TLSError.
//   - *HandshakeError (ErrWebSocketHandshake): a refused WebSocket upgrade
//     or proxy CONNECT, with the HTTP status and the start of the body, or
//     a 101 that fails a check (accept key, subprotocol).
//   - On a WebSocket conn, Read returns io.EOF after a normal close from the
//     server, a *CloseError (wrapping io.EOF) with the status otherwise,
//     and a *WebSocketError (ErrTextFrame, ErrFrameTooLarge,
//     ErrWebSocketProtocol) after a violation, which closes the connection
//     with the matching status (1003, 1009, 1002).
//
// # Limitations
//
//   - WebSocket: no extensions (no compression), no HTTP redirects; a
//     proxy must be http:// (no https:// or SOCKS proxy); user information
//     in a ws URI is not sent, use WithWebSocketHeader for Authorization.
//   - A Write that times out part-way through a WebSocket frame breaks the
//     frame stream; later Writes return the same error.
//   - TLS (and so wss): a Write that times out leaves the connection unable
//     to write, since part of a record may have been sent; crypto/tls
//     returns the same error for every later Write. Close and reconnect.
//   - unix: abstract sockets (a name starting with '@') are not supported.
//   - URI user information is parsed and available to the client but is
//     never sent by the transport.
package transport
