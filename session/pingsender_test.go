package session

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/stretchr/testify/require"
)

// TestTimerPingSender checks [MQTT-3.1.2-23] end to end with the timer
// sender under a fake clock: OnConnack schedules the first check a
// keep-alive period away, each Tick reschedules at the exact next deadline,
// a PINGREQ goes out when nothing was sent, an unanswered one ends in a
// timeout, and Stop cancels the pending check.
func TestTimerPingSender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checks := make(chan time.Time, 16)
		ps := NewTimerPingSender()
		ps.Init(func() { checks <- time.Now() })
		s, err := New(Options{KeepAlive: 10 * time.Second, PingTimeout: 3 * time.Second, PingSender: ps})
		require.NoError(t, err)
		start := time.Now()
		require.NoError(t, s.OnConnack(start, false, false))

		// The loop: wait for a check, run Tick, send what it queued.
		var sent []string
		loop := func() (time.Duration, error) {
			now := <-checks
			err := s.Tick(now)
			for p, _, ok := s.NextToSend(now); ok; p, _, ok = s.NextToSend(now) {
				sent = append(sent, show(p))
			}
			return now.Sub(start), err
		}
		d, err := loop()
		require.NoError(t, err)
		require.Equal(t, 10*time.Second, d)
		require.Equal(t, []string{"PINGREQ"}, sent)

		// A PINGRESP at 11 s; the next check is due at 20 s (10 s after the
		// PINGREQ went out).
		time.Sleep(time.Second)
		require.NoError(t, s.Received(time.Now(), &packet.Pingresp{}))
		d, err = loop() // the ping-timeout check at 13 s finds the answer
		require.NoError(t, err)
		require.Equal(t, 13*time.Second, d)
		d, err = loop()
		require.NoError(t, err)
		require.Equal(t, 20*time.Second, d)
		require.Equal(t, []string{"PINGREQ", "PINGREQ"}, sent)

		// No answer this time: lost at 23 s.
		d, err = loop()
		require.ErrorIs(t, err, ErrKeepAliveTimeout)
		require.Equal(t, 23*time.Second, d)
		s.ConnectionLost(time.Now(), err)

		// Stopped: nothing fires any more.
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Empty(t, checks)
	})
}

// TestManualPingSender checks the sender a host drives from its own loop:
// Poll fires the check only when it is due, and Stop cancels it.
func TestManualPingSender(t *testing.T) {
	now := epoch
	m := NewManualPingSender(func() time.Time { return now })
	fired := 0
	m.Init(func() { fired++ })
	m.Schedule(time.Second) // not started: ignored
	require.True(t, m.Deadline().IsZero())
	m.Start()
	m.Schedule(time.Second)
	require.Equal(t, epoch.Add(time.Second), m.Deadline())
	require.False(t, m.Poll(epoch.Add(999*time.Millisecond)))
	require.True(t, m.Poll(epoch.Add(time.Second)))
	require.False(t, m.Poll(epoch.Add(2*time.Second)), "a check fires once")
	m.Schedule(time.Second)
	m.Stop()
	require.False(t, m.Poll(epoch.Add(time.Hour)))
	require.Equal(t, 1, fired)
}
