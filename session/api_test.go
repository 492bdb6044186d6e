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

// TestTags checks that the tag given to Publish, Subscribe, Unsubscribe
// or SetTag comes back with the packets NextToSend hands out for that
// message (PUBLISH, PUBREL, SUBSCRIBE, UNSUBSCRIBE; nil for everything
// else), in Outstanding, and in the completion event, also for a publish
// admitted out of the order it was accepted in and for a restored one.
func TestTags(t *testing.T) {
	h := newHarness(t, Options{MaxInFlight: 1})
	require.NoError(t, h.s.OnConnack(at(0), false, false))
	type sent struct {
		pkt string
		tag any
	}
	take := func() (out []sent) {
		for p, tag, ok := h.s.NextToSend(at(0)); ok; p, tag, ok = h.s.NextToSend(at(0)) {
			out = append(out, sent{show(p), tag})
		}
		return out
	}
	done := func() map[MsgID]any {
		m := map[MsgID]any{}
		for e, ok := h.s.NextEvent(); ok; e, ok = h.s.NextEvent() {
			if e.Kind == EventCompletion {
				m[e.ID] = e.Tag
			}
		}
		return m
	}
	a, err := h.s.Publish(at(0), Message{Topic: "t", Payload: []byte("a"), QoS: 2, Tag: "tag-a"})
	require.NoError(t, err)
	_, err = h.s.Publish(at(0), Message{Topic: "t", Payload: []byte("b"), QoS: 1, Tag: "tag-b"}) // waits
	require.NoError(t, err)
	z, err := h.s.Publish(at(0), Message{Topic: "t", Payload: []byte("z"), QoS: 0, Tag: "tag-z"})
	require.NoError(t, err)
	sub, err := h.s.Subscribe(at(0), []packet.Subscription{{Filter: "f"}}, "tag-sub")
	require.NoError(t, err)
	unsub, err := h.s.Unsubscribe(at(0), []string{"f"}, "tag-unsub")
	require.NoError(t, err)
	require.Equal(t, []sent{
		{"SUBSCRIBE 2", "tag-sub"}, {"UNSUBSCRIBE 3", "tag-unsub"},
		{"PUBLISH q2 id=1 dup=0 t a", "tag-a"}, {"PUBLISH q0 id=0 dup=0 t z", "tag-z"},
	}, take())
	require.Equal(t, map[MsgID]any{z: "tag-z"}, done())
	var tags []any
	for _, o := range h.s.Outstanding() {
		tags = append(tags, o.Tag)
	}
	require.Equal(t, []any{"tag-a", "tag-b"}, tags)

	require.NoError(t, h.s.Received(at(0), &packet.Suback{PacketID: 2, ReturnCodes: []packet.SubackCode{0}}))
	require.NoError(t, h.s.Received(at(0), &packet.Unsuback{PacketID: 3}))
	require.NoError(t, h.s.Received(at(0), &packet.Pubrec{PacketID: 1}))
	require.NoError(t, h.s.Received(at(0), &packet.Pubrec{PacketID: 9})) // unknown: PUBREL without a tag
	require.NoError(t, h.s.Received(at(0), inPub(1, 5, "x", false)))
	require.Equal(t, map[MsgID]any{sub: "tag-sub", unsub: "tag-unsub"}, done())
	require.Equal(t, []sent{{"PUBREL 1", "tag-a"}, {"PUBREL 9", nil}, {"PUBACK 5", nil}}, take())
	require.NoError(t, h.s.Received(at(0), &packet.Pubcomp{PacketID: 1}))
	require.Equal(t, map[MsgID]any{a: "tag-a"}, done())
	require.Equal(t, []sent{{"PUBLISH q1 id=4 dup=0 t b", "tag-b"}}, take(), "admitted later, with its tag")

	// A restored message has no tag until SetTag.
	h.s.ConnectionLost(at(0), nil)
	done()
	r, err := New(Options{Store: h.st})
	require.NoError(t, err)
	out := r.Outstanding()
	require.Len(t, out, 1)
	require.Nil(t, out[0].Tag)
	require.True(t, r.SetTag(out[0].ID, "restored"))
	require.False(t, r.SetTag(out[0].ID+100, "nobody"))
	require.Equal(t, "restored", r.Outstanding()[0].Tag)
	require.NoError(t, r.OnConnack(at(1), true, false))
	p, tag, ok := r.NextToSend(at(1))
	require.True(t, ok)
	require.Equal(t, "PUBLISH q1 id=4 dup=1 t b", show(p))
	require.Equal(t, "restored", tag)
	require.NoError(t, r.Received(at(1), &packet.Puback{PacketID: 4}))
	e, ok := r.NextEvent()
	require.True(t, ok)
	require.Equal(t, "restored", e.Tag)
	require.Equal(t, out[0].ID, e.ID)
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
