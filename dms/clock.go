package dms

import "time"

// Clock is the source of time of an Agent, a Prober and a Simulator: the
// password window, the join-network wait, the heartbeat period, the back-off
// between attempts and the probe timeout. SystemClock is the default; tests
// inject a clock they drive themselves.
//
// The MQTT client underneath keeps its own (real) time for keep-alive and the
// connect timeout.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
	NewTicker(d time.Duration) Ticker
}

// Timer is the part of *time.Timer that this package uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// Ticker is the part of *time.Ticker that this package uses.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// SystemClock returns the clock of the time package.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer {
	return sysTimer{time.NewTimer(d)}
}
func (systemClock) NewTicker(d time.Duration) Ticker {
	return sysTicker{time.NewTicker(d)}
}

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

type sysTicker struct{ t *time.Ticker }

func (t sysTicker) C() <-chan time.Time { return t.t.C }
func (t sysTicker) Stop()               { t.t.Stop() }
