// Package mochifix works around a race in mochi-mqtt v2.7.9 that loses a
// client's session when it reconnects with the same client id right after
// a clean-session connection of that id ended.
//
// When a clean-session connection ends (DISCONNECT or a broken stream),
// mochi's connection goroutine checks whether the session was taken over
// and, if not, unsubscribes it and deletes the client id from its client
// table. A new connection with the same id that is accepted between that
// check and the delete takes the old session over (it is still in the
// table) and registers itself under the id; the old goroutine's delete
// then removes the new client, whose messages from then on go nowhere. The
// DMS agent does exactly this when its redirect and DMS servers are two
// listeners of one broker: it leaves the redirect connection and connects
// again at once with the same id.
//
// Hook makes a new connection wait, before mochi looks at the old session,
// until the ended clean-session connection with its id has left the
// client table. Only cmd/ and test code use it, like mochi itself.
package mochifix

import (
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// MaxWait bounds how long a connection waits for the old one's clean-up.
// The clean-up is a few steps on the old connection's goroutine, so the
// bound is reached only when that goroutine is stuck, and then the
// connection goes ahead as mochi alone would let it.
const MaxWait = 5 * time.Second

// pollEvery is how often the wait looks at the client table: mochi signals
// nothing when it deletes a client.
const pollEvery = 100 * time.Microsecond

// Hook is the mochi hook; add it with AddTo.
type Hook struct {
	mqtt.HookBase
	srv *mqtt.Server
	// onWait, when set, is called when a connection starts to wait (tests).
	onWait func(clientID string)
}

// AddTo adds the hook to srv, before Serve. onWait, if not nil, is called
// with the client id whenever a connection has to wait (for tests).
func AddTo(srv *mqtt.Server, onWait func(clientID string)) error {
	return srv.AddHook(&Hook{srv: srv, onWait: onWait}, nil)
}

// ID names the hook.
func (*Hook) ID() string { return "linnet-mochifix" }

// Provides reports the one event the hook handles.
func (*Hook) Provides(b byte) bool { return b == mqtt.OnSessionEstablish }

// OnSessionEstablish runs on the new connection's goroutine after it
// authenticated and before mochi looks for a session to take over.
func (h *Hook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	var deadline time.Time
	for {
		old, ok := h.srv.Clients.Get(cl.ID)
		if !ok || old == cl || !endingClean(old) {
			return
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(MaxWait)
			if h.onWait != nil {
				h.onWait(cl.ID)
			}
		} else if now.After(deadline) {
			h.Log.Warn("mochifix: the ended connection of this client id is still registered; going ahead",
				"client", cl.ID)
			return
		}
		time.Sleep(pollEvery)
	}
}

// endingClean reports whether old is a connection that has ended and whose
// session mochi is about to drop: the case where its goroutine deletes the
// client id from the table. A taken-over session is not deleted.
func endingClean(old *mqtt.Client) bool {
	if !old.Closed() || old.IsTakenOver() {
		return false
	}
	if old.Properties.ProtocolVersion == 5 {
		return old.Properties.Props.SessionExpiryInterval == 0
	}
	return old.Properties.Clean
}
