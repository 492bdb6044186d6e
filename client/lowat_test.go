package client

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
)

// TestLowWater checks the low-water mark the reader's pauses wait for: the
// expected packets times the last batch's average packet size; doubled
// after a pause that the bytes ended, up to lowWaterPackets; set to what a
// pause gathered when its deadline ended it, at least lowWaterMin; never
// more than half the answers due; never above lowWaterMax.
func TestLowWater(t *testing.T) {
	var lw lowWater
	lw.note(4, 4*80, false, false) // four 80-byte PUBLISH packets, no pause
	require.Equal(t, lowWaterStart*80, lw.target(0))
	require.Equal(t, 10*80, lw.target(20), "half the answers due")
	require.Equal(t, 80, lw.target(1), "at least one packet")

	lw.note(16, 16*4, true, true) // sixteen PUBACKs came before the deadline
	require.Equal(t, 32*4, lw.target(0))
	for range 10 {
		lw.note(32, 32*4, true, true)
	}
	require.Equal(t, lowWaterPackets*4, lw.target(0), "capped at lowWaterPackets")
	require.Equal(t, lowWaterPackets*4, lw.target(1000))

	lw.note(7, 7*4, true, false) // the deadline ended it with seven
	require.Equal(t, 7*4, lw.target(0))
	lw.note(1, 4, true, false)
	require.Equal(t, lowWaterMin*4, lw.target(0), "at least lowWaterMin")

	lw.note(3, 3*60000, false, false) // large packets
	require.Equal(t, lowWaterMax, lw.target(0), "capped at lowWaterMax")
	lw.note(0, 0, true, false) // an empty batch changes nothing
	require.Equal(t, lowWaterMax, lw.target(0))
}

// TestLoadOrderTCP publishes QoS 1 and 2 streams from four goroutines at
// once with PublishAsync, with a small and a large in-flight window, to a
// subscriber on the same broker, over TCP to mochi and mosquitto, where the
// readers of both clients pause with the socket's low-water mark (Linux)
// while answers are due or the stream is dense. Every message arrives
// once, and each publisher's messages in the order it published them.
//
// mosquitto acknowledges and drops the incoming QoS 2 messages a client has
// in flight beyond its max_inflight_messages (20 by default), and what
// exceeds max_queued_messages: its instance here has neither limit (see
// TestDefaultWindowMosquitto for its defaults).
func TestLoadOrderTCP(t *testing.T) {
	m := testbroker.StartMochi(t, testbroker.MochiConfig{})
	targets := []brokerTarget{{name: "mochi-tcp", uri: m.URI("tcp")}}
	if _, ok := testbroker.MosquittoPath(); ok {
		mq := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{
			Extra: []string{"max_inflight_messages 0", "max_queued_messages 0"},
		})
		targets = append(targets, brokerTarget{name: "mosquitto-tcp", uri: mq.URI()})
	} else {
		t.Run("mosquitto-tcp", func(t *testing.T) { testbroker.RequireMosquitto(t) }) // skips or fails only this
	}
	for _, b := range targets {
		for _, qos := range []packet.QoS{packet.QoS1, packet.QoS2} {
			for _, window := range []int{20, 1000} {
				name := b.name + "/" + qos.String() + "/window-" + strconv.Itoa(window)
				t.Run(name, func(t *testing.T) {
					ctx := testCtx(t)
					const workers, each = 4, 500
					topic := "load/" + name
					got := make(chan *Message, workers*each)
					sub := b.connected(t, "load-sub-"+name, nil)
					_, err := sub.Subscribe(ctx, func(m *Message) { got <- m }, Subscription{Filter: topic + "/#", QoS: qos})
					require.NoError(t, err)
					pub := b.connected(t, "load-pub-"+name, func(o *Options) { o.MaxInFlight = window })
					publishStreams(t, ctx, pub, topic, qos, workers, each, true)
					wantInOrder(t, ctx, got, workers*each)
					require.NoError(t, pub.Disconnect(ctx))
					require.NoError(t, sub.Disconnect(ctx))
					select {
					case m := <-got:
						t.Fatalf("extra message on %s: %.20q", m.Topic, m.Payload)
					default:
					}
				})
			}
		}
	}
}

// publishStreams publishes each messages to topic/<w> from each of workers
// goroutines w at once, with PublishAsync, then waits for every token. A
// payload is the message's number; with pad, every hundredth (from the
// seventh) is padded with spaces past 8 KiB.
func publishStreams(t *testing.T, ctx context.Context, pub *Client, topic string, qos packet.QoS, workers, each int, pad bool) {
	t.Helper()
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			toks := make([]*Token, 0, each)
			for i := range each {
				payload := []byte(strconv.Itoa(i))
				if pad && i%100 == 7 {
					payload = append(payload, bytes.Repeat([]byte{' '}, 8<<10)...)
				}
				toks = append(toks, pub.PublishAsync(topic+"/"+strconv.Itoa(w), qos, false, payload))
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
}

// wantInOrder receives n messages from got and checks that on each topic
// the payloads (numbers, maybe padded) count up from 0: none lost, none
// repeated, none out of order.
func wantInOrder(t *testing.T, ctx context.Context, got <-chan *Message, n int) {
	t.Helper()
	next := make(map[string]int)
	for i := range n {
		select {
		case m := <-got:
			k, err := strconv.Atoi(string(bytes.TrimRight(m.Payload, " ")))
			require.NoError(t, err)
			require.Equal(t, next[m.Topic], k, "on %s: a message lost, repeated or out of order", m.Topic)
			next[m.Topic]++
		case <-ctx.Done():
			t.Fatalf("%d of %d messages", i, n)
		}
	}
}
