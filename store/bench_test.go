package store_test

import (
	"strconv"
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

// BenchmarkFilePut measures one durable Put of a new key: write, fsync,
// rename, fsync of the directory. It is bound by the storage device.
func BenchmarkFilePut(b *testing.B) {
	f := openBench(b, store.NewFile(store.FileOptions{Dir: b.TempDir()}))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := f.Put("sb-"+strconv.Itoa(i), benchMsg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilePutRemove measures the store's share of one QoS 1 message:
// a durable Put and a durable Remove.
func BenchmarkFilePutRemove(b *testing.B) {
	benchPutRemove(b, openBench(b, store.NewFile(store.FileOptions{Dir: b.TempDir()})))
}

func BenchmarkFileGet(b *testing.B) {
	benchGet(b, openBench(b, store.NewFile(store.FileOptions{Dir: b.TempDir()})))
}
