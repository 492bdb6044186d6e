package client

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// TestLossFailsTokensCleanSession checks that with a clean session a lost
// connection fails every pending token with one error that wraps the cause
// (io.EOF here) and unwraps to net.ErrClosed; nothing completes early.
func TestLossFailsTokensCleanSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.MaxInFlight = 1 })
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		t1 := c.PublishAsync("a", 1, false, nil)
		t2 := c.PublishAsync("a", 2, false, nil) // waits for the window
		sc.WantType(t, packet.TypePublish)
		synctest.Wait()
		require.NoError(t, t1.Err())
		sc.Close()
		for _, tok := range []*Token{t1, t2} {
			err := tok.Wait(context.Background())
			require.ErrorIs(t, err, net.ErrClosed)
			require.ErrorIs(t, err, io.EOF)
			require.ErrorIs(t, err, ErrConnectionLost)
		}
	})
}

// TestReconnectResendsPersistentSession checks [MQTT-4.4.0-1] and
// [MQTT-3.3.1-1]: after a reconnect with CleanSession=0 the unacknowledged
// PUBLISH is sent again with its packet id and DUP=1, a QoS 2 message past
// PUBREC gets its PUBREL again, in their original order [MQTT-4.6.0-1],
// and the tokens stay pending across the loss and complete at the acks.
func TestReconnectResendsPersistentSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		infos := make(chan ConnectInfo, 4)
		c := fakeClient(t, fb, func(o *Options) {
			o.PersistentSession = true
			o.AutoReconnect = true
			o.OnConnect = func(i ConnectInfo) { infos <- i }
		})
		sc, cp := connectFake(t, c, fb, &packet.Connack{})
		require.False(t, cp.CleanSession)
		require.False(t, (<-infos).Reconnect)
		t1 := c.PublishAsync("one", 2, false, []byte("1"))
		t2 := c.PublishAsync("two", 1, false, []byte("2"))
		p1 := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		p2 := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		sc.WritePacket(t, &packet.Pubrec{PacketID: p1.PacketID})
		sc.WantPacket(t, &packet.Pubrel{PacketID: p1.PacketID})
		sc.Close()

		sc = fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{SessionPresent: true})
		sc.WantPacket(t, &packet.Pubrel{PacketID: p1.PacketID})
		sc.WantPacket(t, &packet.Publish{Dup: true, QoS: 1, Topic: "two", PacketID: p2.PacketID, Payload: []byte("2")})
		info := <-infos
		require.True(t, info.Reconnect)
		require.True(t, info.SessionPresent)
		synctest.Wait()
		require.NoError(t, t1.Err())
		select {
		case <-t1.Done():
			t.Fatal("QoS 2 token completed before PUBCOMP")
		case <-t2.Done():
			t.Fatal("QoS 1 token completed before PUBACK")
		default:
		}
		sc.WritePacket(t, &packet.Pubcomp{PacketID: p1.PacketID})
		sc.WritePacket(t, &packet.Puback{PacketID: p2.PacketID})
		require.NoError(t, t1.Wait(context.Background()))
		require.NoError(t, t2.Wait(context.Background()))
	})
}

// TestResubscribeAfterLostSession checks that the subscriptions made
// through the client are made again after a reconnect whose CONNACK says
// the session is gone, and that messages reach the old handlers.
func TestResubscribeAfterLostSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		got := make(chan string, 4)
		c := fakeClient(t, fb, func(o *Options) { o.AutoReconnect = true })
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		done := make(chan error, 1)
		go func() {
			_, err := c.Subscribe(context.Background(), func(m *Message) { got <- string(m.Payload) },
				Subscription{Filter: "s/#", QoS: 1}, Subscription{Filter: "t", QoS: 0})
			done <- err
		}()
		sp := sc.WantType(t, packet.TypeSubscribe).(*packet.Subscribe)
		sc.WritePacket(t, &packet.Suback{PacketID: sp.PacketID, ReturnCodes: []packet.SubackCode{1, 0}})
		require.NoError(t, <-done)
		sc.Close()

		sc = fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{})
		sp = sc.WantType(t, packet.TypeSubscribe).(*packet.Subscribe)
		require.Equal(t, []packet.Subscription{{Filter: "s/#", QoS: 1}, {Filter: "t", QoS: 0}}, sp.Subscriptions)
		sc.WritePacket(t, &packet.Suback{PacketID: sp.PacketID, ReturnCodes: []packet.SubackCode{1, 0}})
		sc.WritePacket(t, &packet.Publish{Topic: "s/x", Payload: []byte("after")})
		require.Equal(t, "after", <-got)
	})
}

// TestResumedSessionReachesHandlers checks that routes set before Connect
// take the messages a resumed session sends right after CONNACK.
func TestResumedSessionReachesHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		got := make(chan string, 1)
		c := fakeClient(t, fb, func(o *Options) { o.PersistentSession = true })
		require.NoError(t, c.Handle("r/+", func(m *Message) { got <- m.Topic }))
		errc := make(chan error, 1)
		go func() { errc <- c.Connect(context.Background()) }()
		sc := fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{SessionPresent: true})
		sc.WritePacket(t, &packet.Publish{QoS: 1, PacketID: 3, Topic: "r/1"})
		require.NoError(t, <-errc)
		require.Equal(t, "r/1", <-got)
		sc.WantPacket(t, &packet.Puback{PacketID: 3})
	})
}

// TestServerListFailover checks that the servers are tried in order and the
// first that accepts is used; OnConnect names it.
func TestServerListFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		var mu sync.Mutex
		var dialed []string
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			return fb.Dial(ctx, network, addr)
		}
		infos := make(chan ConnectInfo, 1)
		c, err := New(Options{
			Servers:   []string{"tcp://down.invalid:1883", "tcp://up.invalid:1883"},
			Transport: []transport.Option{transport.WithDialer(dial)},
			OnConnect: func(i ConnectInfo) { infos <- i },
		})
		require.NoError(t, err)
		defer c.Close()
		fb.RefuseDials(1)
		errc := make(chan error, 1)
		go func() { errc <- c.Connect(context.Background()) }()
		sc := fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{})
		require.NoError(t, <-errc)
		require.Equal(t, "tcp://up.invalid:1883", (<-infos).Server)
		mu.Lock()
		require.Equal(t, []string{"down.invalid:1883", "up.invalid:1883"}, dialed)
		mu.Unlock()
	})
}

// TestConnectRetryBackoff checks ConnectRetry: the first Connect keeps
// trying with the back-off delays (exact with a fixed random source),
// telling OnReconnecting, until a server accepts.
func TestConnectRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		type rc struct {
			n int
			d time.Duration
		}
		calls := make(chan rc, 8)
		c := fakeClient(t, fb, func(o *Options) {
			o.ConnectRetry = true
			o.Backoff = Backoff{Min: time.Second, Max: 3 * time.Second, Rand: func() float64 { return 0 }}
			o.OnReconnecting = func(n int, d time.Duration) { calls <- rc{n, d} }
		})
		fb.RefuseDials(3)
		start := time.Now()
		errc := make(chan error, 1)
		go func() { errc <- c.Connect(context.Background()) }()
		sc := fb.Accept(t)
		require.Equal(t, 6*time.Second, time.Since(start)) // 1 + 2 + 3
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{})
		require.NoError(t, <-errc)
		require.Equal(t, []rc{{1, time.Second}, {2, 2 * time.Second}, {3, 3 * time.Second}}, []rc{<-calls, <-calls, <-calls})
	})
}

// TestConnectRetryContext checks that ConnectRetry stops when the context
// of Connect ends, with the context's error, and leaves nothing running.
func TestConnectRetryContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.ConnectRetry = true })
		fb.RefuseDials(1000)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := c.Connect(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, fakebroker.ErrRefused)
	})
}

// TestOfflineBuffer checks that publishes made before the first connect go
// to the offline buffer, are sent in order after CONNACK, and that a full
// buffer refuses with ErrOfflineBufferFull.
func TestOfflineBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.OfflineBuffer = 2 })
		t1 := c.PublishAsync("b", 1, false, []byte("1"))
		t2 := c.PublishAsync("b", 0, false, []byte("2"))
		t3 := c.PublishAsync("b", 1, false, []byte("3"))
		require.ErrorIs(t, t3.Err(), ErrOfflineBufferFull)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, "1", string(p.Payload))
		p0 := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, "2", string(p0.Payload))
		sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		require.NoError(t, t1.Wait(context.Background()))
		require.NoError(t, t2.Wait(context.Background()))
	})
}

// TestCloseFromHandler checks that Close and Disconnect can be called from
// a handler without a deadlock, and that every goroutine ends.
func TestCloseFromHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		closed := make(chan error, 1)
		var c *Client
		c = fakeClient(t, fb, func(o *Options) {
			o.DefaultHandler = func(*Message) { closed <- c.Disconnect(context.Background()) }
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		sc.WritePacket(t, &packet.Publish{Topic: "x"})
		sc.WantPacket(t, &packet.Disconnect{})
		sc.WantClosed(t)
		require.NoError(t, <-closed)
	})
}

// TestSubscribeLostRemovesRoute checks that a Subscribe whose connection
// goes before the SUBACK fails with the connection-lost error and takes
// back the route it added.
func TestSubscribeLostRemovesRoute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, nil)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		errc := make(chan error, 1)
		go func() {
			_, err := c.Subscribe(context.Background(), func(*Message) {}, Subscription{Filter: "gone/#"})
			errc <- err
		}()
		sc.WantType(t, packet.TypeSubscribe)
		require.True(t, c.router.has("gone/#"), "the route exists before the SUBACK")
		sc.Close()
		require.ErrorIs(t, <-errc, net.ErrClosed)
		require.False(t, c.router.has("gone/#"))
	})
}

// TestResendOrderAfterReconnect checks [MQTT-4.6.0-1] with several messages:
// five QoS 1 PUBLISHes in flight at a loss are sent again after the
// reconnect in their original order, with their ids and DUP=1
// [MQTT-3.3.1-1]; a second Connect while connected is refused.
func TestResendOrderAfterReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.PersistentSession = true; o.AutoReconnect = true })
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		require.ErrorIs(t, c.Connect(context.Background()), ErrAlreadyConnected)
		var ids []uint16
		var toks []*Token
		for i := 0; i < 5; i++ {
			toks = append(toks, c.PublishAsync("o", 1, false, []byte{byte(i)}))
			ids = append(ids, sc.WantType(t, packet.TypePublish).(*packet.Publish).PacketID)
		}
		sc.WritePacket(t, &packet.Puback{PacketID: ids[1]}) // one completes before the loss
		require.NoError(t, toks[1].Wait(context.Background()))
		sc.Close()
		sc = fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{SessionPresent: true})
		for _, i := range []int{0, 2, 3, 4} {
			sc.WantPacket(t, &packet.Publish{Dup: true, QoS: 1, Topic: "o", PacketID: ids[i], Payload: []byte{byte(i)}})
		}
		for _, i := range []int{0, 2, 3, 4} {
			sc.WritePacket(t, &packet.Puback{PacketID: ids[i]})
			require.NoError(t, toks[i].Wait(context.Background()))
		}
	})
}
