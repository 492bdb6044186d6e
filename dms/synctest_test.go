package dms_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// TestHeartbeatSynctest drives an agent with the system clock inside a
// synctest bubble against a scripted broker over net.Pipe: it checks the
// CONNECT identity and password of both phases, the subscriptions, the
// heartbeat packets (QoS 1, not retained) 30 s apart in the bubble's time,
// and that heartbeats left without PUBACK end the DMS phase.
func TestHeartbeatSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		rec := newRecorder()
		a, err := dms.NewAgent(dms.Config{
			DeviceID:             "dev-s",
			RedirectServer:       fb.URI(),
			Transport:            []transport.Option{transport.WithDialer(fb.Dial)},
			OnTransition:         rec.observe,
			MaxHeartbeatFailures: 2,
		})
		require.NoError(t, err)
		require.NoError(t, a.Start())

		handshake := func(c *fakebroker.Conn, filters ...string) {
			conn := c.WantType(t, packet.TypeConnect).(*packet.Connect)
			require.Equal(t, "dev-s", conn.ClientID)
			require.Equal(t, "dev-s", conn.Username)
			require.Equal(t, dms.Password("dev-s", time.Now()), string(conn.Password))
			require.Equal(t, uint16(60), conn.KeepAlive)
			c.WritePacket(t, &packet.Connack{})
			sub := c.WantType(t, packet.TypeSubscribe).(*packet.Subscribe)
			var got []string
			codes := make([]packet.SubackCode, len(sub.Subscriptions))
			for i, s := range sub.Subscriptions {
				require.Equal(t, packet.QoS1, s.QoS)
				got = append(got, s.Filter)
				codes[i] = packet.SubackQoS1
			}
			require.Equal(t, filters, got)
			c.WritePacket(t, &packet.Suback{PacketID: sub.PacketID, ReturnCodes: codes})
		}

		c1 := fb.Accept(t)
		handshake(c1, "/elogger/dev-s/verify_pwd", "/elogger/dev-s/join_network", "/elogger/dev-s/ctrlDevice")
		rec.expect(t, dms.EventStart, dms.EventRedirectConnected)
		c1.WritePacket(t, &packet.Publish{Topic: "/elogger/dev-s/join_network",
			Payload: []byte(`{"url":"tcp://dms.example:1883"}`)})
		require.Equal(t, "tcp://dms.example:1883", rec.expect(t, dms.EventNetworkInfoReceived)[0].Event.Server)
		c1.WantType(t, packet.TypeDisconnect)

		c2 := fb.Accept(t)
		c2.Timeout = time.Minute
		time.Sleep(time.Second) // the bubble's clock: the password of a later second is the same window
		handshake(c2, "/elogger/dev-s/verify_pwd", "/elogger/dev-s/ctrlDevice")
		rec.expect(t, dms.EventDMSConnected)
		start := time.Now()
		beat := func(at time.Duration) *packet.Publish {
			var p *packet.Publish
			for p == nil {
				switch pk := c2.ReadPacket(t).(type) {
				case *packet.Pingreq: // keep-alive: nothing came from the server for 60 s
					c2.WritePacket(t, &packet.Pingresp{})
				case *packet.Publish:
					p = pk
				default:
					t.Fatalf("got %v, want a heartbeat", pk)
				}
			}
			require.Equal(t, dms.DefaultHeartbeatTopic, p.Topic)
			require.Equal(t, packet.QoS1, p.QoS)
			require.False(t, p.Retain)
			require.Equal(t, at, time.Since(start))
			return p
		}
		p := beat(0)
		c2.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		beat(30 * time.Second) // not acknowledged
		beat(60 * time.Second) // not acknowledged: the first failure was counted now
		// The agent gives the DMS connection up. A PINGREQ may come first: at
		// 60 s nothing has come from the server for a keep-alive period, and
		// the bubble's clock makes it the same instant as the heartbeat, so
		// either may be written first.
		for {
			pk, err := c2.Next(c2.Timeout)
			if err != nil {
				require.NotErrorIs(t, err, fakebroker.ErrTimeout, "the agent kept the DMS connection")
				break
			}
			if _, ok := pk.(*packet.Pingreq); !ok {
				t.Fatalf("got %v, want the connection closed", pk)
			}
			c2.WritePacket(t, &packet.Pingresp{})
		}
		require.Equal(t, 90*time.Second, time.Since(start), "...at the second failure, one interval later")
		tr := rec.expect(t, dms.EventHeartbeatFailed)[0]
		require.ErrorIs(t, tr.Event.Err, dms.ErrHeartbeat)
		require.NoError(t, a.Stop(t.Context()))
		require.Equal(t, dms.StateStopped, a.State())
	})
}
