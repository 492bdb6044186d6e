package client

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
)

// TestDefaultWindowMosquitto publishes bursts of QoS 2 messages from four
// goroutines with default options through mosquitto with its default
// configuration, and checks that all arrive, in order per publisher.
// mosquitto acknowledges and drops incoming QoS 2 messages beyond its
// max_inflight_messages (20 by default) from one client: with a default
// window of 100 this test lost messages.
func TestDefaultWindowMosquitto(t *testing.T) {
	testbroker.RequireMosquitto(t)
	mq := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{})
	b := brokerTarget{name: "mosquitto-default", uri: mq.URI()}
	ctx := testCtx(t)
	const workers, each = 4, 250
	got := make(chan *Message, workers*each)
	sub := b.connected(t, "window-sub", nil)
	_, err := sub.Subscribe(ctx, func(m *Message) { got <- m }, Subscription{Filter: "window/#", QoS: 2})
	require.NoError(t, err)
	pub := b.connected(t, "window-pub", nil)
	require.Equal(t, DefaultMaxInFlight, pub.Options().MaxInFlight)
	publishStreams(t, ctx, pub, "window", packet.QoS2, workers, each, false)
	wantInOrder(t, ctx, got, workers*each)
}
