package session

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/stretchr/testify/require"
)

// TestStrictAcks checks that with StrictAcks an ack no message waits for
// is reported as an *UnknownAckError matching ErrUnknownPacketID, with the
// state left as it was ([MQTT-4.8.0-1]: the owner closes the connection),
// while PUBREC and PUBREL for unknown identifiers are still answered.
func TestStrictAcks(t *testing.T) {
	h := newHarness(t, Options{StrictAcks: true})
	unknown := func(typ packet.Type, pid uint16) func(*harness, time.Time) error {
		return func(h *harness, now time.Time) error {
			var p packet.Packet
			switch typ {
			case packet.TypePuback:
				p = &packet.Puback{PacketID: pid}
			case packet.TypePubcomp:
				p = &packet.Pubcomp{PacketID: pid}
			case packet.TypeSuback:
				p = &packet.Suback{PacketID: pid, ReturnCodes: []packet.SubackCode{0}}
			case packet.TypeUnsuback:
				p = &packet.Unsuback{PacketID: pid}
			}
			err := h.s.Received(now, p)
			var ue *UnknownAckError
			require.ErrorAs(t, err, &ue)
			require.Equal(t, UnknownAckError{Type: typ, PacketID: pid}, *ue)
			return err
		}
	}
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(1, "one"), want: []string{"> PUBLISH q1 id=1 dup=0 t one"}},
		{at: 2, do: publish(2, "two"), want: []string{"> PUBLISH q2 id=2 dup=0 t two"}},
		{at: 3, do: unknown(packet.TypePuback, 9), wantErr: ErrUnknownPacketID},
		{at: 4, do: unknown(packet.TypePubcomp, 9), wantErr: ErrUnknownPacketID},
		{at: 5, do: unknown(packet.TypePuback, 2), wantErr: ErrUnknownPacketID},  // a QoS 2 message
		{at: 6, do: unknown(packet.TypePubcomp, 2), wantErr: ErrUnknownPacketID}, // before PUBREC
		{at: 7, do: unknown(packet.TypeSuback, 1), wantErr: ErrUnknownPacketID},
		{at: 8, do: unknown(packet.TypeUnsuback, 2), wantErr: ErrUnknownPacketID},
		{at: 9, do: recv(&packet.Pubrec{PacketID: 9}), want: []string{"> PUBREL 9"}},
		{at: 10, do: recv(&packet.Pubrel{PacketID: 9}), want: []string{"> PUBCOMP 9"}},
		{at: 11, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1"}},
		{at: 12, do: unknown(packet.TypePuback, 1), wantErr: ErrUnknownPacketID}, // duplicate
		{at: 13, do: recv(&packet.Pubrec{PacketID: 2}), want: []string{"> PUBREL 2"}},
		{at: 14, do: recv(&packet.Pubcomp{PacketID: 2}), want: []string{"! done 2"}},
	})
	require.Equal(t, 0, h.s.ids.Len())
	require.Empty(t, h.storeKeys())
	require.False(t, errors.Is(&UnknownAckError{}, ErrUnexpectedPacket))
}

// TestMsgIDOf checks that the packet identifier a publish holds leads back
// to its MsgID, also for publishes admitted out of the order they were
// accepted in (a subscribe takes an identifier between them), and not once
// the identifier is freed.
func TestMsgIDOf(t *testing.T) {
	h := newHarness(t, Options{MaxInFlight: 1})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(1, "a"), want: []string{"> PUBLISH q1 id=1 dup=0 t a"}},
		{at: 2, do: publish(1, "b")}, // waits for the window
		{at: 3, do: func(h *harness, now time.Time) error {
			_, err := h.s.Subscribe(now, []packet.Subscription{{Filter: "f"}})
			return err
		}, want: []string{"> SUBSCRIBE 2"}},
		{at: 4, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1", "> PUBLISH q1 id=3 dup=0 t b"}},
	})
	id, ok := h.s.MsgIDOf(3)
	require.True(t, ok)
	require.Equal(t, h.ids["b"], id)
	_, ok = h.s.MsgIDOf(2) // the subscribe
	require.True(t, ok)
	_, ok = h.s.MsgIDOf(1)
	require.False(t, ok, "freed")
	_, ok = h.s.MsgIDOf(0)
	require.False(t, ok)
}

// TestServerAlive checks [MQTT-3.1.2-23] while the owner holds back
// reading: ServerAlive stands for a packet received, so an outstanding
// PINGREQ does not time out and counts as answered, PINGREQs still go out
// every keep-alive period of silence on the client's side, and once
// ServerAlive stops (the server really went quiet) Tick times out as usual.
func TestServerAlive(t *testing.T) {
	const s10 = 10_000_000
	h := newHarness(t, Options{KeepAlive: 10 * time.Second, PingTimeout: 5 * time.Second})
	alive := func(h *harness, now time.Time) error { h.s.ServerAlive(now); return nil }
	h.s.ServerAlive(epoch) // disconnected: nothing
	require.True(t, h.s.NextDeadline().IsZero())
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: s10, do: tick, want: []string{"> PINGREQ"}},
		{at: s10 + 5_000_000, do: alive}, // the PINGRESP waits unread
		{at: s10 + 5_000_000, do: tick},  // no timeout, no new PINGREQ yet
		{at: 2 * s10, do: alive},
		{at: 2 * s10, do: tick, want: []string{"> PINGREQ"}}, // nothing sent for 10 s
		{at: 2*s10 + 5_000_000, do: alive},
		{at: 3 * s10, do: alive},
		{at: 3 * s10, do: tick, want: []string{"> PINGREQ"}},
		{at: 3*s10 + 5_000_000, do: tick, wantErr: ErrKeepAliveTimeout}, // no more sign of life
	})
}

// TestManualPingSenderConcurrent checks the contract of ManualPingSender:
// the owner of the session schedules while a host polls from its own
// goroutine (run with -race).
func TestManualPingSenderConcurrent(t *testing.T) {
	var mu sync.Mutex
	now := epoch
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := NewManualPingSender(clock)
	checks := make(chan struct{}, 1000)
	m.Init(func() { checks <- struct{}{} })
	m.Start()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the host's main loop
		defer wg.Done()
		for i := 0; i < 500; i++ {
			_ = m.Deadline()
			m.Poll(clock().Add(time.Hour))
		}
	}()
	for i := 0; i < 500; i++ { // the session's owner
		m.Schedule(time.Duration(i) * time.Millisecond)
	}
	wg.Wait()
	m.Schedule(0)
	require.True(t, m.Poll(clock()))
	m.Stop()
	require.False(t, m.Poll(clock().Add(time.Hour)))
	require.NotEmpty(t, checks)
}

// TestExtraPubcomp checks the PUBCOMPs a session provokes itself: a server
// that sends PUBREC again for a released message gets a second PUBREL
// [MQTT-4.3.3-1] and answers both, and a PUBREC for an unknown id is
// answered with PUBREL, which the server answers too. Those PUBCOMPs are
// absorbed, one per extra PUBREL, even with StrictAcks; one more is still an
// unknown ack, and none carries over to the next connection.
func TestExtraPubcomp(t *testing.T) {
	h := newHarness(t, Options{StrictAcks: true})
	strayComp := func(pid uint16) func(*harness, time.Time) error {
		return func(h *harness, now time.Time) error {
			err := h.s.Received(now, &packet.Pubcomp{PacketID: pid})
			var ue *UnknownAckError
			require.ErrorAs(t, err, &ue)
			return err
		}
	}
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(2, "two"), want: []string{"> PUBLISH q2 id=1 dup=0 t two"}},
		{at: 2, do: recv(&packet.Pubrec{PacketID: 1}), want: []string{"> PUBREL 1"}},
		{at: 3, do: recv(&packet.Pubrec{PacketID: 1}), want: []string{"> PUBREL 1"}}, // re-sent PUBREC
		{at: 4, do: recv(&packet.Pubcomp{PacketID: 1}), want: []string{"! done 1"}},
		{at: 5, do: recv(&packet.Pubcomp{PacketID: 1})}, // for the second PUBREL
		{at: 6, do: strayComp(1), wantErr: ErrUnknownPacketID},
		{at: 7, do: recv(&packet.Pubrec{PacketID: 9}), want: []string{"> PUBREL 9"}},
		{at: 8, do: publish(2, "next"), want: []string{"> PUBLISH q2 id=2 dup=0 t next"}},
		{at: 9, do: recv(&packet.Pubcomp{PacketID: 9})}, // for the PUBREL answering PUBREC 9
		{at: 10, do: strayComp(9), wantErr: ErrUnknownPacketID},
		{at: 11, do: recv(&packet.Pubrec{PacketID: 7}), want: []string{"> PUBREL 7"}},
		{at: 12, do: lost(nil)},
		{at: 13, do: connack(true, false), want: []string{"> PUBLISH q2 id=2 dup=1 t next"}},
		{at: 14, do: strayComp(7), wantErr: ErrUnknownPacketID}, // an earlier connection's
		{at: 15, do: recv(&packet.Pubrec{PacketID: 2}), want: []string{"> PUBREL 2"}},
		{at: 16, do: recv(&packet.Pubcomp{PacketID: 2}), want: []string{"! done 2"}},
	})
	require.Equal(t, 0, h.s.ids.Len())
	require.Empty(t, h.storeKeys())
}

// TestExtraPubcompBounded checks that a server sending PUBREC after PUBREC
// for unknown ids (each answered with PUBREL) cannot grow the bookkeeping
// of the PUBCOMPs they may bring without bound.
func TestExtraPubcompBounded(t *testing.T) {
	h := newHarness(t, Options{StrictAcks: true})
	now := time.Unix(0, 0)
	require.NoError(t, h.s.OnConnack(now, false, false))
	for pid := 1; pid <= 65535; pid++ {
		require.NoError(t, h.s.Received(now, &packet.Pubrec{PacketID: uint16(pid)}))
		require.NoError(t, h.s.Received(now, &packet.Pubrec{PacketID: 1}))
	}
	require.Len(t, h.s.extraComp, maxExtraComp)
	require.Equal(t, maxExtraComp, h.s.extraComp[1])
}

// TestDefaultMaxInFlight checks the default window: 20 QoS 1 and 2
// publishes on the wire, the 21st waits.
func TestDefaultMaxInFlight(t *testing.T) {
	require.Equal(t, 20, DefaultMaxInFlight)
	h := newHarness(t, Options{})
	require.NoError(t, h.s.OnConnack(at(0), false, false))
	for i := range DefaultMaxInFlight + 1 {
		_, err := h.s.Publish(at(0), Message{Topic: "t", QoS: packet.QoS(1 + i%2)})
		require.NoError(t, err)
	}
	require.Equal(t, DefaultMaxInFlight, h.s.InFlight())
	require.Equal(t, 1, h.s.Waiting())
}
