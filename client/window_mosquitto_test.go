package client

import (
	"strconv"
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
// window of 100 this test lost most of them.
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
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			toks := make([]*Token, 0, each)
			for i := range each {
				toks = append(toks, pub.PublishAsync("window/"+strconv.Itoa(w), packet.QoS2, false, []byte(strconv.Itoa(i))))
			}
			for _, tok := range toks {
				if err := tok.Wait(ctx); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		require.NoError(t, <-errs)
	}
	next := make(map[string]int)
	for i := range workers * each {
		select {
		case m := <-got:
			n, err := strconv.Atoi(string(m.Payload))
			require.NoError(t, err)
			require.Equal(t, next[m.Topic], n, "on %s: messages lost", m.Topic)
			next[m.Topic]++
		case <-ctx.Done():
			t.Fatalf("%d of %d messages", i, workers*each)
		}
	}
}
