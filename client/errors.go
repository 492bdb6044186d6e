package client

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/linnet-mqtt/linnet/packet"
)

// Sentinel errors of the client. The typed errors below match them with
// errors.Is where it says so.
var (
	// ErrNotConnected: the call needs a connection and the client has
	// none (and, for a publish, no offline buffer to hold the message).
	ErrNotConnected = errors.New("mqtt: not connected")
	// ErrClosed: the client was closed while the call was waiting, or the
	// call came after Close; a publish of a clean session that Disconnect
	// ended before its final ack.
	ErrClosed = errors.New("mqtt: client closed")
	// ErrAlreadyConnected: Connect on a client that is connected or
	// connecting.
	ErrAlreadyConnected = errors.New("mqtt: already connected or connecting")
	// ErrOfflineBufferFull: the offline buffer holds Options.OfflineBuffer
	// messages already; the publish is refused rather than dropped later.
	ErrOfflineBufferFull = errors.New("mqtt: offline buffer full")
	// ErrOfflineMessageDropped fails the token of a message that a full
	// offline buffer dropped, the oldest, to take a new one
	// (Options.OfflineBufferDropOldest).
	ErrOfflineMessageDropped = errors.New("mqtt: dropped from the full offline buffer")
	// ErrInvalidOptions is matched by every *OptionError.
	ErrInvalidOptions = errors.New("mqtt: invalid options")
	// ErrInvalidArgument: a bad topic, filter, QoS or payload given to
	// Publish, Subscribe or Unsubscribe. The error also matches the
	// *packet.ProtocolError that describes the rule, when there is one.
	ErrInvalidArgument = errors.New("mqtt: invalid argument")
	// ErrConnectionLost is matched by every *ConnectionLostError.
	ErrConnectionLost = errors.New("mqtt: connection lost")
	// ErrNoCONNACK: the server closed the connection or sent something
	// else before its CONNACK.
	ErrNoCONNACK = errors.New("mqtt: no CONNACK from the server")
	// ErrUnexpectedPacket: the server sent a packet the protocol does not
	// allow at that point (a second CONNACK, an ack for an unknown packet
	// id, a CONNECT...). It closes the connection [MQTT-4.8.0-1].
	ErrUnexpectedPacket = errors.New("mqtt: unexpected packet from the server")
)

// OptionError reports an unusable field of Options. It matches
// ErrInvalidOptions and, when set, the cause in Err.
type OptionError struct {
	Field  string // the Options field, "KeepAlive"
	Reason string // what is wrong with it
	Err    error  // an underlying error (a *transport.URIError...), or nil
}

func (e *OptionError) Error() string {
	s := "mqtt: invalid option " + e.Field + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrInvalidOptions and Err.
func (e *OptionError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidOptions, e.Err}
	}
	return []error{ErrInvalidOptions}
}

// ConnectError is a CONNACK that refuses the connection: the server works
// and answered, it said no. Compare with errors.Is against a *ConnectError
// holding only the code:
//
//	errors.Is(err, &client.ConnectError{Code: packet.RefusedNotAuthorized})
//
// or against ErrRefused for any refusal.
type ConnectError struct {
	Code   packet.ReturnCode // 1 to 5
	Server string            // the server URI that refused
}

// ErrRefused matches every *ConnectError.
var ErrRefused = errors.New("mqtt: connection refused by the server")

func (e *ConnectError) Error() string {
	s := "mqtt: connection refused: " + e.Code.String() + " (CONNACK code " + strconv.Itoa(int(e.Code)) + ")"
	if e.Server != "" {
		s += " by " + e.Server
	}
	return s
}

// Is matches ErrRefused and a *ConnectError with the same Code.
func (e *ConnectError) Is(target error) bool {
	if target == ErrRefused {
		return true
	}
	t, ok := target.(*ConnectError)
	return ok && t.Code == e.Code
}

// ConnectionLostError ends a connection that was up: the reader failed, the
// server broke the protocol, keep-alive timed out, or a write failed. It is
// what the connection-lost callback receives and what every token failed by
// the loss returns. errors.Is(err, net.ErrClosed) and
// errors.Is(err, ErrConnectionLost) hold for all of them; errors.As reaches
// the cause (a *packet.ProtocolError, a *session.TimeoutError, an
// io.EOF...).
type ConnectionLostError struct {
	Server string // the server URI of the connection
	Err    error  // the cause
}

func (e *ConnectionLostError) Error() string {
	s := "mqtt: connection lost"
	if e.Server != "" {
		s += " to " + e.Server
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause, net.ErrClosed and ErrConnectionLost.
func (e *ConnectionLostError) Unwrap() []error {
	if e.Err == nil {
		return []error{net.ErrClosed, ErrConnectionLost}
	}
	return []error{e.Err, net.ErrClosed, ErrConnectionLost}
}

// Timeout reports whether the cause is a timeout (keep-alive, write
// deadline), so that code written for net.Error can tell.
func (e *ConnectionLostError) Timeout() bool {
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// Temporary is false; it exists for net.Error.
func (e *ConnectionLostError) Temporary() bool { return false }

var _ net.Error = (*ConnectionLostError)(nil)

// ViolationError reports a server that broke the protocol in a way the
// codec cannot see (the packet is well formed but wrong at that point). It
// matches ErrUnexpectedPacket and, through Unwrap, packet.ErrProtocol.
type ViolationError struct {
	Packet packet.Type // what arrived
	Reason string      // why it is wrong
}

func (e *ViolationError) Error() string {
	return "mqtt: server protocol violation: " + e.Packet.String() + ": " + e.Reason + " [MQTT-4.8.0-1]"
}

// Unwrap returns ErrUnexpectedPacket and packet.ErrProtocol.
func (e *ViolationError) Unwrap() []error { return []error{ErrUnexpectedPacket, packet.ErrProtocol} }

// argError wraps a bad argument so that it matches ErrInvalidArgument and
// its cause.
type argError struct {
	what string
	err  error
}

func (e *argError) Error() string {
	if e.err != nil {
		return "mqtt: invalid " + e.what + ": " + e.err.Error()
	}
	return "mqtt: invalid " + e.what
}
func (e *argError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrInvalidArgument, e.err}
	}
	return []error{ErrInvalidArgument}
}

// HandshakeError reports a connect attempt that reached the server but
// failed before a CONNACK: the write of CONNECT, the wait for CONNACK (a
// close without CONNACK matches ErrNoCONNACK; a timeout matches
// context.DeadlineExceeded).
type HandshakeError struct {
	Server string
	Doing  string // "writing CONNECT", "waiting for CONNACK"
	Err    error
}

func (e *HandshakeError) Error() string {
	return "mqtt: connecting to " + e.Server + ": " + e.Doing + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Timeout reports whether the handshake ran out of time (a slow or silent
// server).
func (e *HandshakeError) Timeout() bool {
	var ne net.Error
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &ne) && ne.Timeout())
}

// Temporary is false; it exists for net.Error.
func (e *HandshakeError) Temporary() bool { return false }

// CredentialsError is a failure of Options.Credentials.
type CredentialsError struct {
	Server string
	Err    error
}

func (e *CredentialsError) Error() string {
	return "mqtt: credentials for " + e.Server + ": " + e.Err.Error()
}

// Unwrap returns the callback's error.
func (e *CredentialsError) Unwrap() error { return e.Err }
