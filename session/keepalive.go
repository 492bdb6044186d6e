package session

import (
	"time"

	"github.com/linnet-mqtt/linnet/packet"
)

// Tick runs the keep-alive check of Paho's checkForActivity at now; call it
// when NextDeadline is reached (or whenever the loop wakes; early calls do
// nothing).
//
//   - A PINGREQ is queued whenever nothing was handed out for the
//     keep-alive period [MQTT-3.1.2-23], whether or not an earlier PINGREQ
//     is still unanswered: the server must hear from the client every
//     keep-alive period even while the client's own reading is held up.
//   - A PINGREQ is also queued when nothing was received for the
//     keep-alive period and none is outstanding (so that a client that only
//     sends still finds out that the server went away).
//   - When a PINGREQ is outstanding and nothing at all (PINGRESP or any
//     other packet) arrived for the ping timeout since the first unanswered
//     one was queued, Tick returns a *TimeoutError: the connection is lost;
//     the client closes it and calls ConnectionLost with that error. A
//     further PINGREQ sent meanwhile does not restart that timer.
//
// At most one PINGREQ waits in the send queue at a time. With a
// PingSender, Tick schedules it for the next deadline.
func (s *Session) Tick(now time.Time) error {
	if !s.connected || s.keepAlive <= 0 {
		return nil
	}
	if s.pingOutstanding && now.Sub(s.pingSent) >= s.pingTimeout {
		return &TimeoutError{KeepAlive: s.keepAlive, PingTimeout: s.pingTimeout, PingSent: s.pingSent}
	}
	if !s.pingQueued && (now.Sub(s.lastSent) >= s.keepAlive ||
		(!s.pingOutstanding && now.Sub(s.lastRecv) >= s.keepAlive)) {
		s.control.Push(sendEntry{typ: packet.TypePingreq})
		s.pingQueued = true
		if !s.pingOutstanding {
			s.pingOutstanding, s.pingSent = true, now
		}
	}
	if ps := s.opts.PingSender; ps != nil {
		// The check that called Tick is used up: schedule the next one
		// whatever was scheduled before.
		s.scheduled = s.NextDeadline()
		ps.Schedule(s.scheduled.Sub(now))
	}
	return nil
}

// reschedule moves the PingSender's pending check earlier when the next
// deadline moved before it (a PINGRESP cleared an outstanding PINGREQ, a
// PINGREQ went out), so that a check is always scheduled at or before
// NextDeadline while connected.
func (s *Session) reschedule(now time.Time) {
	ps := s.opts.PingSender
	if ps == nil || !s.connected || s.keepAlive <= 0 {
		return
	}
	if d := s.NextDeadline(); s.scheduled.IsZero() || d.Before(s.scheduled) {
		s.scheduled = d
		ps.Schedule(d.Sub(now))
	}
}

// NextDeadline returns the time of the next keep-alive check, the earliest
// of: the keep-alive period after the last packet handed out (unless a
// PINGREQ waits to be handed out), the keep-alive period after the last
// packet received while no PINGREQ is outstanding, and the end of the ping
// timeout of the outstanding PINGREQ. It is the zero time when disconnected
// or when keep-alive is off. A loop arms its one timer for it and calls
// Tick when it fires.
func (s *Session) NextDeadline() time.Time {
	if !s.connected || s.keepAlive <= 0 {
		return time.Time{}
	}
	var d time.Time
	if !s.pingQueued {
		d = s.lastSent.Add(s.keepAlive)
	}
	if s.pingOutstanding {
		if t := s.pingSent.Add(s.pingTimeout); d.IsZero() || t.Before(d) {
			d = t
		}
	} else if t := s.lastRecv.Add(s.keepAlive); d.IsZero() || t.Before(d) {
		d = t
	}
	return d
}

// ServerAlive tells the session that the server is alive although nothing
// reached Received: packets from it have arrived and wait to be read while
// the owner holds back reading (its application is slow to take
// deliveries, and reading on would need unbounded memory). For keep-alive
// it counts as a packet received at now: an outstanding PINGREQ counts as
// answered (its PINGRESP is among the waiting packets) and Tick does not
// time the connection out. A PINGREQ still goes out when nothing was sent
// for the keep-alive period, so that the server does not time the client
// out [MQTT-3.1.2-23]. Call it only with packets really waiting: a silent
// server must still be found out by Tick. It does nothing while
// disconnected.
func (s *Session) ServerAlive(now time.Time) {
	if !s.connected {
		return
	}
	s.lastRecv = now
	s.pingOutstanding = false
	s.reschedule(now)
}
