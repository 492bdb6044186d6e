package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
	"github.com/linnet-mqtt/linnet/transport"
)

// Tests of the promises issue 13 found broken from outside, one per
// finding.

// record collects what callbacks see, for the test goroutine to read.
type record[T any] struct {
	mu sync.Mutex
	v  []T
}

func (r *record[T]) add(x ...T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.v = append(r.v, x...)
}

func (r *record[T]) get() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.v)
}

// TestBackoffAfterUnprovenConnection checks that a server that accepts the
// CONNECT and drops the client at once (a client-id takeover, an ACL or
// quota error) is not redialled in a tight loop: a connection that ends
// before it proved itself (Backoff.Min, and a packet after CONNACK) counts
// as a failed attempt, and the back-off grows with each one. One that
// proved itself is followed by a reconnect at once, and resets the count.
func TestBackoffAfterUnprovenConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		var attempts record[int]
		c := fakeClient(t, fb, func(o *Options) {
			o.AutoReconnect = true
			o.Backoff = Backoff{Min: time.Second, Max: 4 * time.Second, Rand: func() float64 { return 0 }}
			o.OnReconnecting = func(n int, _ time.Duration) { attempts.add(n) }
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		start := time.Now()
		sc.Close() // dropped at once: not proven
		var at []time.Duration
		for range 4 {
			sc := fb.Accept(t)
			at = append(at, time.Since(start))
			sc.WantType(t, packet.TypeConnect)
			sc.WritePacket(t, &packet.Connack{})
			sc.Close()
		}
		// Waits of 1, 2, 4 and 4 s (Max) before the attempts.
		require.Equal(t, []time.Duration{time.Second, 3 * time.Second, 7 * time.Second, 11 * time.Second}, at)
		synctest.Wait() // waiting the fifth back-off
		require.Equal(t, []int{1, 2, 3, 4, 5}, attempts.get())

		// A connection that proves itself: the server talks and the
		// connection lasts Backoff.Min. The reconnect after it is at once.
		sc = fb.Accept(t) // after a fifth wait of 4 s
		require.Equal(t, 15*time.Second, time.Since(start))
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{})
		sc.WritePacket(t, &packet.Publish{Topic: "hello", Payload: []byte("x")})
		time.Sleep(time.Second)
		sc.Close()
		closed := time.Now()
		sc = fb.Accept(t)
		require.Zero(t, time.Since(closed), "a proven connection was followed by a back-off")
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{})
		synctest.Wait()
		require.Equal(t, []int{1, 2, 3, 4, 5}, attempts.get(), "the proven connection's reconnect had no back-off")
		require.NoError(t, c.Close())
	})
}

// TestTalkativeButShortConnectionBacksOff checks the other half of
// "proven": a server that sends something right after CONNACK (queued
// messages of a persistent session) and then drops the client at once
// still counts as a failed attempt.
func TestTalkativeButShortConnectionBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) {
			o.AutoReconnect = true
			o.Backoff = Backoff{Min: time.Second, Max: 4 * time.Second, Rand: func() float64 { return 0 }}
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		sc.WritePacket(t, &packet.Publish{Topic: "queued", Payload: []byte("x")})
		synctest.Wait()
		start := time.Now()
		sc.Close()
		sc = fb.Accept(t)
		require.Equal(t, time.Second, time.Since(start))
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{})
		require.NoError(t, c.Close())
	})
}

// TestSecretsStayHidden checks that a password in a server URI, or in
// Options.Password, reaches no String, %v/%+v/%#v, error, callback or log
// record, and that the URI's user information is used as the credentials.
func TestSecretsStayHidden(t *testing.T) {
	const secret = "s3cr3t-pw"
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		var logs testbroker.LockedBuffer
		var seen record[string] // everything the application could print
		server := "tcp://alice:" + secret + "@fakebroker.invalid:1883"
		c, err := New(Options{
			Servers:       []string{server},
			ClientID:      "secrets",
			Version:       Version311,
			Transport:     []transport.Option{transport.WithDialer(fb.Dial)},
			AutoReconnect: true,
			Backoff:       Backoff{Min: time.Second, Rand: func() float64 { return 0 }},
			Logger:        slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			OnConnect:     func(i ConnectInfo) { seen.add(i.Server, fmt.Sprintf("%+v", i)) },
			OnConnectionLost: func(err error) {
				seen.add(err.Error(), fmt.Sprintf("%+v", err))
			},
		})
		require.NoError(t, err)
		defer c.Close()

		// A refused CONNACK.
		errc := make(chan error, 1)
		go func() { errc <- c.Connect(context.Background()) }()
		sc := fb.Accept(t)
		cp := sc.WantType(t, packet.TypeConnect).(*packet.Connect)
		require.Equal(t, "alice", cp.Username, "the URI's user name is the credentials")
		require.Equal(t, []byte(secret), cp.Password, "the URI's password is the credentials")
		sc.WritePacket(t, &packet.Connack{ReturnCode: packet.RefusedNotAuthorized})
		err = <-errc
		var ce *ConnectError
		require.ErrorAs(t, err, &ce)
		seen.add(err.Error(), ce.Server)

		// No CONNACK at all.
		go func() { errc <- c.Connect(context.Background()) }()
		sc = fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.Close()
		err = <-errc
		var he *HandshakeError
		require.ErrorAs(t, err, &he)
		seen.add(err.Error(), he.Server)

		// Connected, then lost.
		sc, _ = connectFake(t, c, fb, &packet.Connack{})
		seen.add(c.String(), fmt.Sprintf("%v|%+v|%#v", c, c, c), c.Options().String(),
			fmt.Sprintf("%+v", c.Options()), strings.Join(c.Options().Servers, " "))
		sc.Close()
		sc = fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{})
		synctest.Wait()
		require.NoError(t, c.Close())

		seen.add(logs.String())
		all := strings.Join(seen.get(), "\n")
		require.NotContains(t, all, secret)
		require.Contains(t, all, "tcp://alice:xxxxx@fakebroker.invalid:1883", "the redacted URI is shown")
		require.Contains(t, logs.String(), "connection lost")
	})
}

// TestOptionsPasswordNotPrinted checks Options.Password in %+v of a
// client's options and of the client.
func TestOptionsPasswordNotPrinted(t *testing.T) {
	const secret = "hunter2-secret"
	c, err := New(Options{Servers: []string{"tcp://127.0.0.1:1"}, Username: "u", Password: []byte(secret)})
	require.NoError(t, err)
	defer c.Close()
	for _, s := range []string{fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", c),
		fmt.Sprintf("%+v", c.opts), fmt.Sprintf("%#v", c.opts)} {
		require.NotContains(t, s, secret)
		require.NotContains(t, s, fmt.Sprint([]byte(secret)))
	}
}

// TestConnectAfterDisconnect checks that Disconnect is not final: Connect
// works again afterwards (as in Paho Java and Go), and the client keeps
// its routes; only Close is final.
func TestConnectAfterDisconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		got := make(chan string, 1)
		c := fakeClient(t, fb, func(o *Options) {
			o.DefaultHandler = func(m *Message) { got <- string(m.Payload) }
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		go func() {
			sc.WantPacket(t, &packet.Disconnect{})
		}()
		require.NoError(t, c.Disconnect(context.Background()))
		require.False(t, c.IsConnected())
		require.NoError(t, c.Disconnect(context.Background()), "Disconnect while disconnected")

		sc, _ = connectFake(t, c, fb, &packet.Connack{})
		tok := c.PublishAsync("again", 1, false, []byte("x"))
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		require.NoError(t, tok.Wait(context.Background()))
		sc.WritePacket(t, &packet.Publish{Topic: "in", Payload: []byte("y")})
		require.Equal(t, "y", <-got)

		require.NoError(t, c.Close())
		require.ErrorIs(t, c.Connect(context.Background()), ErrClosed)
		require.ErrorIs(t, c.Disconnect(context.Background()), ErrClosed)
	})
}

// TestDisconnectKeepsPersistentInflight checks what Disconnect does with a
// message in flight when its context ends: with a persistent session it
// stays, its token pending, and the next Connect sends it again (DUP) and
// completes it.
func TestDisconnectKeepsPersistentInflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.PersistentSession = true })
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		tok := c.PublishAsync("t", 1, false, []byte("p"))
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		go func() { sc.WantPacket(t, &packet.Disconnect{}) }()
		require.ErrorIs(t, c.Disconnect(ctx), context.DeadlineExceeded)
		synctest.Wait()
		select {
		case <-tok.Done():
			t.Fatal("a persistent session's message failed at Disconnect")
		default:
		}
		sc, _ = connectFake(t, c, fb, &packet.Connack{SessionPresent: true})
		again := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.True(t, again.Dup)
		require.Equal(t, p.PacketID, again.PacketID)
		sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		require.NoError(t, tok.Wait(context.Background()))
	})
}

// TestOfflineBufferDropOldest checks Options.OfflineBufferDropOldest: a
// full buffer drops its oldest message (its token fails with
// ErrOfflineMessageDropped) and keeps the new one; the rest go out in
// order after CONNACK. Without it, the new message is refused.
func TestOfflineBufferDropOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.OfflineBuffer, o.OfflineBufferDropOldest = 2, true })
		a := c.PublishAsync("t", 1, false, []byte("a"))
		b := c.PublishAsync("t", 1, false, []byte("b"))
		cc := c.PublishAsync("t", 1, false, []byte("c"))
		require.ErrorIs(t, a.Wait(context.Background()), ErrOfflineMessageDropped)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		for _, want := range []string{"b", "c"} {
			p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
			require.Equal(t, want, string(p.Payload))
			sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		}
		require.NoError(t, b.Wait(context.Background()))
		require.NoError(t, cc.Wait(context.Background()))

		d := fakeClient(t, fb, func(o *Options) { o.OfflineBuffer = 1 })
		require.False(t, isDone(d.PublishAsync("t", 1, false, nil)))
		require.ErrorIs(t, d.PublishAsync("t", 1, false, nil).Err(), ErrOfflineBufferFull)
	})
}

// TestPacingOffNeverWaits checks the default, no pacing: with a backlog of
// publishes in flight (where ThroughputPacing holds writes, see
// TestHeldWrites) and under a dense inbound stream (where it pauses reads,
// see TestReaderPausesUnderStream), nothing waits: the bubble's clock does
// not move.
func TestPacingOffNeverWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		got := make(chan string, 200)
		c := fakeClient(t, fb, func(o *Options) {
			o.MaxInFlight = 100
			o.DefaultHandler = func(m *Message) { got <- string(m.Payload) }
		})
		require.Nil(t, c.Options().Pacing)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		start := time.Now()
		for i := range 2 * holdBacklog {
			c.PublishAsync("h", 1, false, []byte{byte(i)})
			sc.WantType(t, packet.TypePublish)
		}
		for i := range 100 {
			sc.WritePacket(t, &packet.Publish{Topic: "s", Payload: []byte{byte(i)}})
		}
		for range 100 {
			<-got
		}
		require.Zero(t, time.Since(start), "the default pacing waited")
		require.NoError(t, c.Close())
	})
}

// TestPacingString checks the names of the pacing policies.
func TestPacingString(t *testing.T) {
	require.Equal(t, "throughput", ThroughputPacing().String())
	require.True(t, errors.Is(ErrOfflineMessageDropped, ErrOfflineMessageDropped))
}

// TestLossSeenWhileHandlerBlocks checks the documented order of
// OnConnectionLost: it runs on the dispatcher after the handler that is
// running (and the messages queued before the loss), while IsConnected
// reports the loss at once.
func TestLossSeenWhileHandlerBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		release := make(chan struct{})
		var order record[string]
		c := fakeClient(t, fb, func(o *Options) {
			o.DefaultHandler = func(m *Message) {
				order.add("handler")
				<-release
			}
			o.OnConnectionLost = func(error) { order.add("lost") }
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		sc.WritePacket(t, &packet.Publish{Topic: "t", Payload: []byte("x")})
		synctest.Wait() // the handler runs and blocks
		sc.Close()
		synctest.Wait()
		require.False(t, c.IsConnected(), "the loss is not visible while a handler blocks")
		require.Equal(t, []string{"handler"}, order.get(), "OnConnectionLost ran before the handler returned")
		close(release)
		synctest.Wait()
		require.Equal(t, []string{"handler", "lost"}, order.get())
	})
}

// TestKeepAliveWhileHandlerBlocks checks [MQTT-3.1.2-23] with the numbers
// of issue 13's third finding: KeepAlive 5 s and the default PingTimeout of
// 10 s, a handler that blocks, a full dispatcher, a server that answers
// nothing. A PINGREQ still goes out at least every 5 s for a minute (the
// old client sent one every 10 s, and mosquitto dropped it), and the
// connection stays up: the unread packets show the server is alive.
func TestKeepAliveWhileHandlerBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		release := make(chan struct{})
		c := fakeClient(t, fb, func(o *Options) {
			o.KeepAlive = 5 * time.Second
			o.MessageQueue = 1
			o.DefaultHandler = func(m *Message) {
				if string(m.Payload) == "block" {
					<-release
				}
			}
		})
		require.Equal(t, DefaultPingTimeout, c.Options().PingTimeout)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		sc.Timeout = time.Minute
		sc.WritePacket(t, &packet.Publish{QoS: 1, PacketID: 1, Topic: "t", Payload: []byte("block")})
		for id := uint16(2); id <= 5; id++ {
			sc.WritePacket(t, &packet.Publish{QoS: 1, PacketID: id, Topic: "t"})
		}
		last := time.Now()
		for start := time.Now(); time.Since(start) < time.Minute; {
			sc.WantPacket(t, &packet.Pingreq{})
			require.LessOrEqual(t, time.Since(last), 5*time.Second, "keep-alive lapsed")
			last = time.Now()
		}
		require.True(t, c.IsConnected())
		close(release)
		require.NoError(t, c.Close())
	})
}

// TestPingSenderKeepsPinging checks issue 13's fourth finding: with a
// PingSender, KeepAlive 2 s and a PingTimeout (10 s) longer than it, and a
// server that answers every PINGREQ, a PINGREQ goes out every 2 s. The old
// session did not reschedule the sender after the PINGRESP, so the next
// PINGREQ waited the ping timeout (TestPingSenderOption, with KeepAlive =
// PingTimeout, could not show it).
func TestPingSenderKeepsPinging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := session.NewTimerPingSender()
		defer ps.Stop()
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) {
			o.KeepAlive = 2 * time.Second
			o.PingTimeout = 10 * time.Second
			o.PingSender = ps
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		sc.Timeout = time.Minute
		last, n := time.Now(), 0
		for start := time.Now(); time.Since(start) < 30*time.Second; n++ {
			sc.WantPacket(t, &packet.Pingreq{})
			require.LessOrEqual(t, time.Since(last), 2*time.Second, "the PingSender stopped pinging")
			last = time.Now()
			sc.WritePacket(t, &packet.Pingresp{})
		}
		require.GreaterOrEqual(t, n, 15)
		require.True(t, c.IsConnected())
		require.NoError(t, c.Close())
	})
}
