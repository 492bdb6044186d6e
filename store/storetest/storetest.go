package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/linnet-mqtt/linnet/store"
)

// Config describes the store under test.
type Config struct {
	// New returns a new, unopened store. A persistent store keeps its
	// records in dir, so a second store made from the same dir sees them.
	New func(t *testing.T, dir string) store.Persistence
	// Persistent says that records survive Close and are seen by a new store
	// over the same dir (the file store), rather than being dropped (the
	// memory store).
	Persistent bool
	// Crash, if set, leaves an open store as the death of its process
	// would: files closed and any lock released, with nothing synced,
	// flushed or cleaned up. The crash checks run only when it is set (and
	// Persistent is true).
	Crash func(s store.Persistence)
}

const (
	clientID  = "storetest-client"
	serverURI = "tcp://127.0.0.1:1883"
)

// Run runs the suite against the store described by cfg.
func Run(t *testing.T, cfg Config) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cfg Config)
	}{
		{"PutGet", testPutGet},
		{"GetMissing", testGetMissing},
		{"Overwrite", testOverwrite},
		{"EmptyValue", testEmptyValue},
		{"Remove", testRemove},
		{"Contains", testContains},
		{"Order", testOrder},
		{"OrderMany", testOrderMany},
		{"Clear", testClear},
		{"Reopen", testReopen},
		{"Isolation", testIsolation},
		{"NotOpen", testNotOpen},
		{"CloseIdempotent", testCloseIdempotent},
		{"OpenTwice", testOpenTwice},
		{"HostileKeys", testHostileKeys},
		{"OddKeys", testOddKeys},
		{"LargeValue", testLargeValue},
		{"Concurrent", testConcurrent},
		{"Sync", testSync},
		{"SyncConcurrent", testSyncConcurrent},
		{"OrderAcrossReopen", testOrderAcrossReopen},
		{"Crash", testCrash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, cfg) })
	}
}

// open makes a store over dir and opens it; the store is closed at the end
// of the test.
func open(t *testing.T, cfg Config, dir, client, server string) store.Persistence {
	t.Helper()
	s := cfg.New(t, dir)
	if err := s.Open(client, server); err != nil {
		t.Fatalf("Open(%q, %q): %v", client, server, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func openDefault(t *testing.T, cfg Config) store.Persistence {
	t.Helper()
	return open(t, cfg, t.TempDir(), clientID, serverURI)
}

func put(t *testing.T, s store.Persistence, key string, data []byte) {
	t.Helper()
	if err := s.Put(key, data); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func wantValue(t *testing.T, s store.Persistence, key string, want []byte) {
	t.Helper()
	got, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func wantKeys(t *testing.T, s store.Persistence, want ...string) {
	t.Helper()
	got, err := s.Keys()
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	if want == nil {
		want = []string{}
	}
	if got == nil {
		got = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Keys() = %q, want %q", got, want)
	}
}

func wantNotFound(t *testing.T, s store.Persistence, key string) {
	t.Helper()
	got, err := s.Get(key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	}
}

func testPutGet(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	in := []byte{0x32, 0x0a, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x07, 'h', 'i', '!'}
	put(t, s, "s-7", in)
	in[0] = 0xff // the store must have kept its own copy
	want := []byte{0x32, 0x0a, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x07, 'h', 'i', '!'}
	wantValue(t, s, "s-7", want)

	got, err := s.Get("s-7")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got[0] = 0xee // the caller owns what Get returns
	got = append(got[:1], 0xdd)
	_ = got
	wantValue(t, s, "s-7", want)
}

func testGetMissing(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	wantNotFound(t, s, "r-1")
	put(t, s, "r-2", []byte("x"))
	wantNotFound(t, s, "r-1")
}

func testOverwrite(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	put(t, s, "s-1", []byte("first value, rather long"))
	put(t, s, "s-1", []byte("second"))
	wantValue(t, s, "s-1", []byte("second"))
	put(t, s, "s-1", []byte("third value, longer than both before"))
	wantValue(t, s, "s-1", []byte("third value, longer than both before"))
	wantKeys(t, s, "s-1")
}

func testEmptyValue(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	put(t, s, "a", nil)
	put(t, s, "b", []byte{})
	for _, k := range []string{"a", "b"} {
		got, err := s.Get(k)
		if err != nil || len(got) != 0 {
			t.Fatalf("Get(%q) = %q, %v; want empty, nil", k, got, err)
		}
	}
}

func testRemove(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	put(t, s, "s-1", []byte("one"))
	put(t, s, "s-2", []byte("two"))
	if err := s.Remove("s-1"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	wantNotFound(t, s, "s-1")
	wantValue(t, s, "s-2", []byte("two"))
	if err := s.Remove("s-1"); err != nil {
		t.Fatalf("Remove of an absent key: %v", err)
	}
	if err := s.Remove("never-there"); err != nil {
		t.Fatalf("Remove of a key never put: %v", err)
	}
	wantKeys(t, s, "s-2")
}

func testContains(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	contains := func(key string, want bool) {
		t.Helper()
		got, err := s.Contains(key)
		if err != nil || got != want {
			t.Fatalf("Contains(%q) = %v, %v; want %v, nil", key, got, err, want)
		}
	}
	contains("sc-3", false)
	put(t, s, "sc-3", []byte{0x62, 0x02, 0x00, 0x03})
	contains("sc-3", true)
	contains("s-3", false)
	if err := s.Remove("sc-3"); err != nil {
		t.Fatal(err)
	}
	contains("sc-3", false)
}

func testOrder(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	// Packet ids wrap around: the order is that of the Puts, not of the keys.
	for _, k := range []string{"s-65535", "s-1", "sc-65534", "r-9", "s-2"} {
		put(t, s, k, []byte(k))
	}
	wantKeys(t, s, "s-65535", "s-1", "sc-65534", "r-9", "s-2")

	// Keys returns a fresh slice each time.
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	keys[0] = "changed"
	wantKeys(t, s, "s-65535", "s-1", "sc-65534", "r-9", "s-2")

	put(t, s, "s-1", []byte("again")) // a Put over an existing key keeps its place
	wantKeys(t, s, "s-65535", "s-1", "sc-65534", "r-9", "s-2")

	if err := s.Remove("s-65535"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "s-65535", []byte("back")) // removed and put again: now last
	wantKeys(t, s, "s-1", "sc-65534", "r-9", "s-2", "s-65535")
	wantValue(t, s, "s-1", []byte("again"))
}

func testOrderMany(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	var want []string
	for i := range 300 {
		k := fmt.Sprintf("sb-%d", (i*7919)%1000) // not sorted in any obvious way
		put(t, s, k, []byte(k))
		want = append(want, k)
	}
	wantKeys(t, s, want...)
	if cfg.Persistent {
		dir := t.TempDir()
		s1 := cfg.New(t, dir)
		if err := s1.Open(clientID, serverURI); err != nil {
			t.Fatal(err)
		}
		for _, k := range want {
			put(t, s1, k, []byte(k))
		}
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		s2 := open(t, cfg, dir, clientID, serverURI)
		wantKeys(t, s2, want...)
	}
}

func testClear(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	put(t, s, "s-1", []byte("1"))
	put(t, s, "r-2", []byte("2"))
	if err := s.Clear(); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	wantKeys(t, s)
	wantNotFound(t, s, "s-1")
	if ok, err := s.Contains("r-2"); ok || err != nil {
		t.Fatalf("Contains after Clear = %v, %v", ok, err)
	}
	put(t, s, "r-2", []byte("new"))
	put(t, s, "s-1", []byte("new"))
	wantKeys(t, s, "r-2", "s-1")
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(); err != nil {
		t.Fatalf("Clear of an empty store: %v", err)
	}
}

func testReopen(t *testing.T, cfg Config) {
	dir := t.TempDir()
	s := cfg.New(t, dir)
	if err := s.Open(clientID, serverURI); err != nil {
		t.Fatal(err)
	}
	put(t, s, "s-9", []byte("nine"))
	put(t, s, "s-3", []byte("three"))
	put(t, s, "r-1", []byte("one"))
	put(t, s, "s-9", []byte("nine again"))
	if err := s.Remove("s-3"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The same store value can be opened again.
	if err := s.Open(clientID, serverURI); err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if cfg.Persistent {
		wantKeys(t, s, "s-9", "r-1")
	} else {
		wantKeys(t, s)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, cfg, dir, clientID, serverURI)
	if !cfg.Persistent {
		wantKeys(t, s2)
		return
	}
	wantKeys(t, s2, "s-9", "r-1")
	wantValue(t, s2, "s-9", []byte("nine again"))
	wantValue(t, s2, "r-1", []byte("one"))
	wantNotFound(t, s2, "s-3")
	// New keys go after the old ones; a re-put keeps its place.
	put(t, s2, "s-3", []byte("three"))
	put(t, s2, "s-9", []byte("nine, third time"))
	wantKeys(t, s2, "s-9", "r-1", "s-3")
}

func testIsolation(t *testing.T, cfg Config) {
	dir := t.TempDir()
	a := open(t, cfg, dir, "client-a", serverURI)
	b := open(t, cfg, dir, "client-b", serverURI)
	c := open(t, cfg, dir, "client-a", "ssl://127.0.0.1:8883")
	put(t, a, "s-1", []byte("a"))
	put(t, b, "s-1", []byte("b"))
	wantValue(t, a, "s-1", []byte("a"))
	wantValue(t, b, "s-1", []byte("b"))
	wantKeys(t, c)
	if err := b.Clear(); err != nil {
		t.Fatal(err)
	}
	wantValue(t, a, "s-1", []byte("a"))
}

func testNotOpen(t *testing.T, cfg Config) {
	s := cfg.New(t, t.TempDir())
	check := func(when string) {
		t.Helper()
		errs := map[string]error{}
		errs["Put"] = s.Put("s-1", []byte("x"))
		_, errs["Get"] = s.Get("s-1")
		errs["Remove"] = s.Remove("s-1")
		_, errs["Keys"] = s.Keys()
		_, errs["Contains"] = s.Contains("s-1")
		errs["Clear"] = s.Clear()
		for name, err := range errs {
			if !errors.Is(err, store.ErrClosed) {
				t.Errorf("%s %s: err = %v, want ErrClosed", name, when, err)
			}
		}
	}
	check("before Open")
	if err := s.Open(clientID, serverURI); err != nil {
		t.Fatal(err)
	}
	put(t, s, "s-1", []byte("x"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("after Close")
}

func testCloseIdempotent(t *testing.T, cfg Config) {
	s := cfg.New(t, t.TempDir())
	if err := s.Close(); err != nil {
		t.Fatalf("Close before Open: %v", err)
	}
	if err := s.Open(clientID, serverURI); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
}

func testOpenTwice(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	if err := s.Open(clientID, serverURI); !errors.Is(err, store.ErrAlreadyOpen) {
		t.Fatalf("second Open: err = %v, want ErrAlreadyOpen", err)
	}
	put(t, s, "s-1", []byte("still usable"))
	wantValue(t, s, "s-1", []byte("still usable"))
}

func testHostileKeys(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	put(t, s, "s-1", []byte("keep"))
	hostile := []string{
		"", "/", "a/b", "../s-1", `a\b`, `..\..\x`, "a\x00b", "\x00",
		".", "..", "...", strings.Repeat("k", store.MaxKeyLen+1), strings.Repeat("/", 4096),
	}
	for _, k := range hostile {
		var ke *store.KeyError
		err := s.Put(k, []byte("x"))
		if !errors.Is(err, store.ErrInvalidKey) || !errors.As(err, &ke) {
			t.Errorf("Put(%q): err = %v, want a *KeyError", k, err)
		}
		if _, err := s.Get(k); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Get(%q): err = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Remove(k); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Remove(%q): err = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Contains(k); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Contains(%q): err = %v, want ErrInvalidKey", k, err)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("error for a %d-byte key is %d bytes long", len(k), len(err.Error()))
		}
	}
	wantKeys(t, s, "s-1")
	wantValue(t, s, "s-1", []byte("keep"))
}

// testOddKeys puts keys that are valid but awkward as file names: they must
// all be distinct records.
func testOddKeys(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	keys := []string{
		"a", "A", "%41", "%", "%%", "a.", "a..", ".a", "con", "CON", "nul.txt", "with space",
		"colon:key", "ünïcödé", "\xff\xfe", "~", "a~0123", "lock", "quarantine", "x.rec", "x.rec.tmp", "x.tmp",
		"-", "_", strings.Repeat("k", store.MaxKeyLen), strings.Repeat("K", store.MaxKeyLen),
		strings.Repeat("%", store.MaxKeyLen), strings.Repeat("%", store.MaxKeyLen-1) + ".",
	}
	for i, k := range keys {
		put(t, s, k, []byte(fmt.Sprint(i)))
	}
	for i, k := range keys {
		wantValue(t, s, k, []byte(fmt.Sprint(i)))
	}
	wantKeys(t, s, keys...)
	if cfg.Persistent {
		dir := t.TempDir()
		s1 := cfg.New(t, dir)
		if err := s1.Open(clientID, serverURI); err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			put(t, s1, k, []byte(fmt.Sprint(i)))
		}
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		s2 := open(t, cfg, dir, clientID, serverURI)
		wantKeys(t, s2, keys...)
		for i, k := range keys {
			wantValue(t, s2, k, []byte(fmt.Sprint(i)))
		}
	}
}

func testLargeValue(t *testing.T, cfg Config) {
	s := openDefault(t, cfg)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 31)
	}
	put(t, s, "s-1", big)
	wantValue(t, s, "s-1", big)
}
