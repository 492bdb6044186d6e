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

func BenchmarkMemoryPutRemove(b *testing.B) {
	m := store.NewMemory()
	if err := m.Open(testClient, testServer); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := benchKeys[i%len(benchKeys)]
		if err := m.Put(k, benchMsg); err != nil {
			b.Fatal(err)
		}
		if err := m.Remove(k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryGet(b *testing.B) {
	m := store.NewMemory()
	if err := m.Open(testClient, testServer); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if err := m.Put("s-1", benchMsg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Get("s-1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryAppendValue(b *testing.B) {
	m := store.NewMemory()
	if err := m.Open(testClient, testServer); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
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
	f := store.NewFile(store.FileOptions{Dir: b.TempDir()})
	if err := f.Open(testClient, testServer); err != nil {
		b.Fatal(err)
	}
	defer f.Close()
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
	f := store.NewFile(store.FileOptions{Dir: b.TempDir()})
	if err := f.Open(testClient, testServer); err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := benchKeys[i%len(benchKeys)]
		if err := f.Put(k, benchMsg); err != nil {
			b.Fatal(err)
		}
		if err := f.Remove(k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFileGet(b *testing.B) {
	f := store.NewFile(store.FileOptions{Dir: b.TempDir()})
	if err := f.Open(testClient, testServer); err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Put("s-1", benchMsg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Get("s-1"); err != nil {
			b.Fatal(err)
		}
	}
}
