package session

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/stretchr/testify/require"
)

// drainPings hands out everything queued and returns how many PINGREQs
// were among it.
func drainPings(s *Session, now time.Time) int {
	n := 0
	for p, _, ok := s.NextToSend(now); ok; p, _, ok = s.NextToSend(now) {
		if _, ok := p.(*packet.Pingreq); ok {
			n++
		}
	}
	for _, ok := s.NextEvent(); ok; _, ok = s.NextEvent() {
	}
	return n
}

// requireGaps checks that PINGREQs went out at most every max, from start
// to end.
func requireGaps(t *testing.T, pings []time.Time, start, end time.Time, most time.Duration) {
	t.Helper()
	prev := start
	for _, p := range pings {
		require.LessOrEqual(t, p.Sub(prev), most, "a PINGREQ at %v came %v after the one before", p.Sub(start), p.Sub(prev))
		prev = p
	}
	require.LessOrEqual(t, end.Sub(prev), most, "no PINGREQ in the last %v", end.Sub(prev))
}

// TestKeepAliveNeverLapses checks [MQTT-3.1.2-23] for a loop that holds
// back reading (its handler is stuck) and tells the session so with
// ServerAlive: it wakes only at NextDeadline, and a PINGREQ goes out every
// keep-alive period although the earlier ones were never answered by a
// packet it read, whatever the ping timeout.
func TestKeepAliveNeverLapses(t *testing.T) {
	for _, pt := range []time.Duration{10 * time.Second, 30 * time.Second} {
		t.Run(pt.String(), func(t *testing.T) {
			s, err := New(Options{KeepAlive: 5 * time.Second, PingTimeout: pt})
			require.NoError(t, err)
			require.NoError(t, s.OnConnack(epoch, false, false))
			var pings []time.Time
			end := epoch.Add(60 * time.Second)
			for {
				now := s.NextDeadline()
				require.True(t, now.After(epoch), "NextDeadline %v", now)
				if now.After(end) {
					break
				}
				s.ServerAlive(now) // the stalled loop: packets wait unread
				require.NoError(t, s.Tick(now))
				for range drainPings(s, now) {
					pings = append(pings, now)
				}
			}
			require.GreaterOrEqual(t, len(pings), 12)
			requireGaps(t, pings, epoch, end, 5*time.Second)
		})
	}
}

// TestKeepAliveTimeoutUnchanged checks that the PINGREQs a silent server
// gets every keep-alive period do not push the ping timeout back: it runs
// from the first unanswered PINGREQ.
func TestKeepAliveTimeoutUnchanged(t *testing.T) {
	for _, pt := range []time.Duration{10 * time.Second, 30 * time.Second} {
		t.Run(pt.String(), func(t *testing.T) {
			s, err := New(Options{KeepAlive: 5 * time.Second, PingTimeout: pt})
			require.NoError(t, err)
			require.NoError(t, s.OnConnack(epoch, false, false))
			var pings []time.Time
			for {
				now := s.NextDeadline()
				err := s.Tick(now)
				if err != nil {
					require.ErrorIs(t, err, ErrKeepAliveTimeout)
					first := epoch.Add(5 * time.Second)
					require.Equal(t, first.Add(pt), now, "the timeout runs from the first PINGREQ")
					var te *TimeoutError
					require.ErrorAs(t, err, &te)
					require.Equal(t, first, te.PingSent)
					break
				}
				for range drainPings(s, now) {
					pings = append(pings, now)
				}
				require.Less(t, now.Sub(epoch), time.Minute, "no timeout")
			}
			requireGaps(t, pings, epoch, epoch.Add(5*time.Second+pt), 5*time.Second)
			require.Len(t, pings, int(pt/(5*time.Second)))
		})
	}
}

// TestKeepAliveOnePingQueued checks that Tick called again before the
// PINGREQ is handed out queues no second one, and that NextDeadline does
// not fall into the past meanwhile.
func TestKeepAliveOnePingQueued(t *testing.T) {
	s, err := New(Options{KeepAlive: 5 * time.Second, PingTimeout: 30 * time.Second})
	require.NoError(t, err)
	require.NoError(t, s.OnConnack(epoch, false, false))
	now := epoch.Add(5 * time.Second)
	require.NoError(t, s.Tick(now))
	require.NoError(t, s.Tick(now.Add(time.Second)))
	require.Equal(t, now.Add(30*time.Second), s.NextDeadline(), "only the ping timeout while the PINGREQ waits")
	require.Equal(t, 1, drainPings(s, now.Add(time.Second)))
	require.Equal(t, now.Add(6*time.Second), s.NextDeadline(), "a keep-alive period after the PINGREQ went out")
}

// pingServer answers each PINGREQ a session hands out with a PINGRESP a
// little later, as a live server does.
const pingRTT = 100 * time.Millisecond

// TestTimerPingSenderKeepsGoing checks that a TimerPingSender is
// rescheduled when a PINGRESP moves the next deadline earlier than the
// check it has: with KeepAlive 2 s and PingTimeout 10 s, a PINGREQ goes out
// every 2 s, not every 10 s.
func TestTimerPingSenderKeepsGoing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checks := make(chan time.Time, 16)
		ps := NewTimerPingSender()
		ps.Init(func() { checks <- time.Now() })
		s, err := New(Options{KeepAlive: 2 * time.Second, PingTimeout: 10 * time.Second, PingSender: ps})
		require.NoError(t, err)
		start := time.Now()
		require.NoError(t, s.OnConnack(start, false, false))
		end := start.Add(30 * time.Second)
		var pings []time.Time
		for {
			now := <-checks
			if now.After(end) {
				break
			}
			require.NoError(t, s.Tick(now))
			if n := drainPings(s, now); n > 0 {
				for range n {
					pings = append(pings, now)
				}
				time.Sleep(pingRTT)
				require.NoError(t, s.Received(time.Now(), &packet.Pingresp{}))
			}
		}
		s.ConnectionLost(time.Now(), nil)
		require.Len(t, pings, 15)
		requireGaps(t, pings, start, end, 2*time.Second)
	})
}

// TestManualPingSenderKeepsGoing is TestTimerPingSenderKeepsGoing for a
// host that polls a ManualPingSender from its own loop.
func TestManualPingSenderKeepsGoing(t *testing.T) {
	now := epoch
	m := NewManualPingSender(func() time.Time { return now })
	due := false
	m.Init(func() { due = true })
	s, err := New(Options{KeepAlive: 2 * time.Second, PingTimeout: 10 * time.Second, PingSender: m})
	require.NoError(t, err)
	require.NoError(t, s.OnConnack(now, false, false))
	end := epoch.Add(30 * time.Second)
	var pings []time.Time
	var answerAt time.Time
	for ; !now.After(end); now = now.Add(pingRTT) {
		if !answerAt.IsZero() && !now.Before(answerAt) {
			require.NoError(t, s.Received(now, &packet.Pingresp{}))
			answerAt = time.Time{}
		}
		if !m.Poll(now) {
			continue
		}
		require.True(t, due)
		due = false
		require.NoError(t, s.Tick(now))
		if n := drainPings(s, now); n > 0 {
			for range n {
				pings = append(pings, now)
			}
			answerAt = now.Add(pingRTT)
		}
		require.False(t, m.Deadline().IsZero(), "a check is always scheduled while connected")
		require.False(t, m.Deadline().After(s.NextDeadline()), "the check is no later than the next deadline")
	}
	require.Len(t, pings, 15)
	requireGaps(t, pings, epoch, end, 2*time.Second)
}
