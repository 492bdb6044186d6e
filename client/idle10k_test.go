//go:build unix

package client

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
)

// BenchmarkIdle10k connects 10,000 idle clients to one mosquitto from this
// process and reports what each costs once they are all up: heap, stack
// and goroutines. It raises the soft file limit to the hard one first (and
// mosquitto inherits it); each iteration is the whole 10,000.
func BenchmarkIdle10k(b *testing.B) {
	benchIdle(b, 10000, false)
}

// BenchmarkIdle10kUsed is BenchmarkIdle10k after use: each client
// subscribes to a topic of its own, publishes one QoS 1 message to it and
// receives it, and only then do all 10,000 sit idle and get measured (after
// two garbage collections, which shrink the goroutine stacks that grew).
// Issue 13's goal is at most 16 KB (heap and stack) per used idle
// connection.
func BenchmarkIdle10kUsed(b *testing.B) {
	benchIdle(b, 10000, true)
}

// BenchmarkIdle1kUsed is BenchmarkIdle10kUsed with 1,000 clients, for a
// quick look.
func BenchmarkIdle1kUsed(b *testing.B) {
	benchIdle(b, 1000, true)
}

// benchIdle connects k clients, uses each once if use is set, and reports
// what each costs while they all sit idle.
func benchIdle(b *testing.B, k int, use bool) {
	if os.Getenv("LINNET_IDLE_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	raiseFileLimit(b, k)
	mq := testbroker.StartMosquitto(b, testbroker.MosquittoConfig{Extra: []string{"max_connections -1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ReportAllocs()
	for range b.N {
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		g0 := runtime.NumGoroutine()
		cs := make([]*Client, 0, k)
		for i := range k {
			id := "idle-" + strconv.Itoa(i)
			c, err := New(Options{Servers: []string{mq.URI()}, ClientID: id})
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Connect(ctx); err != nil {
				b.Fatalf("client %d: %v", i, err)
			}
			if use {
				useOnce(b, ctx, c, id)
			}
			cs = append(cs, c)
		}
		if use {
			time.Sleep(idleRelease + 200*time.Millisecond) // idle: the dispatchers end, the state owners release
			runtime.GC()                                   // a second collection shrinks the stacks that grew
		}
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		heap := float64(ms1.HeapInuse-ms0.HeapInuse) / float64(k)
		stack := float64(ms1.StackInuse-ms0.StackInuse) / float64(k)
		b.ReportMetric(heap, "heapB/conn")
		b.ReportMetric(stack, "stackB/conn")
		b.ReportMetric(heap+stack, "B/conn")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/float64(k), "goroutines/conn")
		if p := os.Getenv("LINNET_IDLE_HEAPPROFILE"); p != "" {
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
		for _, c := range cs {
			c.Close()
		}
	}
}

// useOnce has c subscribe to topic, publish one QoS 1 message to it and
// receive it.
func useOnce(b *testing.B, ctx context.Context, c *Client, topic string) {
	got := make(chan struct{}, 1)
	if _, err := c.Subscribe(ctx, func(*Message) { got <- struct{}{} }, Subscription{Filter: topic, QoS: 1}); err != nil {
		b.Fatal(err)
	}
	if err := c.Publish(ctx, topic, 1, false, []byte("hello, idle")); err != nil {
		b.Fatal(err)
	}
	select {
	case <-got:
	case <-ctx.Done():
		b.Fatal("no message back")
	}
}

// raiseFileLimit raises the soft file limit to the hard one (mosquitto,
// started after, inherits it) and skips b when that is too low for k
// connections.
func raiseFileLimit(b *testing.B, k int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if lim.Max < uint64(k)+200 { // mosquitto, another process, has its own
		b.Skipf("file limit %d is too low for %d connections", lim.Max, k)
	}
}
