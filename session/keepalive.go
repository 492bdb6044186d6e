package session

import (
	"time"

	"github.com/linnet-mqtt/linnet/packet"
)

// Tick runs the keep-alive check of Paho's checkForActivity at now; call it
// when NextDeadline is reached (or whenever the loop wakes; early calls do
// nothing).
//
//   - A PINGREQ is queued when nothing was handed out for the keep-alive
//     period [MQTT-3.1.2-23], or nothing was received for it (so that a
//     client that only sends still finds out that the server went away),
//     and no PINGREQ is outstanding.
//   - When a PINGREQ is outstanding and nothing at all (PINGRESP or any
//     other packet) arrived for the ping timeout since it was queued, Tick
//     returns a *TimeoutError: the connection is lost; the client closes it
//     and calls ConnectionLost with that error.
//
// With a PingSender, Tick schedules it for the next deadline.
func (s *Session) Tick(now time.Time) error {
	if !s.connected || s.keepAlive <= 0 {
		return nil
	}
	if s.pingOutstanding {
		if now.Sub(s.pingSent) >= s.pingTimeout {
			return &TimeoutError{KeepAlive: s.keepAlive, PingTimeout: s.pingTimeout, PingSent: s.pingSent}
		}
	} else if now.Sub(s.lastSent) >= s.keepAlive || now.Sub(s.lastRecv) >= s.keepAlive {
		s.control.Push(sendEntry{typ: packet.TypePingreq})
		s.pingOutstanding, s.pingSent = true, now
	}
	if ps := s.opts.PingSender; ps != nil {
		ps.Schedule(s.NextDeadline().Sub(now))
	}
	return nil
}

// NextDeadline returns the time of the next keep-alive check: the end of the
// ping timeout while a PINGREQ is outstanding, else the keep-alive period
// after the last packet sent or received, whichever is earlier. It is the
// zero time when disconnected or when keep-alive is off. A loop arms its
// one timer for it and calls Tick when it fires.
func (s *Session) NextDeadline() time.Time {
	if !s.connected || s.keepAlive <= 0 {
		return time.Time{}
	}
	if s.pingOutstanding {
		return s.pingSent.Add(s.pingTimeout)
	}
	last := s.lastSent
	if s.lastRecv.Before(last) {
		last = s.lastRecv
	}
	return last.Add(s.keepAlive)
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
}
