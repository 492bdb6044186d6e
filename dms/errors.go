package dms

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors of the package; the typed errors below match them with
// errors.Is where they say so.
var (
	// ErrInvalidConfig is matched by every *ConfigError.
	ErrInvalidConfig = errors.New("dms: invalid configuration")
	// ErrBadNetworkInfo is matched by every *NetworkInfoError: a
	// join-network payload that carries no usable DMS server URI.
	ErrBadNetworkInfo = errors.New("dms: unusable join-network message")
	// ErrNoNetworkInfo: no usable join-network message arrived within
	// Config.JoinNetworkWait and there is no Config.DefaultDMSServer.
	ErrNoNetworkInfo = errors.New("dms: no join-network message in time")
	// ErrIllegalTransition is matched by every *TransitionError.
	ErrIllegalTransition = errors.New("dms: illegal state transition")
	// ErrHeartbeat: a heartbeat was not acknowledged in time, or could not
	// be sent; it is wrapped with the cause.
	ErrHeartbeat = errors.New("dms: heartbeat failed")
	// ErrAlreadyStarted: Start on an agent or simulator that runs or ran.
	ErrAlreadyStarted = errors.New("dms: already started")
	// ErrNotStarted: a call that needs Start first.
	ErrNotStarted = errors.New("dms: not started")
	// ErrStopped: the agent, prober or simulator was stopped.
	ErrStopped = errors.New("dms: stopped")
	// ErrProbeTimeout: no RRPC reply within the prober's timeout.
	ErrProbeTimeout = errors.New("dms: no RRPC reply in time")
	// ErrReplyMismatch: the RRPC reply differs from the request body (the
	// prober asks the device to echo it).
	ErrReplyMismatch = errors.New("dms: RRPC reply does not match the request")
	// ErrSubscribeRefused is matched by every *SubscribeError.
	ErrSubscribeRefused = errors.New("dms: subscription refused by the server")
	// ErrUnknownDevice: the simulator has no such registered device.
	ErrUnknownDevice = errors.New("dms: unknown device")
)

// ConfigError reports an unusable field of a configuration. It matches
// ErrInvalidConfig and, when set, the cause in Err.
type ConfigError struct {
	Field  string // "RedirectServer"
	Reason string
	Err    error // e.g. a *transport.URIError, or nil
}

func (e *ConfigError) Error() string {
	s := "dms: config " + e.Field + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrInvalidConfig and Err.
func (e *ConfigError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidConfig}
	}
	return []error{ErrInvalidConfig, e.Err}
}

// NetworkInfoError reports a join-network payload that the agent cannot
// use. The agent logs it and keeps waiting. It matches ErrBadNetworkInfo and
// the cause (a *json.SyntaxError, a *transport.URIError...).
type NetworkInfoError struct {
	Topic   string
	Payload string // at most 128 bytes of it, for the log
	Reason  string
	Err     error
}

func (e *NetworkInfoError) Error() string {
	s := "dms: join-network message on " + strconv.Quote(e.Topic) + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + " (payload " + strconv.Quote(e.Payload) + ")"
}

// Unwrap returns ErrBadNetworkInfo and Err.
func (e *NetworkInfoError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrBadNetworkInfo}
	}
	return []error{ErrBadNetworkInfo, e.Err}
}

// Phase names the step of the flow an error comes from.
type Phase string

// Phases of the flow.
const (
	PhaseRedirect  Phase = "redirect"  // connect and subscribe to the redirect server, wait for join-network
	PhaseDMS       Phase = "dms"       // connect and subscribe to the DMS server
	PhaseHeartbeat Phase = "heartbeat" // heartbeats on the DMS connection
)

// PhaseError is the error of a failed phase: the one carried by
// ConnectionFailed and HeartbeatFailed transitions. It unwraps to the cause
// (a *client.ConnectError for a refused password, a *transport.DialError,
// ErrNoNetworkInfo, ErrHeartbeat...).
type PhaseError struct {
	Phase  Phase
	Server string // the server URI, when there is one
	Err    error
}

func (e *PhaseError) Error() string {
	s := "dms: " + string(e.Phase)
	if e.Server != "" {
		s += " " + e.Server
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *PhaseError) Unwrap() error { return e.Err }

// TransitionError reports an event that the current state does not accept.
// It matches ErrIllegalTransition.
type TransitionError struct {
	From  State
	Event EventKind
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("dms: illegal state transition: %v in state %v", e.Event, e.From)
}

// Unwrap returns ErrIllegalTransition.
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// ProbeError is the failure of one RRPC probe. It unwraps to ErrProbeTimeout,
// ErrReplyMismatch, a publish error of the client, or the context's error.
type ProbeError struct {
	Device    Device
	MessageID string
	Err       error
}

func (e *ProbeError) Error() string {
	return "dms: probe " + e.Device.String() + " (message " + e.MessageID + "): " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ProbeError) Unwrap() error { return e.Err }

// SubscribeError is a SUBACK that refused a filter the flow needs (0x80).
// It matches ErrSubscribeRefused.
type SubscribeError struct{ Filter string }

func (e *SubscribeError) Error() string {
	return "dms: the server refused the subscription to " + strconv.Quote(e.Filter)
}

// Unwrap returns ErrSubscribeRefused.
func (e *SubscribeError) Unwrap() error { return ErrSubscribeRefused }
