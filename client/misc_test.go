package client

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
	"github.com/linnet-mqtt/linnet/store"
)

// TestCredentialsCallback checks that the credentials callback is called
// before every connect with the server URI, and that its error fails the
// attempt with a *CredentialsError.
func TestCredentialsCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		calls := 0
		boom := errors.New("vault sealed")
		c := fakeClient(t, fb, func(o *Options) {
			o.Version = Version311
			o.Credentials = func(_ context.Context, server string) (string, []byte, error) {
				calls++
				if calls == 1 {
					return "", nil, boom
				}
				return "user-" + server[:3], []byte("pw"), nil
			}
		})
		err := c.Connect(context.Background())
		require.ErrorIs(t, err, boom)
		var ce *CredentialsError
		require.ErrorAs(t, err, &ce)
		_, cp := connectFake(t, c, fb, &packet.Connack{})
		require.Equal(t, "user-tcp", cp.Username)
		require.Equal(t, []byte("pw"), cp.Password)
		require.Equal(t, 2, calls)
	})
}

// TestCloseDuringConnectRetry checks that Close ends a Connect that is
// waiting between retries, with ErrClosed, and leaves nothing running.
func TestCloseDuringConnectRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.ConnectRetry = true })
		fb.RefuseDials(1000)
		errc := make(chan error, 1)
		go func() { errc <- c.Connect(context.Background()) }()
		synctest.Wait() // Connect is waiting for its back-off
		require.NoError(t, c.Close())
		require.ErrorIs(t, <-errc, ErrClosed)
		require.ErrorIs(t, c.Connect(context.Background()), ErrClosed)
		require.NoError(t, c.Close(), "Close twice")
	})
}

// TestDeliveryCompleteCallback checks OnDeliveryComplete: called on the
// dispatcher after the final ack, with the topic, QoS and packet id.
func TestDeliveryCompleteCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		done := make(chan Delivery, 1)
		c := fakeClient(t, fb, func(o *Options) { o.OnDeliveryComplete = func(d Delivery) { done <- d } })
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		tok := c.PublishAsync("dc", 1, false, nil)
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		synctest.Wait()
		require.Empty(t, done)
		sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		require.Equal(t, Delivery{Topic: "dc", QoS: 1, MessageID: p.PacketID}, <-done)
		require.NoError(t, tok.Err())
	})
}

// TestPingSenderOption checks that a session.PingSender given in the
// options drives keep-alive [MQTT-3.1.2-23] instead of the loop's timer.
func TestPingSenderOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		ps := session.NewTimerPingSender()
		c := fakeClient(t, fb, func(o *Options) { o.KeepAlive = 10 * time.Second; o.PingSender = ps })
		start := time.Now()
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		sc.Timeout = time.Minute
		sc.WantPacket(t, &packet.Pingreq{})
		require.Equal(t, 10*time.Second, time.Since(start))
		sc.WritePacket(t, &packet.Pingresp{})
		sc.WantPacket(t, &packet.Pingreq{})
		require.Equal(t, 20*time.Second, time.Since(start))
		require.NoError(t, c.Close())
		ps.Stop()
	})
}

// TestClientsShareNothing checks that two clients keep separate state:
// routes, options and sessions of one do not show in the other.
func TestClientsShareNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		a := fakeClient(t, fb, func(o *Options) { o.ClientID = "a" })
		b := fakeClient(t, fb, func(o *Options) { o.ClientID = "b" })
		require.NoError(t, a.Handle("x/#", func(*Message) {}))
		require.False(t, b.router.has("x/#"))
		sa, _ := connectFake(t, a, fb, &packet.Connack{})
		sb, _ := connectFake(t, b, fb, &packet.Connack{})
		ta := a.PublishAsync("t", 1, false, nil)
		tb := b.PublishAsync("t", 1, false, nil)
		pa := sa.WantType(t, packet.TypePublish).(*packet.Publish)
		pb := sb.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, pa.PacketID, pb.PacketID, "each client has its own packet ids")
		sa.WritePacket(t, &packet.Puback{PacketID: pa.PacketID})
		require.NoError(t, ta.Wait(context.Background()))
		synctest.Wait()
		require.NoError(t, tb.Err())
		select {
		case <-tb.Done():
			t.Fatal("b's token completed by a's PUBACK")
		default:
		}
	})
}

// TestFailedConnectLeavesNothing checks that a failed Connect, and a loss
// without AutoReconnect, leave no goroutine of the client behind even
// without Close, and that OnConnectionLost still runs.
func TestFailedConnectLeavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		lost := make(chan error, 1)
		c := fakeClient(t, fb, func(o *Options) { o.OnConnectionLost = func(err error) { lost <- err } })
		fb.RefuseDials(1)
		require.ErrorIs(t, c.Connect(context.Background()), fakebroker.ErrRefused)
		synctest.Wait()
		require.Zero(t, clientGoroutines(), "after a failed Connect")

		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		sc.Close()
		require.ErrorIs(t, <-lost, ErrConnectionLost)
		synctest.Wait()
		require.Zero(t, clientGoroutines(), "after a loss without AutoReconnect")
	})
}

// TestPersistOfflineBuffer checks that with PersistOfflineBuffer a message
// published while offline is in the store (sb-<seq>) when PublishAsync
// returns, and is sent after the CONNACK with its record then gone.
func TestPersistOfflineBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		st := store.NewMemory()
		c := fakeClient(t, fb, func(o *Options) { o.OfflineBuffer = 10; o.PersistOfflineBuffer = true; o.Persistence = st })
		tok := c.PublishAsync("kept", 1, false, []byte("b"))
		require.NoError(t, tok.Err())
		keys, err := st.Keys()
		require.NoError(t, err)
		require.Equal(t, []string{"sb-1"}, keys)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, "kept", p.Topic)
		sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		require.NoError(t, tok.Wait(context.Background()))
		keys, err = st.Keys()
		require.NoError(t, err)
		require.Empty(t, keys)
	})
}
