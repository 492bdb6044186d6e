package session

import (
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
)

// Sentinel errors. Every error the package returns matches one of them (or
// wraps an error of the store) with errors.Is.
var (
	// ErrNoPacketID: all 65535 packet identifiers are in use. Session never
	// returns it from its public methods, because publishes wait for the
	// in-flight window and subscriptions wait for a free identifier; it is
	// the error of the identifier allocator.
	ErrNoPacketID = errors.New("session: all 65535 packet identifiers are in use")
	// ErrPacketIDInUse: a restored record claims a packet identifier that
	// another record already holds.
	ErrPacketIDInUse = errors.New("session: packet identifier already in use")
	// ErrNotConnected: a publish, subscribe or unsubscribe while there is no
	// connection and the offline buffer does not take it.
	ErrNotConnected = errors.New("session: not connected")
	// ErrBufferFull: the offline buffer is full and is set to refuse new
	// messages (BufferOptions.DropOldest is false).
	ErrBufferFull = errors.New("session: offline buffer full")
	// ErrBufferDropped completes a buffered message that was dropped to make
	// room for a newer one (BufferOptions.DropOldest).
	ErrBufferDropped = errors.New("session: dropped from the full offline buffer")
	// ErrSessionCleared completes an in-flight message discarded because the
	// client connected with clean session [MQTT-3.1.2-6].
	ErrSessionCleared = errors.New("session: discarded by a clean session")
	// ErrInvalidMessage: a message the session refuses (a QoS over 2, a
	// topic that is not a valid topic name). It wraps the packet error.
	ErrInvalidMessage = errors.New("session: invalid message")
	// ErrUnexpectedPacket: the server sent a packet a client never receives
	// (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT, or a CONNACK
	// after the first). See UnexpectedPacketError. The connection should be
	// closed.
	ErrUnexpectedPacket = errors.New("session: unexpected packet from the server")
	// ErrSubackCount: a SUBACK whose number of return codes differs from the
	// number of filters of its SUBSCRIBE (§3.9.3).
	ErrSubackCount = errors.New("session: SUBACK return codes do not match the SUBSCRIBE")
	// ErrKeepAliveTimeout matches a *TimeoutError.
	ErrKeepAliveTimeout = errors.New("session: keep-alive timeout")
	// ErrUnknownPacketID matches an *UnknownAckError: with
	// Options.StrictAcks, an acknowledgement for a packet identifier the
	// session does not hold [MQTT-4.8.0-1].
	ErrUnknownPacketID = errors.New("session: acknowledgement for a packet identifier not in use")
)

// UnknownAckError reports, with Options.StrictAcks, a PUBACK, PUBCOMP,
// SUBACK or UNSUBACK whose packet identifier is not held by a message
// waiting for that acknowledgement (never used, already completed, or held
// by a message of another kind or state). The session state is untouched;
// the server broke the protocol and the connection should be closed. It
// matches ErrUnknownPacketID.
type UnknownAckError struct {
	Type     packet.Type
	PacketID uint16
}

func (e *UnknownAckError) Error() string {
	return "session: " + e.Type.String() + " for packet identifier " + strconv.Itoa(int(e.PacketID)) + ", which is not in use"
}

// Unwrap returns ErrUnknownPacketID.
func (e *UnknownAckError) Unwrap() error { return ErrUnknownPacketID }

// UnexpectedPacketError reports a packet a client must never receive. It
// matches ErrUnexpectedPacket.
type UnexpectedPacketError struct {
	Type packet.Type
}

func (e *UnexpectedPacketError) Error() string {
	return "session: unexpected " + e.Type.String() + " from the server"
}

// Unwrap returns ErrUnexpectedPacket.
func (e *UnexpectedPacketError) Unwrap() error { return ErrUnexpectedPacket }

// TimeoutError reports a connection declared lost by keep-alive: a PINGREQ
// went unanswered (no PINGRESP, nor any other packet) for the ping timeout.
//
// It is a net.Error whose Timeout() is true, so retry code written for net
// treats it as a timeout, and it matches ErrKeepAliveTimeout and
// net.ErrClosed with errors.Is: the connection is over.
type TimeoutError struct {
	KeepAlive   time.Duration // the keep-alive interval in force
	PingTimeout time.Duration // how long the PINGREQ was allowed to go unanswered
	PingSent    time.Time     // when the unanswered PINGREQ was handed out
}

var _ net.Error = (*TimeoutError)(nil)

func (e *TimeoutError) Error() string {
	return "session: keep-alive timeout: no packet from the server within " + e.PingTimeout.String() +
		" of a PINGREQ (keep-alive " + e.KeepAlive.String() + ")"
}

// Timeout returns true.
func (e *TimeoutError) Timeout() bool { return true }

// Temporary returns false: a lost connection is not retried in place.
func (e *TimeoutError) Temporary() bool { return false }

// Unwrap returns ErrKeepAliveTimeout and net.ErrClosed.
func (e *TimeoutError) Unwrap() []error { return []error{ErrKeepAliveTimeout, net.ErrClosed} }

// kindError is what fmt.Errorf("%w: %w", kind, err) made: an error of a kind
// (ErrInvalidMessage, errBadRecord) that says why, matching both.
type kindError struct {
	msg  string
	errs []error // the kind, then why
}

func (e *kindError) Error() string   { return e.msg }
func (e *kindError) Unwrap() []error { return e.errs }

// ofKind returns err as an error of kind: "kind: err".
func ofKind(kind, err error) error {
	return &kindError{msg: kind.Error() + ": " + err.Error(), errs: []error{kind, err}}
}
