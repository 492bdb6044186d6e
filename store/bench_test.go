package store_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/linnet-mqtt/linnet/store"
)

// A QoS 1 PUBLISH of a 64-byte payload to a short topic, as session/ would
// store it under s-<id>.
var benchMsg = make([]byte, 2+2+len("dev/1/telemetry")+2+64)

var benchKeys = func() []string {
	k := make([]string, 1024)
	for i := range k {
		k[i] = "s-" + strconv.Itoa(i+1)
	}
	return k
}()

// openBench opens p for the benchmark's client and closes it at the end.
func openBench(b *testing.B, p store.Persistence) store.Persistence {
	b.Helper()
	if err := p.Open(testClient, testServer); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	return p
}

// benchPutRemove measures a Put and a Remove, the store's share of one
// QoS 1 message.
func benchPutRemove(b *testing.B, p store.Persistence) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := benchKeys[i%len(benchKeys)]
		if err := p.Put(k, benchMsg); err != nil {
			b.Fatal(err)
		}
		if err := p.Remove(k); err != nil {
			b.Fatal(err)
		}
	}
}

// benchGet measures reading back one stored record.
func benchGet(b *testing.B, p store.Persistence) {
	if err := p.Put("s-1", benchMsg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Get("s-1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryPutRemove(b *testing.B) { benchPutRemove(b, openBench(b, store.NewMemory())) }
func BenchmarkMemoryGet(b *testing.B)       { benchGet(b, openBench(b, store.NewMemory())) }

func BenchmarkMemoryAppendValue(b *testing.B) {
	m := store.NewMemory()
	openBench(b, m)
	if err := m.Put("s-1", benchMsg); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = m.AppendValue(buf[:0], "s-1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilePut measures one Put of a new key: a write(2), no fsync.
func BenchmarkFilePut(b *testing.B) {
	f := openBench(b, store.NewFile(store.FileOptions{Dir: b.TempDir()}))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := f.Put("sb-"+strconv.Itoa(i), benchMsg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilePutRemove measures the store's share of one QoS 1 message at
// the process-crash level: a Put and a Remove, no Sync.
func BenchmarkFilePutRemove(b *testing.B) {
	f := store.NewFile(store.FileOptions{Dir: b.TempDir()})
	benchPutRemove(b, openBench(b, f))
	reportFsyncs(b, f)
}

// BenchmarkFilePutSyncRemove measures one QoS 1 message at the power-loss
// level with one publisher: Put, Sync (the publisher waits for it), Remove
// (the acknowledgement, which needs no sync of its own).
func BenchmarkFilePutSyncRemove(b *testing.B) {
	f := store.NewFile(store.FileOptions{Dir: b.TempDir()})
	openBench(b, f)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := benchKeys[i%len(benchKeys)]
		if err := f.Put(k, benchMsg); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := f.Remove(k); err != nil {
			b.Fatal(err)
		}
	}
	reportFsyncs(b, f)
}

// BenchmarkFilePutSyncRemoveParallel is BenchmarkFilePutSyncRemove with
// concurrent publishers (b.RunParallel, GOMAXPROCS goroutines; run with
// -cpu to vary them): their Syncs share fsyncs, which fsyncs/op shows.
func BenchmarkFilePutSyncRemoveParallel(b *testing.B) {
	f := store.NewFile(store.FileOptions{Dir: b.TempDir()})
	openBench(b, f)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := next.Add(1)
		for i := 0; pb.Next(); i++ {
			k := "s-" + strconv.FormatInt(id, 10) + "-" + strconv.Itoa(i%1024)
			if err := f.Put(k, benchMsg); err != nil {
				b.Error(err)
				return
			}
			if err := f.Sync(); err != nil {
				b.Error(err)
				return
			}
			if err := f.Remove(k); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportFsyncs(b, f)
}

// BenchmarkFileWindowSync measures a burst as a client with an in-flight
// window of 20 or 1000 sees it: a whole window of Puts, one Sync covering
// them all (the publishers' waits share it), then the window's Removes as
// the acknowledgements come in. ns/op is per message.
func BenchmarkFileWindowSync(b *testing.B) {
	for _, window := range []int{20, 1000} {
		b.Run("window="+strconv.Itoa(window), func(b *testing.B) {
			f := store.NewFile(store.FileOptions{Dir: b.TempDir()})
			openBench(b, f)
			keys := benchKeys
			if window > len(keys) {
				keys = make([]string, window)
				for i := range keys {
					keys[i] = "s-" + strconv.Itoa(i+1)
				}
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				k := keys[n%window]
				if err := f.Put(k, benchMsg); err != nil {
					b.Fatal(err)
				}
				n++
				if n%window == 0 {
					if err := f.Sync(); err != nil {
						b.Fatal(err)
					}
					for _, k := range keys[:window] {
						if err := f.Remove(k); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			reportFsyncs(b, f)
		})
	}
}

// reportFsyncs adds the fsyncs per operation to the benchmark's figures.
func reportFsyncs(b *testing.B, f *store.File) {
	b.ReportMetric(float64(f.Fsyncs())/float64(b.N), "fsyncs/op")
}

func BenchmarkFileGet(b *testing.B) {
	benchGet(b, openBench(b, store.NewFile(store.FileOptions{Dir: b.TempDir()})))
}
