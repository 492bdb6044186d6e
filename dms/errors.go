package dms

import (
	"errors"
	"strconv"
	"time"
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
	// Config.JoinNetworkWait and there is no Config.DefaultDMSServer. When
	// messages came and could not be read, the error also matches the last
	// one's *NetworkInfoError.
	ErrNoNetworkInfo = errors.New("dms: no usable join-network message in time")
	// ErrTimeout is matched by every *TimeoutError.
	ErrTimeout = errors.New("dms: timed out")
	// ErrInsecureDMS is matched by every *DowngradeError.
	ErrInsecureDMS = errors.New("dms: DMS server without TLS after a TLS redirect server")
	// ErrNotOnline is matched by every *StateError.
	ErrNotOnline = errors.New("dms: agent not online")
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

// TimeoutError is a bounded wait of the flow that ended without its answer:
// a SUBACK that did not come within Config.SubscribeTimeout. It matches
// ErrTimeout and is a net.Error-style timeout (Timeout reports true).
type TimeoutError struct {
	Wait  string        // what did not come: "SUBACK for /elogger/dev-42/verify_pwd..."
	After time.Duration // how long the agent waited
}

func (e *TimeoutError) Error() string {
	return "dms: no " + e.Wait + " within " + e.After.String()
}

// Unwrap returns ErrTimeout.
func (e *TimeoutError) Unwrap() error { return ErrTimeout }

// Timeout reports true.
func (e *TimeoutError) Timeout() bool { return true }

// DowngradeError is a DMS server without TLS offered after a redirect
// server reached over TLS: the agent refuses it, so that the device's
// identity and password never cross the network in clear text, unless
// Config.AllowInsecureDMS is set. It matches ErrInsecureDMS.
type DowngradeError struct {
	Redirect string // the redirect server, over TLS
	DMS      string // the DMS server refused, without TLS
}

func (e *DowngradeError) Error() string {
	return "dms: refusing DMS server " + strconv.Quote(e.DMS) + ": not TLS after the TLS redirect server " +
		e.Redirect + " (Config.AllowInsecureDMS would allow it)"
}

// Unwrap returns ErrInsecureDMS.
func (e *DowngradeError) Unwrap() error { return ErrInsecureDMS }

// StateError is a call that needs the agent Online (Agent.Publish,
// Agent.Subscribe) made in another state. It matches ErrNotOnline, and
// ErrStopped once the agent is stopping or stopped.
type StateError struct{ State State }

func (e *StateError) Error() string {
	return "dms: the agent is " + e.State.String() + ", not Online"
}

// Unwrap returns ErrNotOnline, and ErrStopped in StateStopping and
// StateStopped.
func (e *StateError) Unwrap() []error {
	if e.State == StateStopping || e.State == StateStopped {
		return []error{ErrNotOnline, ErrStopped}
	}
	return []error{ErrNotOnline}
}

// heartbeatError is a failed heartbeat: it matches ErrHeartbeat and the
// cause.
type heartbeatError struct{ err error }

func (e *heartbeatError) Error() string   { return ErrHeartbeat.Error() + ": " + e.err.Error() }
func (e *heartbeatError) Unwrap() []error { return []error{ErrHeartbeat, e.err} }

// unreadableError is the end of the join-network wait when messages came
// and none could be read: it matches ErrNoNetworkInfo and the last
// message's *NetworkInfoError.
type unreadableError struct{ last *NetworkInfoError }

func (e *unreadableError) Error() string {
	return ErrNoNetworkInfo.Error() + ": a message came and could not be read: " + e.last.Error()
}
func (e *unreadableError) Unwrap() []error { return []error{ErrNoNetworkInfo, e.last} }

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
