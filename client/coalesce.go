package client

import "time"

// coalescer decides when the receiver reads a little later. When small
// batches bring at least coalesceRate packets within coalesceWindow (a
// stream: a busy broker writing packet by packet), it turns on: the receiver
// then pauses coalesceWait before a read that follows a small batch, so
// that the kernel gathers the next packets into one read, the loop answers
// them in one write, and the broker, answered in bursts, writes in bursts
// too (mosquitto spends far less per message on a client that does not
// take every packet on its own). For a stream of QoS 0 messages the pause
// grows to coalesceMaxWait (see lengthen).
//
// A pause is also the test of the guess: one that gathers fewer than
// coalesceDense packets turns the coalescer off, and it may not turn on
// again for coalesceBackoff, doubled at each such failure up to
// coalesceMaxBackoff (a pause that gathers enough resets it). A pause is
// excused from the test when the bytes it waited for ended it (lowat.go)
// or when it waited for bytes while at least holdBacklog answers were due:
// it waited for what comes anyway (see readPacer.before). A
// request-response exchange brings a packet or two per round trip: with
// round trips longer than about 65 us (two packets each) it never reaches
// the rate. With shorter ones a pause can happen; it finds nothing (the
// answer waits for the request, which waits for the packet held back), and
// the next can come only after the backoff: 8 ms, 16 ms, ... 1 s, so that
// such pauses soon meet fewer than one round trip in a thousand
// (TestCoalescerFastExchange). A read that waited coalesceBlocked or more
// for its data while on (the stream stopped) turns it off without a
// backoff.
type coalescer struct {
	on        bool
	wait      time.Duration // the pause while on, from coalesceWait to coalesceMaxWait
	winAt     time.Time     // start of the counting window
	pkts      int           // packets of small batches in the window
	batches   int           // small batches in the window
	notBefore time.Time     // no turning on before this
	backoff   time.Duration // the wait after the last failed pause
}

const (
	coalesceAfter      = 4
	coalesceRate       = 32
	coalesceDense      = 4
	coalesceWindow     = time.Millisecond
	coalesceBlocked    = 20 * time.Microsecond
	coalesceWait       = 250 * time.Microsecond
	coalesceMaxWait    = 2 * time.Millisecond
	coalesceBackoff    = 8 * time.Millisecond
	coalesceMaxBackoff = time.Second
)

// pause returns how long the receiver pauses: coalesceWait, or longer for a
// stream of QoS 0 messages (see lengthen).
func (c *coalescer) pause() time.Duration {
	if !c.on || c.wait == 0 {
		return coalesceWait
	}
	return c.wait
}

// lengthen adjusts the pause after a batch: a pause of the coalescer's
// (still on: it gathered enough) that brought QoS 0 messages only (quiet:
// nothing in them needs an answer, and nothing the client sent waits on
// them) doubles, up to coalesceMaxWait; anything else, or the coalescer
// off, brings it back to coalesceWait. A longer pause costs such a stream only
// delivery latency (at most coalesceMaxWait) and saves the broker a
// wake-up per packet: against mosquitto it took QoS 0 from about 102k to
// 141k msg/s, the raw client's rate (client/BENCHMARKS.md). Anything that
// is owed an answer keeps the short pause, so a broker's in-flight window
// (mosquitto's is 20 by default) is never held up for long.
func (c *coalescer) lengthen(paused, quiet bool) {
	switch {
	case !c.on || !quiet:
		c.wait = coalesceWait
	case paused:
		c.wait = min(2*c.pause(), coalesceMaxWait)
	}
}

// mayPause reports whether a pause the coalescer did not ask for (the
// loop expects answers) may happen at now: not while backing off.
func (c *coalescer) mayPause(now time.Time) bool { return !now.Before(c.notBefore) }

// note records a batch of n packets whose first was read at now, after a
// read that waited for waited; paused says the receiver paused before it,
// excused that the pause is not to be judged by what it gathered.
func (c *coalescer) note(now time.Time, waited time.Duration, n int, paused, excused bool) {
	if paused {
		if n < coalesceDense && !excused {
			c.on = false
			c.backoff = min(max(2*c.backoff, coalesceBackoff), coalesceMaxBackoff)
			c.notBefore = now.Add(c.backoff)
			c.winAt, c.pkts, c.batches = now, 0, 0
			return
		}
		c.backoff = 0
	}
	if c.on {
		if !paused && waited >= coalesceBlocked {
			c.on = false
			c.winAt, c.pkts, c.batches = now, 0, 0
		}
		return
	}
	if now.Sub(c.winAt) >= coalesceWindow {
		c.winAt, c.pkts, c.batches = now, 0, 0
	}
	if n >= maxBatch/2 {
		return // the receiver is behind: not what a pause is for
	}
	c.pkts += n
	c.batches++
	if c.pkts >= coalesceRate && c.batches >= coalesceAfter && !now.Before(c.notBefore) {
		c.on = true
	}
}
