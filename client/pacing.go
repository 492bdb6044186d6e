package client

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
)

// Pacing is the client's policy for trading latency for throughput under
// load: the one seam where the client may wait on purpose before it reads
// or writes. Options.Pacing nil, the default, never waits: every packet is
// read as soon as it arrives and what is queued is written as soon as the
// client's state owner has nothing more to do. Under load that batches on
// its own, without waiting: packets that arrive while the state owner
// works are read together, and what it queues while it works goes out in
// one write.
//
// The only policy is ThroughputPacing. Its code is linked only into
// programs that call ThroughputPacing.
type Pacing interface {
	String() string
	// start returns the pacer of one connection.
	start(conn net.Conn) pacer
}

// pacer is one connection's pacing: the receiver asks it before and after
// each read, the state owner tells it what is owed and asks it whether a
// write may wait.
type pacer interface {
	before(r *packet.Reader, small bool) pause
	after(pz pause, start, first time.Time, n, bytes int, quiet bool)
	tell(expecting bool, owed int32)
	// hold reports whether the packets queued at now may wait for the
	// write at until, backlog publishes being in flight before them and
	// the last write at lastWrite.
	hold(now, lastWrite time.Time, backlog int) (until time.Time, ok bool)
}

// ThroughputPacing returns the pacing for bulk transfer: under a sustained
// stream only, the client waits a little so that the broker and the kernel
// see fewer and larger reads and writes. Three mechanisms, each in its own
// file:
//
//   - the read coalescer (coalesce.go): when small batches bring at least
//     32 packets within a millisecond, the receiver pauses 250 us before a
//     read that follows a small batch (up to 2 ms for a stream of QoS 0
//     messages), and backs off when a pause gathers little;
//   - the low-water mark (lowat.go, Linux, plain TCP only): a pause waits
//     for the bytes it expects with SO_RCVLOWAT instead of sleeping, so the
//     kernel wakes the receiver once per batch;
//   - the write hold (hold.go): with at least 16 QoS 1 or 2 publishes in
//     flight, publishes and acknowledgements queued less than 200 us after
//     the last write wait for the next one.
//
// It costs delivery latency: a message that arrives during a pause waits
// for the pause's end, so a burst that follows a stream may be delivered
// up to 2 ms late. Use it where only throughput and CPU per message count
// (client/BENCHMARKS.md has the measurements with and without it).
func ThroughputPacing() Pacing { return throughputPacing{} }

type throughputPacing struct{}

func (throughputPacing) String() string { return "throughput" }

func (throughputPacing) start(conn net.Conn) pacer { return &readPacer{waiter: newWaiter(conn)} }

// readPacer is ThroughputPacing's pacer of one connection: the coalescer
// says when the receiver pauses, the low-water mark how many bytes it waits
// for, and the write hold (hold.go) when a write waits.
type readPacer struct {
	co coalescer
	lw lowWater

	// expect is set by the state owner while enough packets are in flight
	// (publishes awaiting their acknowledgements, inbound QoS 2 messages
	// not yet complete) that more packets are likely to keep coming: the
	// receiver may then pause before a read as if its coalescer were on,
	// under the same test (a pause that gathers too little backs off),
	// except a pause on the low-water mark while at least holdBacklog
	// answers are owed (see comms.owed).
	expect atomic.Bool

	// owed is how many answers the server owes the client, as the state
	// owner last counted them; a pause waits for no more than half of them.
	owed atomic.Int32

	// waiter lets a pause wait for bytes rather than sleep (lowat.go); nil
	// where the connection does not support it.
	waiter *waiter
}

// pause is what the pacer did before a read.
type pause struct {
	paused bool // it paused
	// judged is false when the pause is not to be held against the
	// coalescer: the bytes waited for ended it (full), or it waited for
	// bytes while answers were due (see coalescer.note).
	judged bool
	full   bool // the bytes waited for came before the pause's end
}

// before pauses, or not, before the receiver reads the next batch; small
// says the last batch was small.
func (p *readPacer) before(r *packet.Reader, small bool) pause {
	if !small || r.Ready() || !(p.co.on || (p.expect.Load() && p.co.mayPause(time.Now()))) {
		return pause{}
	}
	owed := int(p.owed.Load())
	if w := p.waiter; w != nil && r.Buffered() == 0 {
		full := w.wait(p.lw.target(owed), p.co.pause())
		return pause{paused: true, full: full, judged: !full && owed < holdBacklog}
	}
	time.Sleep(p.co.pause())
	return pause{paused: true, judged: true}
}

// after records a batch of n packets (bytes in all) read after pz; start
// is when the read began, first when its first packet came, quiet that
// the batch holds QoS 0 publishes only.
func (p *readPacer) after(pz pause, start, first time.Time, n, bytes int, quiet bool) {
	p.lw.note(n, bytes, pz.paused, pz.full)
	p.co.note(first, first.Sub(start), n, pz.paused, !pz.judged)
	p.co.lengthen(pz.paused, quiet)
}

// tell passes the state owner's counts to the receiver's pacer: whether
// answers are expected and how many are owed. It stores only changes: the
// receiver reads them often.
func (p *readPacer) tell(expecting bool, owed int32) {
	if expecting != p.expect.Load() {
		p.expect.Store(expecting)
	}
	if owed != p.owed.Load() {
		p.owed.Store(owed)
	}
}
