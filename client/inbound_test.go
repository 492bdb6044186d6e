package client

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
)

// TestInboundQoS1AcksInOrder checks [MQTT-4.5.0-2] (every PUBLISH is
// acknowledged, also one no handler takes) and [MQTT-4.6.0-2] (PUBACKs in
// the order the PUBLISHes arrived), with the ack sent after the handler
// returns.
func TestInboundQoS1AcksInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		got := make(chan *Message, 10)
		c := fakeClient(t, fb, nil)
		require.NoError(t, c.Handle("in/#", func(m *Message) { got <- m }))
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		for id := uint16(1); id <= 3; id++ {
			sc.WritePacket(t, &packet.Publish{QoS: 1, PacketID: id, Topic: "in/x", Payload: []byte{byte(id)}})
		}
		sc.WritePacket(t, &packet.Publish{QoS: 1, PacketID: 4, Topic: "nobody/listens"})
		for id := uint16(1); id <= 4; id++ {
			sc.WantPacket(t, &packet.Puback{PacketID: id})
		}
		for id := byte(1); id <= 3; id++ {
			m := <-got
			require.Equal(t, []byte{id}, m.Payload)
			require.Equal(t, packet.QoS1, m.QoS)
		}
	})
}

// TestInboundQoS2ExactlyOnce checks the receiver side of QoS 2
// [MQTT-4.3.3-2]: PUBREC for the PUBLISH, a DUP re-send answered again but
// not delivered again, delivery once at PUBREL, then PUBCOMP.
func TestInboundQoS2ExactlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		got := make(chan *Message, 10)
		c := fakeClient(t, fb, func(o *Options) { o.DefaultHandler = func(m *Message) { got <- m } })
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		pub := &packet.Publish{QoS: 2, PacketID: 9, Topic: "q2", Payload: []byte("once")}
		sc.WritePacket(t, pub)
		sc.WantPacket(t, &packet.Pubrec{PacketID: 9})
		dup := *pub
		dup.Dup = true
		sc.WritePacket(t, &dup)
		sc.WantPacket(t, &packet.Pubrec{PacketID: 9})
		synctest.Wait()
		require.Empty(t, got, "delivered before PUBREL")
		sc.WritePacket(t, &packet.Pubrel{PacketID: 9})
		sc.WantPacket(t, &packet.Pubcomp{PacketID: 9})
		m := <-got
		require.Equal(t, "once", string(m.Payload))
		synctest.Wait()
		require.Empty(t, got, "delivered twice")
	})
}

// TestManualAcksInArrivalOrder checks that with ManualAcks the PUBACKs wait
// for Message.Ack and still leave in arrival order [MQTT-4.6.0-2], however
// the application orders its acks.
func TestManualAcksInArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		got := make(chan *Message, 10)
		c := fakeClient(t, fb, func(o *Options) {
			o.ManualAcks = true
			o.DefaultHandler = func(m *Message) { got <- m }
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		for id := uint16(1); id <= 3; id++ {
			sc.WritePacket(t, &packet.Publish{QoS: 1, PacketID: id, Topic: "m"})
		}
		ms := []*Message{<-got, <-got, <-got}
		ms[2].Ack()
		ms[1].Ack()
		_, err := sc.Next(30 * time.Second)
		require.ErrorIs(t, err, fakebroker.ErrTimeout, "an ack left before the first message was acked")
		ms[0].Ack()
		ms[0].Ack() // idempotent
		for id := uint16(1); id <= 3; id++ {
			sc.WantPacket(t, &packet.Puback{PacketID: id})
		}
	})
}

// TestBlockingHandlerKeepsConnection checks that a handler blocked for
// minutes stalls only delivery: the ack of the message before it leaves,
// PINGREQs keep going out within the keep-alive period [MQTT-3.1.2-23],
// the connection is not declared dead although no PINGRESP can be read,
// and once the handler returns everything is acknowledged in order.
func TestBlockingHandlerKeepsConnection(t *testing.T) {
	for _, withSender := range []bool{false, true} {
		t.Run(map[bool]string{false: "loop-timer", true: "ping-sender"}[withSender], func(t *testing.T) {
			testBlockingHandler(t, withSender)
		})
	}
}

func testBlockingHandler(t *testing.T, withSender bool) {
	synctest.Test(t, func(t *testing.T) {
		var ps *session.TimerPingSender
		if withSender {
			ps = session.NewTimerPingSender()
			defer ps.Stop()
		}
		fb := fakebroker.New(t)
		release := make(chan struct{})
		lost := make(chan error, 1)
		c := fakeClient(t, fb, func(o *Options) {
			o.KeepAlive = 10 * time.Second
			o.PingTimeout = 5 * time.Second
			o.MessageQueue = 1
			if ps != nil {
				o.PingSender = ps
			}
			o.OnConnectionLost = func(err error) { lost <- err }
			o.DefaultHandler = func(m *Message) {
				if string(m.Payload) == "block" {
					<-release
				}
			}
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		sc.Timeout = time.Minute
		sc.WritePacket(t, &packet.Publish{QoS: 1, PacketID: 1, Topic: "t", Payload: []byte("fine")})
		sc.WantPacket(t, &packet.Puback{PacketID: 1})
		sc.WritePacket(t, &packet.Publish{QoS: 1, PacketID: 2, Topic: "t", Payload: []byte("block")})
		for id := uint16(3); id <= 6; id++ {
			sc.WritePacket(t, &packet.Publish{QoS: 1, PacketID: id, Topic: "t"})
		}
		start := time.Now()
		for time.Since(start) < 3*time.Minute {
			sc.WantPacket(t, &packet.Pingreq{})
		}
		select {
		case err := <-lost:
			t.Fatalf("connection lost while the handler blocked: %v", err)
		default:
		}
		close(release)
		for id := uint16(2); id <= 6; id++ {
			p := sc.ReadPacket(t)
			for p.Type() == packet.TypePingreq {
				p = sc.ReadPacket(t)
			}
			require.Equal(t, &packet.Puback{PacketID: id}, p)
		}
		// Keep-alive goes on after the stall.
		sc.WritePacket(t, &packet.Pingresp{})
		for _, p := range sc.Drain() {
			require.Equal(t, packet.TypePingreq, p.Type())
		}
		sc.WantPacket(t, &packet.Pingreq{})
		sc.WritePacket(t, &packet.Pingresp{})
		sc.WantPacket(t, &packet.Pingreq{})
		select {
		case err := <-lost:
			t.Fatalf("connection lost after the stall: %v", err)
		default:
		}
	})
}

// TestSubscribeGrantsAndFailure checks that Subscribe returns the SUBACK
// code of each filter, a 0x80 being a per-filter result and not an error,
// and that the refused filter loses its route.
func TestSubscribeGrantsAndFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, nil)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		type result struct {
			codes []packet.SubackCode
			err   error
		}
		res := make(chan result, 1)
		go func() {
			codes, err := c.Subscribe(context.Background(), func(*Message) {},
				Subscription{Filter: "ok/#", QoS: 2}, Subscription{Filter: "no/#", QoS: 1})
			res <- result{codes, err}
		}()
		sp := sc.WantType(t, packet.TypeSubscribe).(*packet.Subscribe)
		require.Equal(t, []packet.Subscription{{Filter: "ok/#", QoS: 2}, {Filter: "no/#", QoS: 1}}, sp.Subscriptions)
		sc.WritePacket(t, &packet.Suback{PacketID: sp.PacketID, ReturnCodes: []packet.SubackCode{1, packet.SubackFailure}})
		r := <-res
		require.NoError(t, r.err)
		require.Equal(t, []packet.SubackCode{1, packet.SubackFailure}, r.codes)
		require.True(t, c.router.has("ok/#"))
		require.False(t, c.router.has("no/#"))

		errc := make(chan error, 1)
		go func() { errc <- c.Unsubscribe(context.Background(), "ok/#") }()
		up := sc.WantType(t, packet.TypeUnsubscribe).(*packet.Unsubscribe)
		require.Equal(t, []string{"ok/#"}, up.Filters)
		sc.WritePacket(t, &packet.Unsuback{PacketID: up.PacketID})
		require.NoError(t, <-errc)
		require.False(t, c.router.has("ok/#"))
	})
}

// TestArgumentErrors checks that bad topics, filters and QoS are refused
// before anything is sent, with errors matching ErrInvalidArgument and the
// rule of the packet package.
func TestArgumentErrors(t *testing.T) {
	c, err := New(Options{Servers: []string{"tcp://127.0.0.1:1"}})
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	require.ErrorIs(t, c.Publish(ctx, "a/+", 0, false, nil), ErrInvalidArgument)
	require.ErrorIs(t, c.Publish(ctx, "a/+", 0, false, nil), packet.ErrInvalidTopic)
	require.ErrorIs(t, c.Publish(ctx, "", 0, false, nil), packet.ErrInvalidTopic)
	require.ErrorIs(t, c.Publish(ctx, "a", 3, false, nil), packet.ErrInvalidQoS)
	_, err = c.Subscribe(ctx, nil, Subscription{Filter: "a/#/b"})
	require.ErrorIs(t, err, packet.ErrInvalidFilter)
	_, err = c.Subscribe(ctx, nil)
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.ErrorIs(t, c.Unsubscribe(ctx, "+x"), packet.ErrInvalidFilter)
	require.ErrorIs(t, c.Handle("a/#/", nil), ErrInvalidArgument)
	// Not connected, no offline buffer.
	require.ErrorIs(t, c.Publish(ctx, "a", 1, false, nil), ErrNotConnected)
	_, err = c.Subscribe(ctx, nil, Subscription{Filter: "a"})
	require.ErrorIs(t, err, ErrNotConnected)
}
