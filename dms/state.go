package dms

import (
	"strconv"
	"time"
)

// State is the state of an Agent.
type State int32

// States of an Agent. The flow is
//
//	Idle → ConnectingRedirect → AwaitingNetworkInfo → ConnectingDMS → Online
//
// with Online ⇄ ReconnectingDMS while the client reconnects by itself,
// Backoff after a failure (then ConnectingRedirect again), and Stopping →
// Stopped from anywhere at the end.
const (
	StateIdle                State = iota // created, not started
	StateConnectingRedirect               // connecting to the redirect server
	StateAwaitingNetworkInfo              // connected and subscribed, waiting for join-network
	StateConnectingDMS                    // connecting to the DMS server
	StateOnline                           // connected to DMS, heartbeats going out
	StateReconnectingDMS                  // DMS connection lost; the client reconnects on its own
	StateBackoff                          // a phase failed; waiting before the flow starts again
	StateStopping                         // Stop was called; leaving the servers
	StateStopped                          // everything ended (terminal)
)

var stateNames = [...]string{"Idle", "ConnectingRedirect", "AwaitingNetworkInfo", "ConnectingDMS",
	"Online", "ReconnectingDMS", "Backoff", "Stopping", "Stopped"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// EventKind is what happened to move an Agent from one state to another.
// RedirectConnected, NetworkInfoReceived, DMSConnected, ConnectionFailed and
// HeartbeatFailed are the events of the original device code; the others
// make the start, the automatic reconnect, the retry and the end visible.
type EventKind int

// Events of the state machine.
const (
	EventStart               EventKind = iota // Start was called
	EventRedirectConnected                    // connected and subscribed to the redirect server
	EventNetworkInfoReceived                  // join-network gave a DMS URI (or the fallback was taken)
	EventDMSConnected                         // connected (or reconnected) to the DMS server
	EventConnectionFailed                     // a connect, a subscribe or the join-network wait failed
	EventHeartbeatFailed                      // too many heartbeats in a row failed
	EventConnectionLost                       // the DMS connection dropped; the client reconnects
	EventRetry                                // the back-off delay is over
	EventStop                                 // Stop was called
	EventStopped                              // every connection is closed
)

var eventNames = [...]string{"Start", "RedirectConnected", "NetworkInfoReceived", "DMSConnected",
	"ConnectionFailed", "HeartbeatFailed", "ConnectionLost", "Retry", "Stop", "Stopped"}

func (k EventKind) String() string {
	if k >= 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one input of the state machine.
type Event struct {
	Kind EventKind
	// Err is the cause of ConnectionFailed, HeartbeatFailed and
	// ConnectionLost (a *PhaseError for the first two).
	Err error
	// Server is the server URI the event is about: the redirect server,
	// the DMS server.
	Server string
	// Fallback is set on NetworkInfoReceived when no join-network message
	// came and the default DMS server is used.
	Fallback bool
	// Delay is the back-off wait that follows ConnectionFailed and
	// HeartbeatFailed.
	Delay time.Duration
}

// Transition is one change of state, as observers see it.
type Transition struct {
	Seq   uint64 // 1 for the first transition of an agent, then +1
	From  State
	To    State
	Event Event
	At    time.Time // the agent's clock
}

// String is one line: the states, the event, its server, whether the
// default DMS server was taken as a fallback, the back-off delay and the
// error.
func (t Transition) String() string {
	s := t.From.String() + " --" + t.Event.Kind.String() + "--> " + t.To.String()
	if t.Event.Server != "" {
		s += " " + t.Event.Server
	}
	if t.Event.Fallback {
		s += " (fallback: no usable join-network message in time, default DMS server)"
	}
	if t.Event.Delay > 0 {
		s += " (retry in " + t.Event.Delay.String() + ")"
	}
	if t.Event.Err != nil {
		s += " (" + t.Event.Err.Error() + ")"
	}
	return s
}

// transitions is the table of the machine: state → event → next state.
var transitions = map[State]map[EventKind]State{
	StateIdle: {EventStart: StateConnectingRedirect, EventStop: StateStopping},
	StateConnectingRedirect: {
		EventRedirectConnected: StateAwaitingNetworkInfo,
		EventConnectionFailed:  StateBackoff,
		EventStop:              StateStopping,
	},
	StateAwaitingNetworkInfo: {
		EventNetworkInfoReceived: StateConnectingDMS,
		EventConnectionFailed:    StateBackoff,
		EventStop:                StateStopping,
	},
	StateConnectingDMS: {
		EventDMSConnected:     StateOnline,
		EventConnectionFailed: StateBackoff,
		EventStop:             StateStopping,
	},
	StateOnline: {
		EventConnectionLost:   StateReconnectingDMS,
		EventHeartbeatFailed:  StateBackoff,
		EventConnectionFailed: StateBackoff,
		EventStop:             StateStopping,
	},
	StateReconnectingDMS: {
		EventDMSConnected:     StateOnline,
		EventHeartbeatFailed:  StateBackoff,
		EventConnectionFailed: StateBackoff,
		EventStop:             StateStopping,
	},
	StateBackoff: {
		EventRetry: StateConnectingRedirect,
		EventStop:  StateStopping,
	},
	StateStopping: {EventStopped: StateStopped},
	StateStopped:  {},
}

// next returns the state that ev leads to from s, and false (with s) when
// s does not accept ev.
func next(s State, ev EventKind) (State, bool) {
	if to, ok := transitions[s][ev]; ok {
		return to, true
	}
	return s, false
}
