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
)

// lostWith connects, lets script misbehave, and returns the error the
// connection-lost callback received.
func lostWith(t *testing.T, mod func(*Options), script func(c *Client, sc *fakebroker.Conn)) error {
	t.Helper()
	fb := fakebroker.New(t)
	lost := make(chan error, 1)
	c := fakeClient(t, fb, func(o *Options) {
		o.OnConnectionLost = func(err error) { lost <- err }
		if mod != nil {
			mod(o)
		}
	})
	sc, _ := connectFake(t, c, fb, &packet.Connack{})
	script(c, sc)
	sc.WantClosed(t)
	err := <-lost
	require.ErrorIs(t, err, net.ErrClosed)
	require.ErrorIs(t, err, ErrConnectionLost)
	require.False(t, c.IsConnected())
	return err
}

// TestHostileGarbage checks [MQTT-4.8.0-1]: bytes that are no packet (a
// reserved packet type) end the connection with a *packet.ProtocolError.
func TestHostileGarbage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := lostWith(t, nil, func(_ *Client, sc *fakebroker.Conn) { sc.WriteBytes(t, []byte{0x00, 0x00, 0xff}) })
		var pe *packet.ProtocolError
		require.ErrorAs(t, err, &pe)
		require.ErrorIs(t, err, packet.ErrInvalidType)
	})
}

// TestHostileOversizePacket checks that a packet over MaxPacketSize ends
// the connection with ErrPacketTooLarge before its body is read.
func TestHostileOversizePacket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := lostWith(t, func(o *Options) { o.MaxPacketSize = 100 }, func(_ *Client, sc *fakebroker.Conn) {
			// The header announces 1 MB; nothing more is sent.
			sc.WriteBytes(t, append([]byte{0x30}, packet.AppendRemainingLength(nil, 1<<20)...))
		})
		require.ErrorIs(t, err, packet.ErrPacketTooLarge)
	})
}

// TestHostileUnknownPuback checks [MQTT-4.8.0-1]: a PUBACK for a packet id
// the client never used ends the connection with a *ViolationError.
func TestHostileUnknownPuback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := lostWith(t, nil, func(_ *Client, sc *fakebroker.Conn) { sc.WritePacket(t, &packet.Puback{PacketID: 4242}) })
		var ve *ViolationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, packet.TypePuback, ve.Packet)
		require.ErrorIs(t, err, ErrUnexpectedPacket)
	})
}

// TestHostileSecondConnack checks [MQTT-4.8.0-1]: a second CONNACK ends the
// connection with a *ViolationError.
func TestHostileSecondConnack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := lostWith(t, nil, func(_ *Client, sc *fakebroker.Conn) { sc.WritePacket(t, &packet.Connack{}) })
		require.ErrorIs(t, err, ErrUnexpectedPacket)
		require.ErrorIs(t, err, packet.ErrProtocol)
	})
}

// TestHostileServerOnlyPacket checks that a packet only a client sends
// (SUBSCRIBE) ends the connection with a *ViolationError.
func TestHostileServerOnlyPacket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := lostWith(t, nil, func(_ *Client, sc *fakebroker.Conn) {
			sc.WritePacket(t, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a"}}})
		})
		require.ErrorIs(t, err, ErrUnexpectedPacket)
	})
}

// TestHostileSlowlorisConnack checks that a server that sends its CONNACK
// one byte and then nothing cannot hold Connect past ConnectTimeout: the
// error is a timeout, and nothing is left running.
func TestHostileSlowlorisConnack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.ConnectTimeout = 3 * time.Second; o.Version = Version311 })
		start := time.Now()
		errc := make(chan error, 1)
		go func() { errc <- c.Connect(context.Background()) }()
		sc := fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.WriteBytes(t, []byte{0x20})
		err := <-errc
		require.Equal(t, 3*time.Second, time.Since(start))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		require.True(t, ne.Timeout())
		sc.WantClosed(t)
		require.False(t, c.IsConnected())
	})
}

// TestHostileGarbageInsteadOfConnack checks that a first packet that does
// not decode fails Connect with the *packet.ProtocolError, and a first
// packet that is not CONNACK with a *ViolationError [MQTT-4.8.0-1].
func TestHostileGarbageInsteadOfConnack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.Version = Version311 })
		errc := make(chan error, 1)
		go func() { errc <- c.Connect(context.Background()) }()
		sc := fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.WriteBytes(t, []byte{0xf0, 0x00})
		err := <-errc
		require.ErrorIs(t, err, packet.ErrProtocol)
		sc.WantClosed(t)

		go func() { errc <- c.Connect(context.Background()) }()
		sc = fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Pingresp{})
		err = <-errc
		var ve *ViolationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, packet.TypePingresp, ve.Packet)
		sc.WantClosed(t)
	})
}

// TestVersionFallback checks the automatic fallback to MQTT 3.1 on the
// same server, after a close without CONNACK and after CONNACK 0x01, and
// that the version that worked is remembered.
func TestVersionFallback(t *testing.T) {
	for _, how := range []string{"close", "connack1"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fb := fakebroker.New(t)
				infos := make(chan ConnectInfo, 2)
				c := fakeClient(t, fb, func(o *Options) { o.OnConnect = func(i ConnectInfo) { infos <- i } })
				errc := make(chan error, 1)
				go func() { errc <- c.Connect(context.Background()) }()
				sc := fb.Accept(t)
				cp := sc.WantType(t, packet.TypeConnect).(*packet.Connect)
				require.Equal(t, byte(4), cp.ProtocolLevel)
				if how == "close" {
					sc.Close()
				} else {
					sc.WritePacket(t, &packet.Connack{ReturnCode: packet.RefusedProtocolVersion})
				}
				sc = fb.Accept(t)
				cp = sc.WantType(t, packet.TypeConnect).(*packet.Connect)
				require.Equal(t, "MQIsdp", cp.ProtocolName)
				require.Equal(t, byte(3), cp.ProtocolLevel)
				sc.WritePacket(t, &packet.Connack{})
				require.NoError(t, <-errc)
				require.Equal(t, Version31, (<-infos).Version)
				// Remembered: the next connect starts with 3.1.
				sc.Close()
				synctest.Wait()
				go func() { errc <- c.Connect(context.Background()) }()
				sc = fb.Accept(t)
				cp = sc.WantType(t, packet.TypeConnect).(*packet.Connect)
				require.Equal(t, byte(3), cp.ProtocolLevel)
				sc.WritePacket(t, &packet.Connack{})
				require.NoError(t, <-errc)
			})
		})
	}
}

// TestPinnedVersionNoFallback checks that a pinned version does not fall
// back: a close without CONNACK fails Connect with ErrNoCONNACK.
func TestPinnedVersionNoFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.Version = Version311 })
		errc := make(chan error, 1)
		go func() { errc <- c.Connect(context.Background()) }()
		sc := fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.Close()
		err := <-errc
		require.ErrorIs(t, err, ErrNoCONNACK)
		require.False(t, errors.Is(err, context.DeadlineExceeded))
	})
}

// TestHostileSubackCount checks [MQTT-4.8.0-1]: a SUBACK whose return
// codes do not match the filters of the SUBSCRIBE fails the Subscribe with
// a *ViolationError and ends the connection.
func TestHostileSubackCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var subErr error
		err := lostWith(t, nil, func(c *Client, sc *fakebroker.Conn) {
			errc := make(chan error, 1)
			go func() {
				_, err := c.Subscribe(context.Background(), nil, Subscription{Filter: "a"}, Subscription{Filter: "b"})
				errc <- err
			}()
			sp := sc.WantType(t, packet.TypeSubscribe).(*packet.Subscribe)
			sc.WritePacket(t, &packet.Suback{PacketID: sp.PacketID, ReturnCodes: []packet.SubackCode{0}})
			subErr = <-errc
		})
		require.ErrorIs(t, subErr, ErrUnexpectedPacket)
		require.ErrorIs(t, err, ErrUnexpectedPacket)
	})
}
