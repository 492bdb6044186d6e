package session

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

// TestCompact checks that Compact lets go of what an idle session keeps
// for reuse, keeps everything it holds, and that the session works on as
// before.
func TestCompact(t *testing.T) {
	now := time.Unix(1000, 0)
	s, err := New(Options{})
	require.NoError(t, err)
	require.NoError(t, s.OnConnack(now, false, true))
	drain := func() (out []packet.Packet) {
		for {
			p, _, ok := s.NextToSend(now)
			if !ok {
				return out
			}
			out = append(out, packet.Clone(p))
		}
	}
	// A finished flow: the queues and pools have grown.
	id, err := s.Publish(now, Message{Topic: "a", QoS: 1, Payload: []byte("x")})
	require.NoError(t, err)
	p := drain()[0].(*packet.Publish)
	require.NoError(t, s.Received(now, &packet.Puback{PacketID: p.PacketID}))
	ev, ok := s.NextEvent()
	require.True(t, ok)
	require.Equal(t, id, ev.ID)
	require.NotNil(t, s.pubs.buf)
	require.NotNil(t, s.events.buf)

	// One message still in flight: its state stays.
	_, err = s.Publish(now, Message{Topic: "b", QoS: 2, Payload: []byte("y")})
	require.NoError(t, err)
	p = drain()[0].(*packet.Publish)

	s.Compact()
	require.Nil(t, s.pubs.buf)
	require.Nil(t, s.events.buf)
	require.Nil(t, s.control.buf)
	require.Nil(t, s.outPool)
	require.Equal(t, 1, s.InFlight())

	// The session carries on: PUBREC, PUBREL, PUBCOMP.
	require.NoError(t, s.Received(now, &packet.Pubrec{PacketID: p.PacketID}))
	require.Equal(t, []packet.Packet{&packet.Pubrel{PacketID: p.PacketID}}, drain())
	require.NoError(t, s.Received(now, &packet.Pubcomp{PacketID: p.PacketID}))
	ev, ok = s.NextEvent()
	require.True(t, ok)
	require.NoError(t, ev.Err)
	require.Zero(t, s.InFlight())
	s.Compact()
	require.Empty(t, s.byPID)
}
