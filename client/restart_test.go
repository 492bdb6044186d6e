package client

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
)

// TestBrokerRestartPersistentSession checks a persistent session across a
// restart of mosquitto with persistence: QoS 1 messages queued for an
// absent subscriber, and QoS 1 messages a publisher held in its offline
// buffer while the broker was down, all reach the subscriber when it comes
// back with the same client id and CleanSession=0; its CONNACK says the
// session is present, and the routes set before Connect take the messages.
func TestBrokerRestartPersistentSession(t *testing.T) {
	mq := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{Persistence: true})
	b := brokerTarget{"mosquitto", mq.URI(), nil}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	persistent := func(o *Options) {
		o.PersistentSession = true
		o.AutoReconnect = true
		o.OfflineBuffer = 100
		o.Backoff = Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	}

	sub := b.connected(t, "restart-sub", persistent)
	_, err := sub.Subscribe(ctx, nil, Subscription{Filter: "restart/#", QoS: 1})
	require.NoError(t, err)
	require.NoError(t, sub.Disconnect(ctx))

	reconnected := make(chan ConnectInfo, 4)
	pub := b.connected(t, "restart-pub", func(o *Options) {
		persistent(o)
		o.OnConnect = func(i ConnectInfo) { reconnected <- i }
	})
	<-reconnected
	for i := 0; i < 10; i++ {
		require.NoError(t, pub.Publish(ctx, "restart/a", 1, false, []byte(strconv.Itoa(i))))
	}
	mq.Stop()
	var toks []*Token
	for i := 10; i < 20; i++ {
		toks = append(toks, pub.PublishAsync("restart/a", 1, false, []byte(strconv.Itoa(i))))
	}
	mq.Restart()
	info := <-reconnected
	require.True(t, info.Reconnect)
	require.True(t, info.SessionPresent)
	for _, tok := range toks {
		require.NoError(t, tok.Wait(ctx))
	}

	got := make(chan string, 40)
	infos := make(chan ConnectInfo, 1)
	sub2 := b.client(t, "restart-sub", func(o *Options) {
		persistent(o)
		o.OnConnect = func(i ConnectInfo) { infos <- i }
	})
	require.NoError(t, sub2.Handle("restart/#", func(m *Message) { got <- string(m.Payload) }))
	require.NoError(t, sub2.Connect(ctx))
	require.True(t, (<-infos).SessionPresent)
	seen := map[string]bool{}
	for len(seen) < 20 {
		select {
		case p := <-got:
			seen[p] = true
		case <-ctx.Done():
			t.Fatalf("only %d of 20 messages after the restart: %v", len(seen), seen)
		}
	}
}

// TestRestoredTokens checks RestoredTokens: the QoS 1 and 2 messages a
// first client left in flight (one QoS 2 past PUBREC) come back in a new
// client on the same file store as tokens with their packet ids, PUBREL
// stage first; after the resend on a resumed session [MQTT-4.4.0-1] they
// complete at the PUBCOMP and the PUBACK, never before, and
// OnDeliveryComplete reports them too.
func TestRestoredTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		fb := fakebroker.New(t)
		persist := func(o *Options) {
			o.PersistentSession = true
			o.Persistence = store.NewFile(store.FileOptions{Dir: dir})
		}
		first := fakeClient(t, fb, persist)
		sc, _ := connectFake(t, first, fb, &packet.Connack{})
		t1 := first.PublishAsync("a", 1, false, []byte("one"))
		t2 := first.PublishAsync("b", 2, false, []byte("two"))
		p1 := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		p2 := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		sc.WritePacket(t, &packet.Pubrec{PacketID: p2.PacketID})
		sc.WantPacket(t, &packet.Pubrel{PacketID: p2.PacketID})
		require.Empty(t, first.RestoredTokens(), "nothing was in the store at New")
		require.NoError(t, first.Close())
		require.ErrorIs(t, t1.Err(), ErrClosed)
		require.ErrorIs(t, t2.Err(), ErrClosed)
		sc.WantClosed(t)

		deliveries := make(chan Delivery, 2)
		second := fakeClient(t, fb, func(o *Options) {
			persist(o)
			o.OnDeliveryComplete = func(d Delivery) { deliveries <- d }
		})
		toks := second.RestoredTokens()
		require.Len(t, toks, 2)
		require.Equal(t, p2.PacketID, toks[0].MessageID())
		require.Equal(t, p1.PacketID, toks[1].MessageID())
		toks[0] = nil // the returned slice is a copy
		require.NotNil(t, second.RestoredTokens()[0])
		toks = second.RestoredTokens()

		sc2, _ := connectFake(t, second, fb, &packet.Connack{SessionPresent: true})
		sc2.WantPacket(t, &packet.Pubrel{PacketID: p2.PacketID})
		again := sc2.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, p1.PacketID, again.PacketID)
		require.True(t, again.Dup)
		synctest.Wait()
		for _, tok := range toks {
			require.False(t, isDone(tok), "a restored token completed before its ack")
		}
		sc2.WritePacket(t, &packet.Pubcomp{PacketID: p2.PacketID})
		require.NoError(t, toks[0].Wait(context.Background()))
		synctest.Wait()
		require.False(t, isDone(toks[1]))
		sc2.WritePacket(t, &packet.Puback{PacketID: p1.PacketID})
		require.NoError(t, toks[1].Wait(context.Background()))
		got := []Delivery{<-deliveries, <-deliveries}
		require.Equal(t, []Delivery{{Topic: "", QoS: 2, MessageID: p2.PacketID}, {Topic: "a", QoS: 1, MessageID: p1.PacketID}}, got)
		require.NoError(t, second.Close())
	})
}
