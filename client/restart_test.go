package client

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
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
