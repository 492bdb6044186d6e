package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/linnet-mqtt/linnet/store"
)

// The cases of the suite about concurrency and durability: concurrent use,
// Sync, the order of keys across reopens, and a crash.

func testConcurrent(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	const workers, perWorker = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker*4)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				key := fmt.Sprintf("s-%d", w*1000+i)
				val := []byte(key)
				if err := s.Put(key, val); err != nil {
					errs <- err
					continue
				}
				if got, err := s.Get(key); err != nil || !bytes.Equal(got, val) {
					errs <- fmt.Errorf("Get(%q) = %q, %v", key, got, err)
				}
				if _, err := s.Keys(); err != nil {
					errs <- err
				}
				if _, err := s.Contains(key); err != nil {
					errs <- err
				}
				if i%2 == 1 {
					if err := s.Remove(key); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != workers*perWorker/2 {
		t.Fatalf("%d keys left, want %d", len(keys), workers*perWorker/2)
	}
	// Each worker's keys stay in the order that worker put them.
	last := map[int]int{}
	for _, k := range keys {
		var n int
		if _, err := fmt.Sscanf(k, "s-%d", &n); err != nil {
			t.Fatalf("unexpected key %q", k)
		}
		if prev, ok := last[n/1000]; ok && prev >= n%1000 {
			t.Fatalf("keys out of order: %q", keys)
		}
		last[n/1000] = n % 1000
		if n%2 == 1 {
			t.Fatalf("removed key %q still listed", k)
		}
	}
}

// testSync checks the Syncer contract for stores that implement it: Sync
// after changes succeeds, covers them (they survive a reopen) and fails with
// ErrClosed on a store that is not open.
func testSync(t *testing.T, cfg Config) {
	dir := t.TempDir()
	s := cfg.New(t, dir)
	syncer, ok := s.(store.Syncer)
	if !ok {
		t.Skip("the store does not implement store.Syncer")
	}
	if err := syncer.Sync(); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Sync before Open: err = %v, want ErrClosed", err)
	}
	if err := s.Open(clientID, serverURI); err != nil {
		t.Fatal(err)
	}
	if err := syncer.Sync(); err != nil {
		t.Fatalf("Sync with nothing to sync: %v", err)
	}
	put(t, s, "s-1", []byte("one"))
	put(t, s, "s-2", []byte("two"))
	if err := syncer.Sync(); err != nil {
		t.Fatalf("Sync after Put: %v", err)
	}
	if err := s.Remove("s-1"); err != nil {
		t.Fatal(err)
	}
	if err := syncer.Sync(); err != nil {
		t.Fatalf("Sync after Remove: %v", err)
	}
	if err := syncer.Sync(); err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syncer.Sync(); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Sync after Close: err = %v, want ErrClosed", err)
	}
	if cfg.Persistent {
		s2 := open(t, cfg, dir, clientID, serverURI)
		wantKeys(t, s2, "s-2")
		wantValue(t, s2, "s-2", []byte("two"))
	}
}

// testSyncConcurrent runs Put, Remove and Sync from many goroutines at once.
func testSyncConcurrent(t *testing.T, cfg Config) {
	dir := t.TempDir()
	s := cfg.New(t, dir)
	syncer, ok := s.(store.Syncer)
	if !ok {
		t.Skip("the store does not implement store.Syncer")
	}
	if err := s.Open(clientID, serverURI); err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker*3)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				key := fmt.Sprintf("s-%d", w*1000+i)
				if err := s.Put(key, []byte(key)); err != nil {
					errs <- err
				}
				if err := syncer.Sync(); err != nil {
					errs <- fmt.Errorf("Sync: %w", err)
				}
				if i%3 != 0 {
					if err := s.Remove(key); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if cfg.Persistent {
		s2 := open(t, cfg, dir, clientID, serverURI)
		keys, err := s2.Keys()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != workers*perWorker/3 {
			t.Fatalf("%d keys after reopen, want %d", len(keys), workers*perWorker/3)
		}
	}
}

// testOrderAcrossReopen: the insertion order, with re-puts (keep their
// place) and remove-then-put (goes last), is the same after Close and Open
// as before, and new keys go after it.
func testOrderAcrossReopen(t *testing.T, cfg Config) {
	if !cfg.Persistent {
		t.Skip("the store does not keep records across Close")
	}
	dir := t.TempDir()
	s := cfg.New(t, dir)
	if err := s.Open(clientID, serverURI); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"s-65534", "s-65535", "sc-65533", "s-1", "r-4", "sb-9"} {
		put(t, s, k, []byte(k))
	}
	put(t, s, "s-65534", []byte("again"))
	if err := s.Remove("s-65535"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "s-65535", []byte("back"))
	want := []string{"s-65534", "sc-65533", "s-1", "r-4", "sb-9", "s-65535"}
	wantKeys(t, s, want...)
	for range 2 {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Open(clientID, serverURI); err != nil {
			t.Fatal(err)
		}
		wantKeys(t, s, want...)
	}
	wantValue(t, s, "s-65534", []byte("again"))
	wantValue(t, s, "s-65535", []byte("back"))
	put(t, s, "s-2", nil)
	wantKeys(t, s, append(want, "s-2")...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// testCrash: after a crash (Config.Crash), every Put that returned is back
// with its value and in its place. A record removed before the crash may come
// back (a store that syncs lazily can lose a Remove; session/ copes with
// the duplicate), but only with its last value and in its old place, and it
// never costs another record.
func testCrash(t *testing.T, cfg Config) {
	if cfg.Crash == nil || !cfg.Persistent {
		t.Skip("Config.Crash not set")
	}
	dir := t.TempDir()
	s := cfg.New(t, dir)
	if err := s.Open(clientID, serverURI); err != nil {
		t.Fatal(err)
	}
	order := []string{"s-9", "s-10", "sc-3", "r-2", "sb-1"}
	for _, k := range order {
		put(t, s, k, []byte("v1 "+k))
	}
	if syncer, ok := s.(store.Syncer); ok {
		if err := syncer.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	put(t, s, "sc-3", []byte("v2 sc-3"))
	for _, k := range []string{"s-10", "sb-1"} {
		if err := s.Remove(k); err != nil {
			t.Fatal(err)
		}
	}
	put(t, s, "s-11", []byte("v1 s-11"))
	cfg.Crash(s)

	s2 := open(t, cfg, dir, clientID, serverURI)
	last := map[string]string{"s-9": "v1 s-9", "s-10": "v1 s-10", "sc-3": "v2 sc-3", "r-2": "v1 r-2", "sb-1": "v1 sb-1", "s-11": "v1 s-11"}
	removed := map[string]bool{"s-10": true, "sb-1": true}
	got, err := s2.Keys()
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, k := range got {
		if !removed[k] {
			kept = append(kept, k)
		}
		wantValue(t, s2, k, []byte(last[k]))
	}
	if want := []string{"s-9", "sc-3", "r-2", "s-11"}; !slices.Equal(kept, want) {
		t.Fatalf("Keys() after a crash = %q; want %q, with s-10 and sb-1 allowed in their old places", got, want)
	}
	full := append(slices.Clone(order), "s-11")
	if !isSubsequence(got, full) {
		t.Fatalf("Keys() after a crash = %q, not in the order %q", got, full)
	}
}

func isSubsequence(sub, of []string) bool {
	i := 0
	for _, k := range of {
		if i < len(sub) && sub[i] == k {
			i++
		}
	}
	return i == len(sub)
}
