package client

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// fakeClient returns a client that dials fb, with options changed by mod.
func fakeClient(t *testing.T, fb *fakebroker.Broker, mod func(*Options)) *Client {
	t.Helper()
	o := Options{
		Servers:   []string{fb.URI()},
		ClientID:  "fake",
		Transport: []transport.Option{transport.WithDialer(fb.Dial)},
	}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// connectFake runs Connect against fb, answering the CONNECT with ack, and
// returns the server side of the connection and the CONNECT it read.
func connectFake(t *testing.T, c *Client, fb *fakebroker.Broker, ack *packet.Connack) (*fakebroker.Conn, *packet.Connect) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- c.Connect(context.Background()) }()
	sc := fb.Accept(t)
	cp := sc.WantType(t, packet.TypeConnect).(*packet.Connect)
	sc.WritePacket(t, ack)
	require.NoError(t, <-errc)
	return sc, cp
}

// TestConnectFirstPacket checks [MQTT-3.1.0-1]: the first packet on a new
// connection is CONNECT, carrying the options (clean session, keep-alive
// in seconds, client id, credentials, will), and [MQTT-3.1.2-22]: the
// password goes with the user name.
func TestConnectFirstPacket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) {
			o.KeepAlive = 30 * time.Second
			o.Username, o.Password = "u", []byte("secret")
			o.Will = &Will{Topic: "will/t", Payload: []byte("gone"), QoS: 1, Retain: true}
		})
		sc, cp := connectFake(t, c, fb, &packet.Connack{})
		want := &packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, KeepAlive: 30, ClientID: "fake",
			WillFlag: true, WillQoS: 1, WillRetain: true, WillTopic: "will/t", WillMessage: []byte("gone"),
			UsernameFlag: true, Username: "u", PasswordFlag: true, Password: []byte("secret")}
		require.Equal(t, want, cp)
		require.True(t, c.IsConnected())
		require.NoError(t, c.Close())
		sc.WantClosed(t)
	})
}

// TestPublishQoS1TokenWaitsForPuback checks that a QoS 1 token does not
// complete before its PUBACK [MQTT-4.3.2-1] and that the PUBLISH has a
// non-zero packet id [MQTT-2.3.1-1].
func TestPublishQoS1TokenWaitsForPuback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, nil)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		tok := c.PublishAsync("a/b", 1, false, []byte("hi"))
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, "a/b", p.Topic)
		require.NotZero(t, p.PacketID)
		synctest.Wait()
		select {
		case <-tok.Done():
			t.Fatal("token completed before PUBACK")
		default:
		}
		require.Equal(t, p.PacketID, tok.MessageID())
		sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		require.NoError(t, tok.Wait(context.Background()))
	})
}

// TestPublishQoS2Flow checks the sender side of QoS 2: PUBLISH, then PUBREL
// after PUBREC [MQTT-4.3.3-1], completing only at PUBCOMP.
func TestPublishQoS2Flow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, nil)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		tok := c.PublishAsync("q2", 2, false, []byte("x"))
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, packet.QoS2, p.QoS)
		sc.WritePacket(t, &packet.Pubrec{PacketID: p.PacketID})
		sc.WantPacket(t, &packet.Pubrel{PacketID: p.PacketID})
		synctest.Wait()
		require.NoError(t, tok.Err())
		select {
		case <-tok.Done():
			t.Fatal("token completed before PUBCOMP")
		default:
		}
		sc.WritePacket(t, &packet.Pubcomp{PacketID: p.PacketID})
		require.NoError(t, tok.Wait(context.Background()))
	})
}

// TestDisconnectWaitsForInflight checks [MQTT-3.14.4-1] and
// [MQTT-3.14.4-2]: Disconnect waits for the message in flight, then sends
// DISCONNECT, closes the connection and sends nothing after it.
func TestDisconnectWaitsForInflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, nil)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		tok := c.PublishAsync("t", 1, false, nil)
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		done := make(chan error, 1)
		go func() { done <- c.Disconnect(context.Background()) }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Disconnect returned with a message in flight")
		default:
		}
		sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		sc.WantPacket(t, &packet.Disconnect{})
		sc.WantClosed(t)
		require.NoError(t, <-done)
		require.NoError(t, tok.Err())
		// Disconnected, not closed: without an offline buffer a publish
		// is refused until the next Connect.
		require.ErrorIs(t, c.Publish(context.Background(), "t", 0, false, nil), ErrNotConnected)
	})
}

// TestDisconnectContextEnds checks that Disconnect returns when its context
// ends even though the server never acks, still sending DISCONNECT
// [MQTT-3.14.4-1], and that the pending token fails with ErrClosed.
func TestDisconnectContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, nil)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		tok := c.PublishAsync("t", 1, false, nil)
		sc.WantType(t, packet.TypePublish)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.ErrorIs(t, c.Disconnect(ctx), context.DeadlineExceeded)
		sc.WantPacket(t, &packet.Disconnect{})
		sc.WantClosed(t)
		require.ErrorIs(t, tok.Wait(context.Background()), ErrClosed)
	})
}

// TestKeepAliveSilentServer checks [MQTT-3.1.2-23]: with nothing else to
// send the client sends PINGREQ within the keep-alive period, and a server
// that never answers ends the connection with a timeout error that is a
// net.Error with Timeout() true and unwraps to net.ErrClosed.
func TestKeepAliveSilentServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		lost := make(chan error, 1)
		c := fakeClient(t, fb, func(o *Options) {
			o.KeepAlive = 10 * time.Second
			o.PingTimeout = 5 * time.Second
			o.OnConnectionLost = func(err error) { lost <- err }
		})
		start := time.Now()
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		sc.Timeout = time.Minute
		sc.WantPacket(t, &packet.Pingreq{})
		require.Equal(t, 10*time.Second, time.Since(start))
		sc.WritePacket(t, &packet.Pingresp{})
		sc.WantPacket(t, &packet.Pingreq{})
		require.Equal(t, 20*time.Second, time.Since(start))
		// Silence now.
		sc.WantClosed(t)
		require.Equal(t, 25*time.Second, time.Since(start))
		err := <-lost
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		require.True(t, ne.Timeout())
		require.ErrorIs(t, err, net.ErrClosed)
		require.ErrorIs(t, err, ErrConnectionLost)
		require.False(t, c.IsConnected())
	})
}

// TestRefusedConnack checks that a CONNACK refusal is a *ConnectError that
// matches its code with errors.Is, and that the client leaves no goroutine.
func TestRefusedConnack(t *testing.T) {
	for code := packet.ReturnCode(2); code <= 5; code++ {
		t.Run(code.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fb := fakebroker.New(t)
				c := fakeClient(t, fb, func(o *Options) { o.Version = Version311 })
				errc := make(chan error, 1)
				go func() { errc <- c.Connect(context.Background()) }()
				sc := fb.Accept(t)
				sc.WantType(t, packet.TypeConnect)
				sc.WritePacket(t, &packet.Connack{ReturnCode: code})
				err := <-errc
				require.ErrorIs(t, err, &ConnectError{Code: code})
				require.ErrorIs(t, err, ErrRefused)
				require.False(t, errors.Is(err, &ConnectError{Code: code + 1}))
				var ce *ConnectError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, fb.URI(), ce.Server)
				sc.WantClosed(t)
			})
		})
	}
}

// TestPublishContextWithdrawsWaiting checks that Publish returns when its
// context ends: a message still waiting for the in-flight window is
// withdrawn and never sent, and one already sent goes on to its ack.
func TestPublishContextWithdrawsWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.MaxInFlight = 1 })
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		first := make(chan error, 1)
		ctx1, cancel1 := context.WithTimeout(context.Background(), time.Second)
		defer cancel1()
		go func() { first <- c.Publish(ctx1, "a", 1, false, []byte("1")) }()
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel2()
		require.ErrorIs(t, c.Publish(ctx2, "a", 1, false, []byte("2")), context.DeadlineExceeded)
		require.ErrorIs(t, <-first, context.DeadlineExceeded, "the sent message outlived its context")
		sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		tok := c.PublishAsync("a", 1, false, []byte("3"))
		p3 := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, "3", string(p3.Payload), "the withdrawn message was sent")
		sc.WritePacket(t, &packet.Puback{PacketID: p3.PacketID})
		require.NoError(t, tok.Wait(context.Background()))
	})
}
