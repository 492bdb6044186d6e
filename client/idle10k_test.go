//go:build unix

package client

import (
	"context"
	"runtime"
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
	const k = 10000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if lim.Max < k+200 { // mosquitto, another process, has its own
		b.Skipf("file limit %d is too low for %d connections", lim.Max, k)
	}
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
			c, err := New(Options{Servers: []string{mq.URI()}, ClientID: "idle-" + strconv.Itoa(i)})
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Connect(ctx); err != nil {
				b.Fatalf("client %d: %v", i, err)
			}
			cs = append(cs, c)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(ms1.HeapInuse-ms0.HeapInuse)/k, "heapB/conn")
		b.ReportMetric(float64(ms1.StackInuse-ms0.StackInuse)/k, "stackB/conn")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/k, "goroutines/conn")
		for _, c := range cs {
			c.Close()
		}
	}
}
