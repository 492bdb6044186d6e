package storetest_test

import (
	"sync/atomic"
	"testing"

	"github.com/linnet-mqtt/linnet/store"
	"github.com/linnet-mqtt/linnet/store/storetest"
)

// countingStore stands for a store of your own: here the file store with a
// count of its writes, but any store.Persistence is checked the same way.
type countingStore struct {
	store.Persistence
	puts atomic.Int64
}

func (s *countingStore) Put(key string, data []byte) error {
	s.puts.Add(1)
	return s.Persistence.Put(key, data)
}

// testCountingStore is what you write in your own package, as
// func TestCountingStore(t *testing.T).
func testCountingStore(t *testing.T) {
	storetest.Run(t, storetest.Config{
		New: func(_ *testing.T, dir string) store.Persistence {
			return &countingStore{Persistence: store.NewFile(store.FileOptions{Dir: dir})}
		},
		Persistent: true, // a new store over the same dir sees the records
	})
}

// ExampleRun shows how a store of your own is checked: call storetest.Run
// from a test function with a Config that makes your store. Run needs the
// *testing.T of a real test, so this example has no Output comment: go test
// compiles it but does not run it. TestExampleRun below runs the same
// function, so the code shown here is exercised on every test run.
func ExampleRun() {
	// In your package:
	//
	//	func TestCountingStore(t *testing.T) { testCountingStore(t) }
	_ = testCountingStore
}

// TestExampleRun runs the suite over the store of ExampleRun.
func TestExampleRun(t *testing.T) { testCountingStore(t) }
