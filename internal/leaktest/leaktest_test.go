package leaktest

import (
	"strings"
	"testing"
	"time"
)

// TestLeftoversFindsALeak shows that the checker reports a goroutine that
// outlives the grace period, and stops reporting it once it has ended.
func TestLeftoversFindsALeak(t *testing.T) {
	before := snapshot()
	stop := make(chan struct{})
	started := make(chan struct{})
	go leakyWorker(started, stop)
	<-started

	leaked := Leftovers(before, 10*time.Millisecond)
	if len(leaked) != 1 || !strings.Contains(leaked[0], "leakyWorker") {
		t.Fatalf("want the one leaked worker, got %d stacks:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	}

	close(stop)
	if leaked := Leftovers(before, 5*time.Second); len(leaked) != 0 {
		t.Fatalf("the worker ended, yet %d stacks are reported:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	}
}

func leakyWorker(started, stop chan struct{}) {
	close(started)
	<-stop
}

// TestCheckPassesWhenClean shows that Check does not report goroutines that
// existed before it was called.
func TestCheckPassesWhenClean(t *testing.T) {
	stop := make(chan struct{})
	started := make(chan struct{})
	go leakyWorker(started, stop)
	<-started
	defer close(stop)

	done := Check(t)
	done() // the worker predates Check, so it is not a leak of this test
}

// TestIgnorable keeps the runtime's and testing's own goroutines out of the
// report.
func TestIgnorable(t *testing.T) {
	if !ignorable("goroutine 1 [chan receive]:\ntesting.(*T).Run(...)") {
		t.Fatal("testing's own goroutine reported")
	}
	if ignorable("goroutine 9 [select]:\ngithub.com/linnet-mqtt/linnet/client.(*loop).run(...)") {
		t.Fatal("a client goroutine ignored")
	}
}
