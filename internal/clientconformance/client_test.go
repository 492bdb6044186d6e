package clientconformance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/internal/leaktest"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// connect returns a client connected to a fake broker, the broker's side of
// the connection, and a channel with the connection-lost error.
func connect(t *testing.T) (*client.Client, *fakebroker.Conn, <-chan error) {
	t.Helper()
	fb := fakebroker.New(t)
	lost := make(chan error, 1)
	c, err := client.New(client.Options{
		Servers: []string{fb.URI()}, ClientID: "conf", KeepAlive: client.KeepAliveOff, Version: client.Version311,
		Transport:        []transport.Option{transport.WithDialer(fb.Dial)},
		OnConnectionLost: func(err error) { lost <- err },
		DefaultHandler:   func(*client.Message) {},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	done := make(chan error, 1)
	go func() { done <- c.Connect(context.Background()) }()
	conn := fb.Accept(t)
	conn.WantType(t, packet.TypeConnect)
	conn.WritePacket(t, &packet.Connack{})
	require.NoError(t, <-done)
	return c, conn, lost
}

// TestQoS0PublishOnTheWire checks [MQTT-4.3.1-1]: a QoS 0 message leaves as
// a PUBLISH with QoS 0, DUP 0 and no packet identifier.
func TestQoS0PublishOnTheWire(t *testing.T) {
	c, conn, _ := connect(t)
	require.NoError(t, c.Publish(context.Background(), "a/b", 0, false, []byte("x")))
	got := conn.WantType(t, packet.TypePublish).(*packet.Publish)
	require.Equal(t, packet.QoS(0), got.QoS)
	require.False(t, got.Dup)
	require.Zero(t, got.PacketID)
}

// TestAcksEchoPacketIDs checks [MQTT-2.3.1-6]: the PUBACK, PUBREC and
// PUBREL the client sends carry the packet identifier of the PUBLISH they
// belong to, inbound and outbound.
func TestAcksEchoPacketIDs(t *testing.T) {
	c, conn, _ := connect(t)
	conn.WritePacket(t, &packet.Publish{QoS: 1, PacketID: 7, Topic: "in/1", Payload: []byte("a")})
	conn.WantPacket(t, &packet.Puback{PacketID: 7})
	conn.WritePacket(t, &packet.Publish{QoS: 2, PacketID: 0x1234, Topic: "in/2", Payload: []byte("b")})
	conn.WantPacket(t, &packet.Pubrec{PacketID: 0x1234})
	conn.WritePacket(t, &packet.Pubrel{PacketID: 0x1234})
	conn.WantPacket(t, &packet.Pubcomp{PacketID: 0x1234})

	tok := c.PublishAsync("out", 2, false, []byte("c"))
	pub := conn.WantType(t, packet.TypePublish).(*packet.Publish)
	conn.WritePacket(t, &packet.Pubrec{PacketID: pub.PacketID})
	conn.WantPacket(t, &packet.Pubrel{PacketID: pub.PacketID})
	conn.WritePacket(t, &packet.Pubcomp{PacketID: pub.PacketID})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, tok.Wait(ctx))
}

// TestWrongFixedHeaderFlagsCloseConnection checks [MQTT-2.2.2-2]: a packet
// from the server with wrong fixed-header flags (a PUBREL with 0000, a
// PUBACK with 0001) makes the client drop the connection, reporting the
// protocol error.
func TestWrongFixedHeaderFlagsCloseConnection(t *testing.T) {
	for name, raw := range map[string][]byte{
		"PUBREL flags 0000": {0x60, 0x02, 0x00, 0x01},
		"PUBACK flags 0001": {0x41, 0x02, 0x00, 0x01},
	} {
		t.Run(name, func(t *testing.T) {
			_, conn, lost := connect(t)
			conn.WriteBytes(t, raw)
			conn.WantClosed(t)
			select {
			case err := <-lost:
				var pe *packet.ProtocolError
				require.True(t, errors.As(err, &pe), "%v", err)
				require.ErrorIs(t, err, packet.ErrProtocol)
			case <-time.After(10 * time.Second):
				t.Fatal("no connection-lost callback")
			}
		})
	}
}
