package client

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
	"github.com/linnet-mqtt/linnet/transport"
)

type reqKind uint8

const (
	reqPublish reqKind = iota + 1
	reqSubscribe
	reqUnsubscribe
	reqCancel
	reqAck
	reqDisconnect
	reqTick
)

// request is work handed to the loop through Client.reqs.
type request struct {
	kind    reqKind
	msg     session.Message
	tok     *Token
	subs    []Subscription
	filters []string
	reply   chan opResult
	ack     session.AckID   // reqAck: one ack (Message.Ack)
	acks    []session.AckID // reqAck: a batch from the dispatcher
	ctx     context.Context
	done    chan struct{} // reqDisconnect, reqCancel: closed when handled
	err     error         // reqCancel: the cause the token fails with
}

func (r request) fail(err error) {
	switch r.kind {
	case reqPublish:
		r.tok.complete(err)
	case reqSubscribe, reqUnsubscribe:
		r.reply <- opResult{err: err}
	case reqDisconnect, reqCancel:
		close(r.done)
	}
}

// maxBatch is how many inbound packets the reader hands over in one batch,
// at most; flushBytes is how much the loop queues before a write.
const (
	maxBatch   = 64
	flushBytes = 64 << 10
)

// loop is the client's loop goroutine: it alone owns the session state
// (own), the connection's packet.Writer and the keep-alive timer. It
// connects, reconnects with back-off, turns requests from the API and
// packets from the reader into session calls, writes what the session has
// to send, batching writes, and queues deliveries and callbacks for the
// dispatcher. It lives from Connect to Disconnect or Close (or to a loss
// without AutoReconnect).
type loop struct {
	c    *Client
	own  *owned
	quit chan struct{}
	disp *dispatcher

	// The connection, while there is one.
	conn   net.Conn
	w      *packet.Writer
	rd     *reader
	server string

	timer     *time.Timer // an AfterFunc: sets fired and wakes the loop
	fired     atomic.Bool // the timer went off since the loop last looked
	events    []event     // waiting for room in the dispatcher's queue
	disc      *request
	lastWrite time.Time
	flushAt   time.Time // a held write goes out by then; zero if none is held
	reconnect bool

	cur       *inBatch // the batch being handed to the session, nil if none
	curPos    int      // its next packet
	writeErr  error    // the error of the flush whose QoS 0 completions are drained
	violation error    // a protocol violation found while draining events
}

// reader is the connection's reader goroutine: it decodes packets and
// hands them to the loop in batches. A batch is every packet that one Read
// brought in (at most maxBatch), so a busy connection costs one hand-off
// and one wake-up per batch, not per packet. Batches are recycled: the
// packets are copied into the batch (payloads into its arena), which
// allocates nothing once the batches have grown.
//
// The hand-off is a queue under mu and a signal on the client's wake
// channel, the one API requests use, and so is the end of reading: the
// loop, while idle, waits on that one channel. Batches are made as needed,
// at most inQueue+2 (inQueue waiting, one being filled, one with the
// loop), so the reader reads ahead of a loop held back by a full
// dispatcher as far as inQueue batches, and then waits for a free one.
type reader struct {
	wake chan struct{} // the client's: a batch is ready, or reading ended
	wg   sync.WaitGroup

	// mu guards the fields below it.
	mu      sync.Mutex
	ready   []*inBatch // for the loop, in order
	free    []*inBatch // batches the loop is done with
	made    int        // batches allocated so far
	ended   bool       // reading stopped; after the batches in ready
	err     error      // why reading stopped
	stopped bool       // the loop asked the reader to stop
	waiting bool       // the reader waits on room for a free batch
	room    chan struct{}

	// expect is set by the loop while enough packets are in flight
	// (publishes awaiting their acknowledgements, inbound QoS 2 messages
	// not yet complete) that more packets are likely to keep coming: the
	// reader may then pause before a read as if its coalescer were on,
	// under the same test (a pause that gathers too little backs off),
	// except a pause on the low-water mark while at least holdBacklog
	// answers are owed (see owed).
	expect atomic.Bool

	// owed is how many answers the server owes the client, as the loop
	// last counted them (see loop.owed); a pause waits for no more than
	// half of them.
	owed atomic.Int32

	// waiter lets a pause wait for bytes rather than sleep (lowat.go);
	// nil where the connection does not support it.
	waiter *waiter
}

// inQueue is how many batches may wait for the loop.
const inQueue = 4

func newReader(wake chan struct{}) *reader {
	return &reader{wake: wake}
}

func (rd *reader) signal() {
	select {
	case rd.wake <- struct{}{}:
	default:
	}
}

// batch returns an empty batch to fill, or nil when the reader must stop.
func (rd *reader) batch() *inBatch {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	for {
		if rd.stopped {
			return nil
		}
		if n := len(rd.free); n > 0 {
			b := rd.free[n-1]
			rd.free[n-1] = nil
			rd.free = rd.free[:n-1]
			return b
		}
		if rd.made < inQueue+2 {
			rd.made++
			return new(inBatch)
		}
		if rd.room == nil {
			rd.room = make(chan struct{}, 1)
		}
		rd.waiting = true
		rd.mu.Unlock()
		<-rd.room
		rd.mu.Lock()
	}
}

// hand queues b (nil: none) for the loop; with err non-nil reading ends
// after it.
func (rd *reader) hand(b *inBatch, err error) {
	rd.mu.Lock()
	if b != nil {
		rd.ready = append(rd.ready, b)
	}
	if err != nil {
		rd.ended, rd.err = true, err
	}
	rd.mu.Unlock()
	rd.signal()
}

// next returns the oldest batch waiting for the loop, if any; ended is
// true when there is none and reading has stopped.
func (rd *reader) next() (b *inBatch, ended bool) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if len(rd.ready) == 0 {
		return nil, rd.ended
	}
	b = rd.ready[0]
	n := copy(rd.ready, rd.ready[1:]) // at most inQueue: keep the array
	rd.ready[n] = nil
	rd.ready = rd.ready[:n]
	return b, false
}

// hasNext reports whether next has a batch or the end to return.
func (rd *reader) hasNext() bool {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return len(rd.ready) > 0 || rd.ended
}

// recycle gives a batch the loop is done with back to the reader.
func (rd *reader) recycle(b *inBatch) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.free = append(rd.free, b)
	rd.wakeReaderLocked()
}

func (rd *reader) wakeReaderLocked() {
	if rd.waiting {
		rd.waiting = false
		rd.room <- struct{}{} // capacity 1, and only this sends, once per wait
	}
}

// stop makes the reader end (the connection is closed first, so its Read
// fails) and waits for it.
func (rd *reader) stop() {
	rd.mu.Lock()
	rd.stopped = true
	rd.wakeReaderLocked()
	rd.mu.Unlock()
	rd.wg.Wait()
}

// readErr returns why reading stopped.
func (rd *reader) readErr() error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.err != nil {
		return rd.err
	}
	return io.EOF
}

// inBatch is the packets of one hand-off from the reader to the loop.
type inBatch struct {
	pkts  []inPacket
	arena []byte // the payloads of the PUBLISH packets
}

// inPacket is one packet of a batch, by value. A PUBLISH's topic is an
// interned string and its payload points into the batch's arena; the rare
// packets with slices of their own (SUBACK, ...) are cloned.
type inPacket struct {
	typ     packet.Type
	pub     packet.Publish
	other   packet.Packet // anything else, cloned
	puback  packet.Puback
	pubrec  packet.Pubrec
	pubrel  packet.Pubrel
	pubcomp packet.Pubcomp
}

func (b *inBatch) reset() {
	clear(b.pkts) // drop references for the garbage collector
	b.pkts, b.arena = b.pkts[:0], b.arena[:0]
}

// add copies p into the batch and returns its size on the wire, or about
// it for the rare packets other than PUBLISH and its acknowledgements.
func (b *inBatch) add(p packet.Packet) int {
	b.pkts = append(b.pkts, inPacket{})
	ip := &b.pkts[len(b.pkts)-1]
	ip.typ = p.Type()
	size := 4
	switch p := p.(type) {
	case *packet.Publish:
		size = p.Len()
		ip.pub = *p
		// Appending may move the arena: earlier payloads keep pointing
		// into the old one, which stays valid.
		n := len(b.arena)
		b.arena = append(b.arena, p.Payload...)
		ip.pub.Payload = b.arena[n:len(b.arena):len(b.arena)]
	case *packet.Puback:
		ip.puback = *p
	case *packet.Pubrec:
		ip.pubrec = *p
	case *packet.Pubrel:
		ip.pubrel = *p
	case *packet.Pubcomp:
		ip.pubcomp = *p
	default:
		ip.other = packet.Clone(p)
	}
	return size
}

// quiet reports whether the batch holds QoS 0 PUBLISH packets only.
func (b *inBatch) quiet() bool {
	for i := range b.pkts {
		if ip := &b.pkts[i]; ip.typ != packet.TypePublish || ip.pub.QoS != packet.QoS0 {
			return false
		}
	}
	return true
}

// packet returns the packet to hand to the session; it points into ip.
func (ip *inPacket) packet() packet.Packet {
	switch ip.typ {
	case packet.TypePublish:
		return &ip.pub
	case packet.TypePuback:
		return &ip.puback
	case packet.TypePubrec:
		return &ip.pubrec
	case packet.TypePubrel:
		return &ip.pubrel
	case packet.TypePubcomp:
		return &ip.pubcomp
	}
	return ip.other
}

func (rd *reader) run(r *packet.Reader) {
	defer rd.wg.Done()
	var (
		co    coalescer
		lw    lowWater
		small bool // the last batch had less than half of maxBatch packets
	)
	for {
		paused := small && !r.Ready() && (co.on || (rd.expect.Load() && co.mayPause(time.Now())))
		// full: the bytes waited for came before the pause's end;
		// excused: the pause waited for bytes while answers were due, so
		// one that gathers little is not the coalescer's wrong guess (see
		// coalescer.note). A pause that sleeps is judged as before.
		full, excused := false, false
		if paused {
			owed := int(rd.owed.Load())
			if w := rd.waiter; w != nil && r.Buffered() == 0 {
				full = w.wait(lw.target(owed), co.pause())
				excused = owed >= holdBacklog
			} else {
				time.Sleep(co.pause())
			}
		}
		b := rd.batch()
		if b == nil {
			rd.hand(nil, net.ErrClosed)
			return
		}
		b.reset()
		var (
			err   error
			first time.Time // when the batch's first packet was read
			bytes int       // of the batch's packets
		)
		start := time.Now()
		for {
			var p packet.Packet
			if p, err = r.ReadPacket(); err != nil {
				break
			}
			if len(b.pkts) == 0 {
				first = time.Now()
			}
			bytes += b.add(p)
			if len(b.pkts) >= maxBatch || !r.Ready() {
				break
			}
		}
		if n := len(b.pkts); n > 0 {
			lw.note(n, bytes, paused, full)
			co.note(first, first.Sub(start), n, paused, full || excused)
			co.lengthen(paused, b.quiet())
		}
		small = len(b.pkts) < maxBatch/2
		if len(b.pkts) == 0 {
			b = nil // only the error
		}
		rd.hand(b, err) // the loop takes the packets, then finds the end
		if err != nil {
			return
		}
	}
}

// coalescer decides when the reader reads a little later. When small
// batches bring at least coalesceRate packets within coalesceWindow (a
// stream: a busy broker writing packet by packet), it turns on: the reader
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
// it waited for what comes anyway (see reader.run). A
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

// pause returns how long the reader pauses: coalesceWait, or longer for a
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
// read that waited for waited; paused says the reader paused before it,
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
		return // the reader is behind: not what a pause is for
	}
	c.pkts += n
	c.batches++
	if c.pkts >= coalesceRate && c.batches >= coalesceAfter && !now.Before(c.notBefore) {
		c.on = true
	}
}

// start makes the first connection, retrying as the options say. Connect
// runs it on its caller's goroutine: the dial and the handshake need deep
// stacks, and a goroutine's stack never shrinks back to the minimum once
// it has grown, so the loop goroutine (started by Connect after start
// succeeds) keeps a small stack for the connection's lifetime. nil means
// connected; otherwise the caller runs exit.
func (l *loop) start(ctx context.Context) error {
	l.timer = time.AfterFunc(time.Hour, l.alarm)
	l.timer.Stop()
	attempt := 0
	for {
		err := l.connectAbortable(ctx)
		if err == nil {
			return nil
		}
		if l.quitting() {
			return ErrClosed
		}
		if !l.c.opts.ConnectRetry || ctx.Err() != nil {
			return err
		}
		attempt++
		if err := l.backOff(ctx, attempt, err); err != nil {
			return err
		}
	}
}

// run serves the connection start made, and reconnects after a loss when
// AutoReconnect is set. It is the loop goroutine.
func (l *loop) run() {
	defer l.exit()
	for {
		cause := l.serve()
		l.closeConn()
		if cause == nil || l.quitting() {
			return
		}
		l.lost(cause)
		if !l.c.opts.AutoReconnect {
			return
		}
		l.reconnect = true
		// The first reconnect goes at once; back-off after a failed round.
		for attempt := 1; ; attempt++ {
			err := l.offStack(func() error { return l.connectAbortable(context.Background()) })
			if err == nil {
				break
			}
			if l.quitting() || l.backOff(nil, attempt, err) != nil {
				return
			}
		}
	}
}

// offStack runs f, a reconnect, on a goroutine of its own while the loop
// waits, for the reason start gives. The loop is blocked meanwhile and no
// reader runs, so the client still has at most three goroutines.
func (l *loop) offStack(f func() error) error {
	res := make(chan error, 1)
	go func() { res <- f() }()
	return <-res
}

// connectAbortable is a connectRound within ctx that Close aborts: its
// cancel function is the client's while it runs (a context made per
// attempt, not one per client that every attempt hangs on: a context
// remembers its children in a map that never shrinks).
func (l *loop) connectAbortable(ctx context.Context) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := l.c
	c.mu.Lock()
	if l.quitting() {
		c.mu.Unlock()
		return ErrClosed
	}
	c.cancel = cancel // shutdown calls it after closing quit, under mu
	c.mu.Unlock()
	err := l.connectRound(cctx)
	c.mu.Lock()
	c.cancel = nil
	c.mu.Unlock()
	return err
}

// backOff waits before the next connect attempt (the attempt-th failure,
// err). It returns nil to go on, or the error to end the loop with: ctx's
// (nil after the first connect) when it ends, ErrClosed.
func (l *loop) backOff(ctx context.Context, attempt int, err error) error {
	l.c.log.Warn("mqtt: connect failed", "err", err, "attempt", attempt)
	delay := l.c.opts.Backoff.next(attempt - 1)
	if f := l.c.opts.OnReconnecting; f != nil {
		l.emit(event{cb: func() { f(attempt, delay) }})
	}
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	if l.wait(delay, ctxDone) {
		return nil
	}
	if ctx != nil && ctx.Err() != nil {
		return errors.Join(context.Cause(ctx), err)
	}
	return ErrClosed
}

// alarm is the timer's function: it wakes the loop.
func (l *loop) alarm() {
	l.fired.Store(true)
	select {
	case l.c.wake <- struct{}{}:
	default:
	}
}

// wait sleeps for d while serving requests in the disconnected state. It
// returns false when the loop must end (Close, Disconnect, ctxDone).
func (l *loop) wait(d time.Duration, ctxDone <-chan struct{}) bool {
	until := time.Now().Add(d)
	l.timer.Reset(d)
	defer l.timer.Stop()
	for {
		var room chan struct{}
		if len(l.events) > 0 {
			room = l.disp.room
		}
		select {
		case <-l.quit:
			return false
		case <-ctxDone:
			return false
		case <-l.c.wake:
			// A timer that went off for an earlier deadline, just as it
			// was reset, is not this one.
			if l.fired.Swap(false) && !time.Now().Before(until) {
				return true
			}
			l.handleRequests(time.Now())
			if l.disc != nil {
				close(l.disc.done)
				l.disc = nil
				return false
			}
		case <-room:
			l.pushEvents()
		}
	}
}

// pushEvents moves the events held back to the dispatcher, as far as its
// queue has room.
func (l *loop) pushEvents() {
	n := l.disp.pushSome(l.events)
	clear(l.events[:n])
	l.events = l.events[n:]
	if len(l.events) == 0 {
		l.events = nil
	}
}

func (l *loop) quitting() bool {
	select {
	case <-l.quit:
		return true
	default:
		return false
	}
}

// exit runs when the loop ends: the connection is closed and its reader
// gone; requests that came too late are handled as while disconnected.
func (l *loop) exit() {
	l.closeConn()
	if l.timer != nil {
		l.timer.Stop()
	}
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running, c.online, c.netConn = false, false, nil
	if c.cancel != nil {
		c.cancel()
	}
	reqs := c.reqs
	c.reqs = nil
	for _, r := range reqs {
		l.offline(r, time.Now())
	}
	if l.disc != nil {
		close(l.disc.done)
		l.disc = nil
	}
	// Events that found no room in the queue go after it; the dispatcher
	// runs what is queued, then ends (a closing client drops it all). Its
	// lock is never taken inside mu.
	evs := l.events
	l.events = nil
	c.mu.Unlock()
	l.disp.finish(evs)
	c.mu.Lock()
}

// offline handles a request while there is no connection.
func (l *loop) offline(r request, now time.Time) {
	switch r.kind {
	case reqPublish:
		l.publish(r, now)
	case reqSubscribe, reqUnsubscribe:
		r.reply <- opResult{err: ErrNotConnected}
	case reqCancel:
		l.cancel(r.tok, r.err)
		close(r.done)
	case reqAck:
		l.ack(r, now)
	case reqDisconnect:
		close(r.done)
	}
}

// connectRound tries every server in order; nil means connected.
func (l *loop) connectRound(ctx context.Context) error {
	var errs []error
	for _, server := range l.c.opts.Servers {
		err := l.connectServer(ctx, server)
		if err == nil {
			return nil
		}
		l.c.log.Debug("mqtt: server did not accept", "server", server, "err", err)
		errs = append(errs, err)
		if ctx.Err() != nil || l.quitting() {
			break
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// connectServer connects to one server, falling back from 3.1.1 to 3.1 in
// automatic mode when the server refuses the level or closes without a
// CONNACK.
func (l *loop) connectServer(ctx context.Context, server string) error {
	l.c.mu.Lock()
	v := l.c.version
	l.c.mu.Unlock()
	if v != VersionAuto {
		return l.attempt(ctx, server, v)
	}
	err := l.attempt(ctx, server, Version311)
	if err == nil {
		l.setVersion(Version311)
		return nil
	}
	if !errors.Is(err, &ConnectError{Code: packet.RefusedProtocolVersion}) && !errors.Is(err, ErrNoCONNACK) {
		return err
	}
	if ctx.Err() != nil || l.quitting() {
		return err
	}
	l.c.log.Debug("mqtt: falling back to MQTT 3.1", "server", server, "err", err)
	if err31 := l.attempt(ctx, server, Version31); err31 != nil {
		return errors.Join(err, err31)
	}
	l.setVersion(Version31)
	return nil
}

func (l *loop) setVersion(v Version) {
	l.c.mu.Lock()
	l.c.version = v
	l.c.mu.Unlock()
}

// attempt is one connection to one server with one protocol version: dial,
// CONNECT [MQTT-3.1.0-1], wait for CONNACK, all within ConnectTimeout.
func (l *loop) attempt(ctx context.Context, server string, v Version) error {
	o := &l.c.opts
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()

	cp := &packet.Connect{
		CleanSession: !o.PersistentSession,
		KeepAlive:    o.keepAliveSeconds(),
		ClientID:     o.ClientID,
	}
	if v == Version31 {
		cp.ProtocolName, cp.ProtocolLevel = packet.ProtocolName31, packet.ProtocolLevel31
	} else {
		cp.ProtocolName, cp.ProtocolLevel = packet.ProtocolName311, packet.ProtocolLevel311
	}
	user, pass := o.Username, o.Password
	if o.Credentials != nil {
		var err error
		if user, pass, err = o.Credentials(ctx, server); err != nil {
			return &CredentialsError{Server: server, Err: err}
		}
	}
	if user != "" {
		cp.UsernameFlag, cp.Username = true, user
		if pass != nil {
			cp.PasswordFlag, cp.Password = true, pass
		}
	}
	if w := o.Will; w != nil {
		cp.WillFlag, cp.WillTopic, cp.WillMessage, cp.WillQoS, cp.WillRetain = true, w.Topic, w.Payload, w.QoS, w.Retain
		if cp.WillMessage == nil {
			cp.WillMessage = []byte{}
		}
	}

	topts := make([]transport.Option, 0, len(o.Transport)+4)
	topts = append(topts, transport.WithLogger(l.c.log), transport.WithConnectTimeout(o.ConnectTimeout))
	if o.Registry != nil {
		topts = append(topts, transport.WithRegistry(o.Registry))
	}
	if len(o.WebSocketHeader) > 0 {
		topts = append(topts, webSocketHeader(o.WebSocketHeader)...)
	}
	topts = append(topts, o.Transport...)
	conn, err := transport.Dial(ctx, server, topts...)
	if err != nil {
		return err
	}
	l.c.mu.Lock()
	if l.quitting() {
		l.c.mu.Unlock()
		conn.Close()
		return ErrClosed
	}
	l.c.netConn = conn
	l.c.mu.Unlock()
	fail := func(err error) error {
		conn.Close()
		l.c.mu.Lock()
		l.c.netConn = nil
		l.c.mu.Unlock()
		return err
	}

	// The context becomes a deadline on the connection; no goroutine.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	w := packet.NewWriter(conn)
	if err := w.WritePacket(cp); err != nil {
		stop()
		return fail(l.handshakeErr(ctx, server, err, "writing CONNECT"))
	}
	r := packet.NewReader(conn)
	r.SetMaxPacketSize(o.MaxPacketSize)
	p, err := r.ReadPacket()
	stopped := stop()
	if err != nil {
		return fail(l.handshakeErr(ctx, server, err, "waiting for CONNACK"))
	}
	if !stopped { // the context ended just as the CONNACK came
		return fail(context.Cause(ctx))
	}
	_ = conn.SetDeadline(time.Time{})
	ack, ok := p.(*packet.Connack)
	if !ok {
		return fail(&ViolationError{Packet: p.Type(), Reason: "first packet from the server is not CONNACK"})
	}
	if ack.ReturnCode != packet.Accepted {
		return fail(&ConnectError{Code: ack.ReturnCode, Server: server})
	}

	// Connected.
	l.conn, l.w, l.server = conn, w, server
	// ack belongs to r, which reuses it once the reader goroutine runs.
	sessionPresent := ack.SessionPresent
	l.rd = newReader(l.c.wake)
	l.rd.waiter = newWaiter(conn)
	l.cur, l.curPos = nil, 0
	l.flushAt = time.Time{} // of the connection before, if any
	l.rd.wg.Add(1)
	go l.rd.run(r)
	l.established(sessionPresent, v)
	return nil
}

// handshakeErr classifies a failure before CONNACK.
func (l *loop) handshakeErr(ctx context.Context, server string, err error, doing string) error {
	if l.quitting() {
		return ErrClosed
	}
	if ctx.Err() != nil {
		return &HandshakeError{Server: server, Doing: doing, Err: errors.Join(context.Cause(ctx), err)}
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The connect deadline on the connection fired just before the
		// context's timer: the same timeout.
		return &HandshakeError{Server: server, Doing: doing, Err: errors.Join(context.DeadlineExceeded, err)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe) {
		return &HandshakeError{Server: server, Doing: doing, Err: errors.Join(ErrNoCONNACK, err)}
	}
	return &HandshakeError{Server: server, Doing: doing, Err: err}
}

// established starts the session on a new connection.
func (l *loop) established(sessionPresent bool, v Version) {
	now := time.Now()
	o := &l.c.opts
	clean := !o.PersistentSession
	l.lastWrite = now
	if err := l.own.sess.OnConnack(now, sessionPresent, clean); err != nil {
		l.c.log.Warn("mqtt: clearing the stored session", "err", err)
	}
	l.c.mu.Lock()
	l.c.online = true
	l.c.mu.Unlock()
	if !sessionPresent && !o.NoResubscribe && len(l.own.subs) > 0 {
		subs := append([]Subscription(nil), l.own.subs...)
		id, err := l.own.sess.Subscribe(now, subs, nil)
		if err != nil {
			l.c.log.Warn("mqtt: re-subscribing", "err", err)
		} else {
			l.own.pending[id] = pendingOp{kind: packet.TypeSubscribe, subs: subs}
		}
	}
	if f := o.OnConnect; f != nil {
		info := ConnectInfo{Server: l.server, SessionPresent: sessionPresent, Reconnect: l.reconnect, Version: v}
		l.emit(event{cb: func() { f(info) }})
	}
	l.c.log.Debug("mqtt: connected", "server", l.server, "session_present", sessionPresent, "version", v)
}

// serve runs the connected state until the connection ends. It returns nil
// after a graceful Disconnect or Close, else the cause of the loss.
//
// Each turn it hands the session the packets of the current batch (while
// the dispatcher has room), takes the requests posted meanwhile, then
// writes everything that is ready in one flush, and only then blocks.
//
// It blocks on the client's wake channel alone (and on the dispatcher's
// room while it holds events back): API requests, the reader's batches and
// its end, the keep-alive timer, Close and the Disconnect's context all
// signal it, so an idle client's loop waits on one channel.
func (l *loop) serve() error {
	var deadline time.Time
	for {
		if l.cur == nil && len(l.events) == 0 {
			// Else: back-pressure, the dispatcher is full; the reader
			// stops when its batches are all taken.
			b, ended := l.rd.next()
			if ended {
				return l.rd.readErr()
			}
			if b != nil {
				l.cur, l.curPos = b, 0
			}
		}
		if err := l.process(); err != nil {
			return err
		}
		now := time.Now()
		if err := l.pump(now); err != nil {
			return err
		}
		if l.disc != nil && l.discReady() {
			return l.sendDisconnect()
		}
		if e := l.expecting(); e != l.rd.expect.Load() {
			l.rd.expect.Store(e) // only on a change: the reader reads it often
		}
		if o := l.owed(); o != l.rd.owed.Load() {
			l.rd.owed.Store(o)
		}
		// One timer: for a held write or the session's keep-alive
		// deadline, whichever comes first.
		if d := l.deadline(); !d.Equal(deadline) {
			deadline = d
			if d.IsZero() {
				l.timer.Stop()
			} else {
				l.timer.Reset(d.Sub(now))
			}
		}
		var room chan struct{}
		if len(l.events) > 0 {
			room = l.disp.room
		}
		if room == nil && l.cur == nil && l.rd.hasNext() {
			// More came meanwhile: no blocking, but requests that came
			// too go out in the same flush as its answers.
			select {
			case <-l.c.wake:
				if done, err := l.woken(&deadline); done {
					return err
				}
			default:
			}
			continue
		}
		select {
		case <-l.c.wake:
			if done, err := l.woken(&deadline); done {
				return err
			}
		case <-room:
			l.pushEvents()
		}
	}
}

// woken handles a signal on the wake channel in the connected state: Close,
// requests, the keep-alive timer, a Disconnect whose context ended (a new
// batch or the reader's end is taken at the top of serve). done means
// serve returns err.
func (l *loop) woken(deadline *time.Time) (done bool, err error) {
	if l.quitting() {
		return true, nil
	}
	now := time.Now()
	l.handleRequests(now)
	if l.fired.Swap(false) {
		*deadline = time.Time{} // armed again for the next one
		// The timer also goes off for a held write (serve flushes it);
		// keep-alive is the PingSender's when there is one.
		if l.c.opts.PingSender == nil {
			if err := l.tick(now); err != nil {
				return true, err
			}
		}
	}
	if l.disc != nil && l.disc.ctx.Err() != nil {
		return true, l.sendDisconnect()
	}
	return false, nil
}

// process hands the packets of the current batch to the session until the
// batch is done, then gives it back to the reader. It stops early while
// the dispatcher is full: the packets it holds back are the back-pressure
// (the reader reads no more), and the sign that the server is alive.
func (l *loop) process() error {
	b := l.cur
	if b == nil {
		return nil
	}
	for l.curPos < len(b.pkts) && len(l.events) == 0 {
		ip := &b.pkts[l.curPos]
		l.curPos++
		if err := l.receive(ip.packet()); err != nil {
			return err
		}
	}
	if l.curPos == len(b.pkts) {
		l.cur = nil
		l.rd.recycle(b)
	}
	return nil
}

// deadline is when the loop's timer must wake it next: for a held write or
// for the session's keep-alive, whichever comes first.
func (l *loop) deadline() time.Time {
	var d time.Time
	if l.c.opts.PingSender == nil { // else the sender drives keep-alive
		d = l.own.sess.NextDeadline()
	}
	if f := l.flushAt; !f.IsZero() && (d.IsZero() || f.Before(d)) {
		d = f
	}
	return d
}

// stalled reports whether the loop holds back packets the reader has read:
// the dispatcher is full, so the silence of the server is the client's own.
func (l *loop) stalled() bool {
	return len(l.events) > 0 && (l.cur != nil || l.rd.hasNext())
}

// tick runs keep-alive. While the loop is stalled by a full dispatcher with
// packets from the server waiting, the server is alive and the silence is
// ours: the session is told so (ServerAlive), which keeps a PINGREQ without
// answer from ending the connection while PINGREQs still go out every
// keep-alive period, so that the server does not time the client out
// [MQTT-3.1.2-23].
func (l *loop) tick(now time.Time) error {
	if l.stalled() {
		l.own.sess.ServerAlive(now)
	}
	return l.own.sess.Tick(now)
}

// receive hands one packet from the reader to the session.
func (l *loop) receive(p packet.Packet) error {
	now := time.Now()
	if _, isAck := p.(*packet.Connack); isAck {
		return &ViolationError{Packet: packet.TypeConnack, Reason: "second CONNACK"}
	}
	if err := l.own.sess.Received(now, p); err != nil {
		var up *session.UnexpectedPacketError
		if errors.As(err, &up) {
			return &ViolationError{Packet: up.Type, Reason: "a packet a server never sends to a client"}
		}
		var ua *session.UnknownAckError
		if errors.As(err, &ua) {
			// [MQTT-4.8.0-1]
			return &ViolationError{Packet: ua.Type, Reason: "acknowledgement for a packet identifier not in use"}
		}
		return err // a store error: the connection goes, the server re-sends
	}
	l.drainEvents()
	if err := l.violation; err != nil {
		l.violation = nil
		return err
	}
	return nil
}

// pump drains the session's events and writes what it has to send, or
// holds it for a moment when a stream is in flight (see holdWrite).
func (l *loop) pump(now time.Time) error {
	l.drainEvents()
	fresh, urgent := 0, false // QoS 1 and 2 publishes queued by this round; anything not to hold
	for {
		p, tag, ok := l.own.sess.NextToSend(now)
		if !ok {
			break
		}
		switch p := p.(type) {
		case *packet.Publish:
			if p.QoS == packet.QoS0 {
				urgent = true // completes when written: not held
			} else {
				fresh++ // a re-sent DUP too: it is not in flight on this connection yet
				if !p.Dup {
					assignID(tag, p.PacketID)
				}
			}
		case *packet.Puback, *packet.Pubrec, *packet.Pubrel, *packet.Pubcomp:
		default:
			urgent = true // CONNECT, SUBSCRIBE, PINGREQ, DISCONNECT...
		}
		if err := l.w.Queue(p); err != nil {
			// The session hands out only valid packets; a failure here is
			// a bug, but it must not wedge the connection.
			return err
		}
		if l.w.Buffered() >= flushBytes {
			if err := l.flush(now); err != nil {
				return err
			}
		}
	}
	// In flight before this round: written (or held), not yet done.
	if backlog := l.own.sess.InFlight() - l.own.sess.Unsent() - fresh; !urgent && l.holdWrite(now, backlog) {
		return nil
	}
	// QoS 0 publishes complete when they are written: their completions
	// are taken after the flush, failed with its error if it failed.
	err := l.flush(now)
	l.writeErr = err
	l.drainEvents()
	l.writeErr = nil
	return err
}

// holdWrite reports whether the packets queued now may wait, and arms
// flushAt if so. They wait when at least holdBacklog publishes were already
// in flight before them and the last write was less than holdFor ago: the
// new packets queue behind a stream whose acknowledgements are still to
// come, so waiting costs them little, and the writes it saves are the
// dearest system calls of a busy client (a loopback write also runs the
// broker's receive path). The publishes and acknowledgements gathered then
// go out in one write, the broker answers in bursts, and the reader of the
// other side gets fuller batches. A request-response exchange (one publish
// at a time) never has that backlog and is never held; anything but
// PUBLISH at QoS 1 or 2 and its acknowledgements is written at once.
func (l *loop) holdWrite(now time.Time, backlog int) bool {
	if l.w.Buffered() == 0 || backlog < holdBacklog {
		return false
	}
	at := l.lastWrite.Add(holdFor)
	if !now.Before(at) {
		return false
	}
	if l.flushAt.IsZero() {
		l.flushAt = at
	}
	return true
}

// expecting reports whether enough packets are in flight, either way, that
// more are likely to keep coming: publishes awaiting acknowledgement, or
// inbound QoS 2 messages not yet complete (some of these may wait for the
// application's ack under ManualAcks, not for the server: the reader's
// backoff deals with that).
func (l *loop) expecting() bool {
	s := l.own.sess
	return s.InFlight() >= holdBacklog || s.InboundPending() >= holdBacklog
}

// owed counts the answers due to the client: one or two from the server
// for each publish in flight, and for each inbound QoS 2 message not yet
// complete its PUBREL (or its handler, which returns promptly as a rule).
// With ManualAcks the inbound ones are left out: they may wait for the
// application for any time.
func (l *loop) owed() int32 {
	s := l.own.sess
	n := s.InFlight()
	if !l.c.opts.ManualAcks {
		n += s.InboundPending()
	}
	return int32(min(n, 1<<30))
}

const (
	holdBacklog = 16
	holdFor     = 200 * time.Microsecond
)

func (l *loop) flush(now time.Time) error {
	l.flushAt = time.Time{}
	if l.w.Buffered() == 0 {
		return nil
	}
	_ = l.conn.SetWriteDeadline(now.Add(l.c.opts.WriteTimeout))
	if err := l.w.Flush(); err != nil {
		return err
	}
	l.lastWrite = now
	return nil
}

// assignID gives the token a PUBLISH was tagged with (see PublishAsync)
// its packet id pid, as the PUBLISH goes out.
func assignID(tag any, pid uint16) {
	if tok, _ := tag.(*Token); tok != nil {
		tok.id.Store(uint32(pid))
	}
}

func isDone(t *Token) bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// drainEvents turns session events into deliveries, completions and
// callbacks.
func (l *loop) drainEvents() {
	for {
		ev, ok := l.own.sess.NextEvent()
		if !ok {
			return
		}
		switch ev.Kind {
		case session.EventDelivery:
			l.deliver(ev)
		case session.EventCompletion:
			l.complete(ev)
		}
	}
}

// deliver queues a message for the dispatcher. The event points into the
// reader's buffer or the session: the Message gets its own copy, which
// the handler may keep.
func (l *loop) deliver(ev session.Event) {
	p := ev.Message
	m := newMessage(p.Payload)
	m.Topic, m.QoS, m.Retain, m.Duplicate, m.MessageID = p.Topic, p.QoS, p.Retain, p.Dup, p.PacketID
	m.ackID, m.owner = ev.Ack, l.c
	l.emit(event{msg: m})
}

// smallPayload is the largest payload that shares one allocation with its
// Message.
const smallPayload = 64

// messageBox is a Message with room for a small payload, so that most
// deliveries cost one allocation instead of two.
type messageBox struct {
	m   Message
	buf [smallPayload]byte
}

// newMessage returns a Message holding a copy of payload.
func newMessage(payload []byte) *Message {
	if len(payload) == 0 {
		return &Message{Payload: []byte{}} // empty, never nil, at every QoS
	}
	if len(payload) <= smallPayload {
		b := new(messageBox)
		b.m.Payload = b.buf[:copy(b.buf[:], payload):len(payload)]
		return &b.m
	}
	return &Message{Payload: append([]byte(nil), payload...)}
}

func (l *loop) complete(ev session.Event) {
	op, ok := l.own.pending[ev.ID]
	if !ok {
		return
	}
	delete(l.own.pending, ev.ID)
	switch op.kind {
	case packet.TypePublish:
		err := ev.Err
		if err == nil && op.qos == packet.QoS0 && l.writeErr != nil {
			err = &ConnectionLostError{Server: l.server, Err: l.writeErr}
		}
		if err != nil && errors.Is(err, session.ErrSessionCleared) {
			err = &ConnectionLostError{Server: l.server, Err: err}
		}
		if op.tok != nil && !isDone(op.tok) {
			op.tok.complete(err)
		}
		if f := l.c.opts.OnDeliveryComplete; f != nil && err == nil {
			d := Delivery{Topic: op.topic, QoS: op.qos}
			if op.tok != nil {
				d.MessageID = op.tok.MessageID()
			}
			l.emit(event{cb: func() { f(d) }})
		}
	case packet.TypeSubscribe:
		res := opResult{err: ev.Err}
		if sa, ok := ev.Reply.(*packet.Suback); ok && ev.Err == nil {
			res.codes = append([]packet.SubackCode(nil), sa.ReturnCodes...)
			for i, s := range op.subs {
				if i < len(res.codes) && res.codes[i].Failed() {
					if op.reply != nil {
						l.c.router.remove(s.Filter)
					}
					l.forgetSub(s.Filter)
					continue
				}
				l.rememberSub(s)
			}
		} else if ev.Err != nil && errors.Is(ev.Err, session.ErrSubackCount) {
			res.err = &ViolationError{Packet: packet.TypeSuback, Reason: "return codes do not match the filters"}
			l.violation = res.err // ends the connection [MQTT-4.8.0-1]
		}
		if op.reply != nil {
			op.reply <- res
		} else if ev.Err == nil {
			for i, code := range res.codes {
				if code.Failed() && i < len(op.subs) {
					l.c.log.Warn("mqtt: re-subscribe refused", "filter", op.subs[i].Filter)
				}
			}
		}
	case packet.TypeUnsubscribe:
		if ev.Err == nil {
			for _, s := range op.subs {
				l.c.router.remove(s.Filter)
				l.forgetSub(s.Filter)
			}
		}
		if op.reply != nil {
			op.reply <- opResult{err: ev.Err}
		}
	}
}

func (l *loop) rememberSub(s Subscription) {
	for i := range l.own.subs {
		if l.own.subs[i].Filter == s.Filter {
			l.own.subs[i].QoS = s.QoS
			return
		}
	}
	l.own.subs = append(l.own.subs, s)
}

func (l *loop) forgetSub(filter string) {
	for i := range l.own.subs {
		if l.own.subs[i].Filter == filter {
			l.own.subs = append(l.own.subs[:i], l.own.subs[i+1:]...)
			return
		}
	}
}

// emit queues an event for the dispatcher without ever blocking the loop.
func (l *loop) emit(ev event) {
	if len(l.events) == 0 && l.disp.push(ev) {
		return
	}
	l.events = append(l.events, ev)
}

// handleRequests takes every request posted so far.
func (l *loop) handleRequests(now time.Time) {
	c := l.c
	c.mu.Lock()
	reqs := c.reqs
	c.reqs = nil
	c.mu.Unlock()
	for _, r := range reqs {
		switch r.kind {
		case reqPublish:
			l.publish(r, now)
		case reqSubscribe:
			id, err := l.own.sess.Subscribe(now, r.subs, nil)
			if err != nil {
				r.reply <- opResult{err: mapSessionErr(err)}
				continue
			}
			l.own.pending[id] = pendingOp{kind: packet.TypeSubscribe, subs: r.subs, reply: r.reply}
		case reqUnsubscribe:
			id, err := l.own.sess.Unsubscribe(now, r.filters, nil)
			if err != nil {
				r.reply <- opResult{err: mapSessionErr(err)}
				continue
			}
			subs := make([]Subscription, len(r.filters))
			for i, f := range r.filters {
				subs[i].Filter = f
			}
			l.own.pending[id] = pendingOp{kind: packet.TypeUnsubscribe, subs: subs, reply: r.reply}
		case reqCancel:
			l.cancel(r.tok, r.err)
			close(r.done)
		case reqAck:
			l.ack(r, now)
		case reqTick:
			if l.conn != nil {
				if err := l.tick(now); err != nil {
					// Make serve notice: the reader's side stays, the
					// connection goes.
					l.conn.Close()
				}
			}
		case reqDisconnect:
			rr := r
			l.disc = &rr
			context.AfterFunc(r.ctx, func() {
				select {
				case c.wake <- struct{}{}:
				default:
				}
			})
		}
	}
}

// ack hands the session the acks of a reqAck.
func (l *loop) ack(r request, now time.Time) {
	if r.ack != 0 {
		if err := l.own.sess.Ack(now, r.ack); err != nil {
			l.c.log.Warn("mqtt: acknowledging", "err", err)
		}
	}
	for _, id := range r.acks {
		if err := l.own.sess.Ack(now, id); err != nil {
			l.c.log.Warn("mqtt: acknowledging", "err", err)
		}
	}
}

func (l *loop) publish(r request, now time.Time) {
	id, err := l.own.sess.Publish(now, r.msg)
	if err != nil {
		r.tok.complete(mapSessionErr(err))
		return
	}
	r.tok.msgID.Store(uint64(id))
	l.own.pending[id] = pendingOp{kind: packet.TypePublish, tok: r.tok, topic: r.msg.Topic, qos: r.msg.QoS}
}

func (l *loop) cancel(t *Token, cause error) {
	id := session.MsgID(t.msgID.Load())
	if id != 0 && l.own.sess.Cancel(id) {
		delete(l.own.pending, id)
		t.complete(cause)
	}
}

// discReady reports whether nothing is left in flight for a Disconnect.
func (l *loop) discReady() bool {
	s := l.own.sess
	return s.InFlight() == 0 && s.Waiting() == 0 && !s.Pending()
}

// sendDisconnect ends the connection gracefully: DISCONNECT, then close,
// and nothing after it [MQTT-3.14.4-1] [MQTT-3.14.4-2].
func (l *loop) sendDisconnect() error {
	now := time.Now()
	if err := l.w.Queue(&packet.Disconnect{}); err == nil {
		_ = l.flush(now)
	}
	close(l.disc.done)
	l.disc = nil
	l.closeConn()
	return nil
}

// closeConn closes the connection and waits for its reader to end.
func (l *loop) closeConn() {
	if l.conn == nil {
		return
	}
	l.conn.Close()
	l.rd.stop()
	l.c.mu.Lock()
	l.c.online = false
	l.c.netConn = nil
	l.c.mu.Unlock()
	l.conn, l.w = nil, nil
}

// lost handles a connection that ended with cause: the session learns of
// it, tokens fail or wait as the session type says, callbacks are queued.
func (l *loop) lost(cause error) {
	now := time.Now()
	err := &ConnectionLostError{Server: l.server, Err: cause}
	l.c.log.Warn("mqtt: connection lost", "server", l.server, "err", cause)
	l.own.sess.ConnectionLost(now, err)
	if !l.c.opts.PersistentSession {
		// Clean session: what is in flight will be discarded by the next
		// CONNACK, so every publish token fails now with the cause; the
		// ones not sent yet are withdrawn.
		for id, op := range l.own.pending {
			if op.kind != packet.TypePublish || op.tok == nil {
				continue
			}
			if l.own.sess.Cancel(id) { // never sent: withdrawn
				delete(l.own.pending, id)
				op.tok.complete(err)
				continue
			}
			op.tok.complete(err)
			op.tok = nil
			l.own.pending[id] = op // the completion to come finds no token
		}
	}
	l.drainEvents()
	if f := l.c.opts.OnConnectionLost; f != nil {
		l.emit(event{cb: func() { f(err) }})
	}
}
