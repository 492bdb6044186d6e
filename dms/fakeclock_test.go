package dms_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/dms"
)

// fakeClock is a dms.Clock that moves only when the test calls Advance.
// Timers and tickers fire during Advance, on channels of capacity one (a
// tick nobody took is dropped, as with time.Ticker).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters map[*fakeWaiter]struct{}
	changed chan struct{} // closed and replaced when waiters change
	max     int           // most waiters at once
}

type fakeWaiter struct {
	c      *fakeClock
	ch     chan time.Time
	when   time.Time
	period time.Duration
}

func newFakeClock(start time.Time) *fakeClock {
	return &fakeClock{now: start, waiters: make(map[*fakeWaiter]struct{}), changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d, period time.Duration) *fakeWaiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &fakeWaiter{c: c, ch: make(chan time.Time, 1), when: c.now.Add(d), period: period}
	if d <= 0 && period == 0 {
		w.ch <- c.now
		return w
	}
	c.waiters[w] = struct{}{}
	c.max = max(c.max, len(c.waiters))
	c.notify()
	return w
}

func (c *fakeClock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *fakeClock) NewTimer(d time.Duration) dms.Timer   { return fakeTimer{c.add(d, 0)} }
func (c *fakeClock) NewTicker(d time.Duration) dms.Ticker { return fakeTicker{c.add(d, d)} }

func (w *fakeWaiter) stop() bool {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	_, ok := w.c.waiters[w]
	delete(w.c.waiters, w)
	w.c.notify()
	return ok
}

type fakeTimer struct{ w *fakeWaiter }

func (t fakeTimer) C() <-chan time.Time { return t.w.ch }
func (t fakeTimer) Stop() bool          { return t.w.stop() }

type fakeTicker struct{ w *fakeWaiter }

func (t fakeTicker) C() <-chan time.Time { return t.w.ch }
func (t fakeTicker) Stop()               { t.w.stop() }

// Advance moves the clock by d and fires what is due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for w := range c.waiters {
		if w.when.After(c.now) {
			continue
		}
		select {
		case w.ch <- c.now:
		default:
		}
		if w.period == 0 {
			delete(c.waiters, w)
			continue
		}
		for !w.when.After(c.now) {
			w.when = w.when.Add(w.period)
		}
	}
	c.notify()
}

// Waiters returns the number of active timers and tickers.
func (c *fakeClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// AwaitWaiters blocks until exactly n timers and tickers are active. The
// ten-second bound only turns a hang into a failure.
func (c *fakeClock) AwaitWaiters(t testing.TB, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c.mu.Lock()
		got, ch := len(c.waiters), c.changed
		c.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("fake clock: %d active timers, waited for %d", got, n)
		}
	}
}

// MaxWaiters returns the most timers and tickers active at once so far.
func (c *fakeClock) MaxWaiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max
}
