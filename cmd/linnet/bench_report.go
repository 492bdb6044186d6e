package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

// libraryPrefix names the frames of linnet's library packages (the command
// itself is package main, and the embedded broker is mochi's code).
const libraryPrefix = "github.com/linnet-mqtt/linnet/"

// footprint returns the goroutines and live heap bytes of the process, and
// those that belong to linnet's library packages: goroutines created by
// them, and heap objects allocated under one of their frames.
func footprint() (goroutines, heap, clientGoroutines, clientHeap int64) {
	// The heap profile reflects the state as of the last completed GC
	// cycle but one; three cycles make it current.
	for range 3 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = int64(ms.HeapAlloc)
	goroutines = int64(runtime.NumGoroutine())

	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if _, created, ok := strings.Cut(g, "\ncreated by "); ok && strings.HasPrefix(created, libraryPrefix) {
			clientGoroutines++
		}
	}

	var recs []runtime.MemProfileRecord
	for {
		n, ok := runtime.MemProfile(recs, false)
		if ok {
			recs = recs[:n]
			break
		}
		recs = make([]runtime.MemProfileRecord, n+64)
	}
	for i := range recs {
		r := &recs[i]
		if r.InUseBytes() == 0 {
			continue
		}
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if strings.HasPrefix(f.Function, libraryPrefix) {
				clientHeap += r.InUseBytes()
				break
			}
			if !more {
				break
			}
		}
	}
	return goroutines, heap, clientGoroutines, clientHeap
}

func (b *bench) showProgress(format string, args ...any) {
	if b.progress {
		fmt.Fprintf(b.out, "\r\033[K"+format, args...)
	}
}

func (b *bench) clearProgress() {
	if b.progress {
		fmt.Fprint(b.out, "\r\033[K")
	}
}

func printBench(w io.Writer, r *benchResult) {
	c := r.Config
	broker := r.Broker
	if r.Embedded {
		broker += " (embedded mochi-mqtt)"
	}
	fmt.Fprintf(w, "broker      %s\n", broker)
	if t := r.Throughput; t != nil {
		fmt.Fprintf(w, "\nthroughput  QoS %d, %d-byte payloads, %d publisher(s), %d subscriber(s), in-flight window %d\n",
			c.QoS, c.Size, c.Publishers, c.Subs, c.Window)
		note := ""
		if t.StoppedByTime {
			note = " (stopped by -duration)"
		}
		fmt.Fprintf(w, "  published %10d msgs in %7.3f s  %10.0f msg/s  %8.2f MB/s%s\n",
			t.Published, t.PublishSecs, t.PublishRate, t.PublishMBps, note)
		if c.Subs > 0 {
			fmt.Fprintf(w, "  received  %10d msgs in %7.3f s  %10.0f msg/s  %8.2f MB/s  lost %d of %d\n",
				t.Received, t.ReceiveSecs, t.ReceiveRate, t.ReceiveMBps, t.Lost, t.Expected)
		}
	}
	if l := r.Latency; l != nil {
		fmt.Fprintf(w, "\nlatency     %d round trips at QoS %d, publish to delivery, in µs\n", l.Count, c.QoS)
		fmt.Fprintf(w, "  %9s %9s %9s %9s %9s %9s %9s\n", "min", "p50", "p90", "p99", "p99.9", "max", "mean")
		fmt.Fprintf(w, "  %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f\n", l.MinUs, l.P50Us, l.P90Us, l.P99Us, l.P999, l.MaxUs, l.Mean)
	}
	if i := r.Idle; i != nil {
		fmt.Fprintf(w, "\nidle        %d connections, per connection\n", i.Connections)
		fmt.Fprintf(w, "  linnet client  %6.2f goroutines  %9.0f heap bytes\n", i.ClientGoroutinesPer, i.ClientHeapBytesPer)
		note := ""
		if i.ProcessIncludesBroker {
			note = "  (includes the embedded broker's side)"
		}
		fmt.Fprintf(w, "  whole process  %6.2f goroutines  %9.0f heap bytes%s\n", i.ProcessGoroutinesPer, i.ProcessHeapBytesPer, note)
	}
}

// lossWarning names the likely cause of messages lost in the throughput
// phase, or returns "" when none was lost.
func lossWarning(r *throughputResult, q packet.QoS, window int) string {
	if r.Lost == 0 {
		return ""
	}
	w := fmt.Sprintf("%d of %d messages (%.1f%%) were not received", r.Lost, r.Expected, 100*float64(r.Lost)/float64(r.Expected))
	if q == 0 {
		return w + "; at QoS 0 a broker drops what it cannot queue for a slow subscriber " +
			"(mosquitto: max_queued_messages, 1000 by default); try -q 1, fewer -pubs or more -subs"
	}
	w += "; the likely cause is the broker's limit on messages in flight from one client"
	if window > client.DefaultMaxInFlight {
		w += fmt.Sprintf(": -inflight %d is above mosquitto's default max_inflight_messages of 20, past which it "+
			"acknowledges and drops QoS 1 and 2 messages; use -inflight 20 or raise the broker's limit", window)
	} else {
		w += " or on queued messages (mosquitto: max_inflight_messages, max_queued_messages)"
	}
	return w
}

// idle connects n clients and measures what they hold while idle.
func (b *bench) idle(ctx context.Context, n int) (*idleResult, error) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1 // every allocation, so the per-connection heap is exact
	defer func() { runtime.MemProfileRate = old }()

	g0, h0, cg0, ch0 := footprint()
	clients := make([]*client.Client, 0, n)
	defer func() { closeAll(clients) }()
	for i := range n {
		c, err := b.connect(ctx, fmt.Sprintf("idle-%d", i), nil)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
		if i%50 == 0 {
			b.showProgress("idle connections %d/%d", i, n)
		}
	}
	b.clearProgress()
	g1, h1, cg1, ch1 := footprint()
	per := func(a, b int64) float64 { return float64(b-a) / float64(n) }
	return &idleResult{Connections: n,
		ClientGoroutinesPer: per(cg0, cg1), ClientHeapBytesPer: per(ch0, ch1),
		ProcessGoroutinesPer: per(g0, g1), ProcessHeapBytesPer: per(h0, h1)}, nil
}
