// Package leaktest checks that a test binary leaves no goroutines behind.
//
// Packages that start goroutines call it from TestMain:
//
//	func TestMain(m *testing.M) { leaktest.Main(m) }
//
// After every test has run, Main compares the goroutines still alive with
// those that existed before the tests started. Goroutines that are winding
// down (a closed connection whose reader has not returned yet) get a bounded
// grace period: the check is retried with a growing pause for up to
// five seconds before it reports the leftovers and fails the binary.
//
// It is a check, not a synchronisation primitive: no test relies on the
// pause for its own result.
package leaktest

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// ignored holds substrings of goroutine stacks that belong to the runtime,
// the testing package or long-lived standard library helpers, not to the
// code under test.
var ignored = []string{
	"testing.(*M).",
	"testing.tRunner",
	"testing.(*T).Run",
	"testing.(*F).Fuzz",
	"testing.runFuzzing",
	"testing.runFuzzTests",
	"runtime.goexit0",
	"created by runtime.gc",
	"runtime.MHeap_Scavenger",
	"signal.signal_recv",
	"os/signal.loop",
	"runtime.ensureSigM",
	"net/http.(*persistConn)",
	"testing/synctest.",
	"internal/synctest.",
	"go.opencensus.io",
	"runtime/trace.Start",
	"crypto/tls.(*Conn).Close.func", // bounded close-notify write helper in crypto/tls
}

// Main runs the tests of m and then fails the binary if goroutines started by
// the tests are still running.
func Main(m *testing.M) {
	before := snapshot()
	code := m.Run()
	if code == 0 {
		if leaked := Leftovers(before, 5*time.Second); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "leaktest: %d goroutine(s) still running after the tests:\n\n%s\n",
				len(leaked), strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// Check fails t if, by the end of the test, goroutines started during it are
// still running. Call it first in a test: defer leaktest.Check(t)().
func Check(t testing.TB) func() {
	t.Helper()
	before := snapshot()
	return func() {
		t.Helper()
		if leaked := Leftovers(before, 5*time.Second); len(leaked) > 0 {
			t.Errorf("leaktest: %d goroutine(s) still running:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
	}
}

// Leftovers returns the stacks of goroutines that are not in before and are
// not ignorable, waiting up to grace for them to finish.
func Leftovers(before map[uint64]bool, grace time.Duration) []string {
	deadline := time.Now().Add(grace)
	pause := time.Millisecond
	for {
		var leaked []string
		for id, stack := range goroutines() {
			if before[id] || ignorable(stack) {
				continue
			}
			leaked = append(leaked, stack)
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			sort.Strings(leaked)
			return leaked
		}
		runtime.Gosched()
		time.Sleep(pause)
		if pause < 100*time.Millisecond {
			pause *= 2
		}
	}
}

func snapshot() map[uint64]bool {
	ids := make(map[uint64]bool)
	for id := range goroutines() {
		ids[id] = true
	}
	return ids
}

func ignorable(stack string) bool {
	for _, s := range ignored {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}

// goroutines returns every goroutine but the calling one, keyed by id.
func goroutines() map[uint64]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := make(map[uint64]string)
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the calling goroutine is always first
		}
		var id uint64
		if _, err := fmt.Sscanf(g, "goroutine %d ", &id); err != nil {
			continue
		}
		out[id] = g
	}
	return out
}
