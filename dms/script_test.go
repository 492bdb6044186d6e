package dms_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// script drives an agent against the scripted broker, inside a synctest
// bubble (create it there): every server of the agent is the fake broker,
// reached through dial, which counts the dials.
type script struct {
	t     *testing.T
	fb    *fakebroker.Broker
	rec   *recorder
	dials atomic.Int32
}

// dmsURI is the DMS server the scripts' join-network messages name;
// scriptDevice is the id of their agents.
const (
	dmsURI       = "tcp://dms.invalid:1883"
	scriptDevice = "dev-s"
)

func newScript(t *testing.T) *script {
	return &script{t: t, fb: fakebroker.New(t), rec: newRecorder()}
}

func (s *script) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	s.dials.Add(1)
	return s.fb.Dial(ctx, network, addr)
}

// config is an agent on the script: back-off 1 s, 2 s... without jitter,
// a fast reconnect.
func (s *script) config() dms.Config {
	return dms.Config{
		DeviceID:         scriptDevice,
		RedirectServer:   s.fb.URI(),
		Transport:        []transport.Option{transport.WithDialer(s.dial)},
		OnTransition:     s.rec.observe,
		Backoff:          client.Backoff{Min: time.Second, Max: 8 * time.Second, Rand: func() float64 { return 0 }},
		ReconnectBackoff: client.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	}
}

func (s *script) start(cfg dms.Config) *dms.Agent {
	s.t.Helper()
	a, err := dms.NewAgent(cfg)
	require.NoError(s.t, err)
	require.NoError(s.t, a.Start())
	s.t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return a
}

// connect accepts the agent's next connection and accepts its CONNECT.
func (s *script) connect() *fakebroker.Conn {
	s.t.Helper()
	c := s.fb.Accept(s.t)
	c.Timeout = time.Hour // fake time: only a hang would reach it
	c.WantType(s.t, packet.TypeConnect)
	c.WritePacket(s.t, &packet.Connack{})
	return c
}

// next returns the agent's next packet on c, answering PINGREQs.
func next(t *testing.T, c *fakebroker.Conn) packet.Packet {
	t.Helper()
	for {
		p := c.ReadPacket(t)
		if _, ok := p.(*packet.Pingreq); ok {
			c.WritePacket(t, &packet.Pingresp{})
			continue
		}
		return p
	}
}

func want[P packet.Packet](t *testing.T, c *fakebroker.Conn) P {
	t.Helper()
	p := next(t, c)
	got, ok := p.(P)
	if !ok {
		t.Fatalf("got %v, want a %T", p, got)
	}
	return got
}

// grant answers a SUBSCRIBE with the QoS asked for each filter, and
// returns the filters.
func grant(t *testing.T, c *fakebroker.Conn) []packet.Subscription {
	t.Helper()
	sub := want[*packet.Subscribe](t, c)
	codes := make([]packet.SubackCode, len(sub.Subscriptions))
	for i, s := range sub.Subscriptions {
		codes[i] = packet.SubackCode(s.QoS)
	}
	c.WritePacket(t, &packet.Suback{PacketID: sub.PacketID, ReturnCodes: codes})
	return sub.Subscriptions
}

// redirect plays the redirect server up to the join-network message naming
// uri, and checks that the agent leaves it.
func (s *script) redirect(uri string) {
	s.t.Helper()
	c := s.connect()
	grant(s.t, c)
	s.rec.expect(s.t, dms.EventRedirectConnected)
	c.WritePacket(s.t, &packet.Publish{Topic: "/elogger/" + scriptDevice + "/join_network",
		Payload: []byte(`{"url":"` + uri + `"}`)})
	s.rec.expect(s.t, dms.EventNetworkInfoReceived)
	want[*packet.Disconnect](s.t, c)
}

// online plays the redirect server and the DMS server up to Online, and
// returns the DMS connection with the first heartbeat read.
func (s *script) online() (*fakebroker.Conn, *packet.Publish) {
	s.t.Helper()
	s.rec.expect(s.t, dms.EventStart)
	s.redirect(dmsURI)
	c := s.connect()
	grant(s.t, c)
	s.rec.expect(s.t, dms.EventDMSConnected)
	hb := want[*packet.Publish](s.t, c)
	require.Equal(s.t, dms.DefaultHeartbeatTopic, hb.Topic)
	return c, hb
}
