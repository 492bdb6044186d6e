package client

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
)

// benchPair starts mochi in process and returns a connected publisher and
// a subscriber whose handler sends on got.
func benchPair(b *testing.B, qos packet.QoS, got chan<- struct{}) (*Client, context.Context) {
	b.Helper()
	m := testbroker.StartMochi(b, testbroker.MochiConfig{})
	t := brokerTarget{"mochi", m.URI("tcp"), nil}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	sub := t.connected(b, "bench-sub", func(o *Options) { o.MessageQueue = 4096 })
	if _, err := sub.Subscribe(ctx, func(*Message) { got <- struct{}{} }, Subscription{Filter: "bench", QoS: qos}); err != nil {
		b.Fatal(err)
	}
	pub := t.connected(b, "bench-pub", func(o *Options) { o.MaxInFlight = 1000 })
	return pub, ctx
}

// BenchmarkThroughput publishes 64-byte messages through mochi with up to
// 1,000 in flight and counts them at the subscriber: ns/op is the time per
// delivered message.
func BenchmarkThroughput(b *testing.B) {
	payload := make([]byte, 64)
	for qos := packet.QoS0; qos <= packet.QoS2; qos++ {
		b.Run(qos.String(), func(b *testing.B) {
			got := make(chan struct{}, 8192)
			pub, ctx := benchPair(b, qos, got)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 0; i < b.N; i++ {
					select {
					case <-got:
					case <-ctx.Done():
						return
					}
				}
			}()
			window := make(chan *Token, 1000)
			go func() {
				for i := 0; i < b.N; i++ {
					window <- pub.PublishAsync("bench", qos, false, payload)
				}
				close(window)
			}()
			for tok := range window {
				if err := tok.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
			<-done
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
		})
	}
}

// BenchmarkRoundTripQoS1 measures publish-to-delivery of one QoS 1 message
// at a time through mochi.
func BenchmarkRoundTripQoS1(b *testing.B) {
	got := make(chan struct{}, 1)
	pub, ctx := benchPair(b, 1, got)
	payload := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := pub.Publish(ctx, "bench", 1, false, payload); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

// BenchmarkIdleConnection reports the heap and goroutines one idle
// connected client costs (at most 500 clients per run, to stay under the
// file limit; the heap figure includes the in-process broker's side).
func BenchmarkIdleConnection(b *testing.B) {
	m := testbroker.StartMochi(b, testbroker.MochiConfig{})
	t := brokerTarget{"mochi", m.URI("tcp"), nil}
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	g0 := clientGoroutines()
	n := min(b.N, 500)
	for i := 0; i < n; i++ {
		t.connected(b, "", nil)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/float64(n), "heapB/conn")
	b.ReportMetric(float64(clientGoroutines()-g0)/float64(n), "goroutines/conn")
}
