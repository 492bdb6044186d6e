package client

import (
	"math/rand/v2"
	"time"
)

// Delay returns the wait before reconnect attempt number attempt (0 for the
// first retry): Min·2^attempt capped at Max, then reduced by up to Jitter of
// itself, by r·Jitter with r in [0, 1). It is a pure function of its
// arguments; zero fields mean the documented defaults.
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	lo, hi, j := b.Min, b.Max, b.Jitter
	if lo <= 0 {
		lo = DefaultBackoffMin
	}
	if hi <= 0 {
		hi = DefaultBackoffMax
	}
	if lo > hi {
		lo = hi
	}
	switch {
	case j == 0:
		j = DefaultBackoffJitter
	case j < 0:
		j = 0
	case j > 1:
		j = 1
	}
	if r < 0 {
		r = 0
	} else if r >= 1 {
		r = 0.999999
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	if d > hi || d <= 0 {
		d = hi
	}
	return d - time.Duration(float64(d)*j*r)
}

// next returns the delay for attempt with the configured random source.
func (b Backoff) next(attempt int) time.Duration {
	f := b.Rand
	if f == nil {
		f = rand.Float64
	}
	return b.Delay(attempt, f())
}
