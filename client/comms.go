package client

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
)

// comms is the client's state owner (Paho's ClientComms): one goroutine,
// started by Connect, that lives until the client stops connecting
// (Disconnect, Close, a failed Connect, a loss without AutoReconnect). It
// makes every connection, the first one and the reconnects, and it alone
// touches the session, the outbound tokens (own) and the connection's
// writer. It takes requests from the API (requests.go) and batches from
// the receiver (receiver.go), turns them into session calls, writes what
// the session has to send, batching writes, and queues deliveries and
// callbacks for the dispatcher (dispatch.go).
type comms struct {
	c    *Client
	own  *owned
	quit chan struct{}
	disp *dispatcher

	cn     *connection // while connected
	server string      // the server of the last connection, password redacted

	timer     *time.Timer // an AfterFunc: sets fired and wakes the state owner
	fired     atomic.Bool // the timer went off since the state owner last looked
	events    []event     // waiting for room in the dispatcher's queue
	disc      *request    // a Disconnect under way
	reconnect bool        // the next connection is a reconnect
	failures  int         // connect attempts failed in a row; an unproven connection counts

	// The state owner's syncs of a store that syncs (persist.go).
	syncc   chan syncResult // capacity 1: the result of the sync running
	syncing bool            // a sync runs
	synced  uint64          // the Puts counted up to here are durable

	released time.Time // when release last ran
	exiting  bool      // exit runs: emit only holds events back

	cur    *inBatch // the batch being handed to the session, nil if none
	curPos int      // its next packet
}

// run is the state owner's goroutine. It makes the first connection within
// ctx (retrying as the options say) and reports the outcome on first; then
// it serves that connection and, with AutoReconnect, the ones after it.
func (m *comms) run(ctx context.Context, first chan<- error) {
	defer m.exit()
	m.timer = time.AfterFunc(time.Hour, m.alarm)
	m.timer.Stop()
	err := m.connectFirst(ctx)
	first <- err
	if err != nil {
		return
	}
	m.failures = 0 // the retries of the first connect are over
	for {
		cn := m.cn
		cause := m.serve()
		m.closeConn()
		if cause == nil || m.quitting() {
			m.ended(ErrClosed) // Disconnect or Close
			return
		}
		m.lost(cn.server, cause)
		if !m.c.opts.AutoReconnect {
			return
		}
		m.reconnect = true
		if cn.proven(time.Now(), m.c.opts.Backoff) {
			m.failures = 0
		} else {
			m.failures++
			m.c.log.Warn("mqtt: connection ended before it proved itself", "server", cn.server,
				"lasted", time.Since(cn.since), "attempt", m.failures)
		}
		if !m.reconnectLoop(cause) {
			return
		}
	}
}

// alarm is the timer's function: it wakes the state owner.
func (m *comms) alarm() {
	m.fired.Store(true)
	select {
	case m.c.wake <- struct{}{}:
	default:
	}
}

func (m *comms) quitting() bool {
	select {
	case <-m.quit:
		return true
	default:
		return false
	}
}

// exit runs when the state owner ends: the connection is closed and its
// receiver gone; requests that came too late are handled as while
// disconnected.
func (m *comms) exit() {
	m.closeConn()
	if m.syncing { // the store must not close under it
		_ = m.syncDone(<-m.syncc)
	}
	if m.timer != nil {
		m.timer.Stop()
	}
	c := m.c
	m.exiting = true // emit holds events back: the dispatcher's lock is not taken inside mu
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running, c.online, c.netConn, c.disconnecting = false, false, nil, false
	if c.cancel != nil {
		c.cancel()
	}
	reqs := c.reqs
	c.reqs = nil
	for _, r := range reqs {
		m.offline(r, time.Now())
	}
	_ = m.drainEvents(nil) // a message a full offline buffer dropped
	m.finishDisconnect()
	// The events held back go after the queue; the dispatcher runs what is
	// queued, then ends (a closing client drops it all). Its lock is never
	// taken inside mu.
	evs := m.events
	m.events = nil
	c.mu.Unlock()
	m.disp.finish(evs)
	c.mu.Lock()
}

// closeConn closes the connection and waits for its receiver to end.
func (m *comms) closeConn() {
	if m.cn == nil {
		return
	}
	m.cn.close()
	m.c.mu.Lock()
	m.c.online = false
	m.c.netConn = nil
	m.c.mu.Unlock()
	m.cn = nil
}

// lost handles a connection that ended with cause: the session learns of
// it, tokens fail or wait as the session type says, callbacks are queued.
func (m *comms) lost(server string, cause error) {
	err := &ConnectionLostError{Server: server, Err: cause}
	m.c.log.Warn("mqtt: connection lost", "server", err.Server, "err", cause)
	m.ended(err)
	if f := m.c.opts.OnConnectionLost; f != nil {
		m.emit(event{cb: func() { f(err) }})
	}
}

// ended tells the session that the connection is gone. With a clean
// session what is in flight will be discarded by the next CONNACK, so
// every publish token fails now with err, and the ones not sent yet are
// withdrawn; with a persistent session they wait for the next connection.
func (m *comms) ended(err error) {
	m.own.sess.ConnectionLost(time.Now(), err)
	if !m.c.opts.PersistentSession {
		for _, out := range m.own.sess.Outstanding() {
			tok, _ := out.Tag.(*Token)
			if tok == nil {
				continue
			}
			m.own.sess.Cancel(out.ID) // withdrawn if never sent
			tok.complete(err)         // the completion to come, if any, finds it done
		}
	}
	_ = m.drainEvents(nil) // the connection is gone: a violation changes nothing
}

// serve runs the connected state until the connection ends. It returns nil
// after a graceful Disconnect or Close, else the cause of the loss.
//
// Each turn it hands the session the packets of the current batch (while
// the dispatcher has room), takes the requests posted meanwhile, then
// writes everything that is ready in one flush, and only then blocks.
//
// It blocks on the client's wake channel alone (and on the dispatcher's
// room while it holds events back): API requests, the receiver's batches
// and its end, the keep-alive timer, Close and the Disconnect's context all
// signal it, so an idle client's state owner waits on one channel.
func (m *comms) serve() error {
	var deadline time.Time
	for {
		if m.cur == nil && len(m.events) == 0 && !m.syncing {
			// Else: back-pressure, the dispatcher is full (the receiver
			// stops when its batches are all taken), or a sync runs.
			b, ended := m.cn.rcv.next()
			if ended {
				return m.cn.rcv.readErr()
			}
			if b != nil {
				m.cur, m.curPos = b, 0
			}
		}
		if err := m.process(); err != nil {
			return err
		}
		now := time.Now()
		if err := m.pump(now); err != nil {
			return err
		}
		if m.disc != nil && m.discReady() {
			return m.sendDisconnect()
		}
		if p := m.cn.rcv.pacer; p != nil {
			p.tell(m.expecting(), m.owed())
		}
		// One timer: for a held write or the session's keep-alive
		// deadline, whichever comes first.
		if d := m.deadline(); !d.Equal(deadline) {
			deadline = d
			if d.IsZero() {
				m.timer.Stop()
			} else {
				m.timer.Reset(d.Sub(now))
			}
		}
		var room chan struct{}
		if len(m.events) > 0 {
			room = m.disp.room
		}
		if room == nil && m.cur == nil && !m.syncing && m.cn.rcv.hasNext() {
			// More came meanwhile: no blocking, but requests that came
			// too go out in the same flush as its answers.
			select {
			case <-m.c.wake:
				if done, err := m.woken(&deadline); done {
					return err
				}
			default:
			}
			continue
		}
		select {
		case <-m.c.wake:
			if done, err := m.woken(&deadline); done {
				return err
			}
		case <-room:
			m.pushEvents()
		case r := <-m.syncc:
			if err := m.syncDone(r); err != nil {
				return err
			}
			// What the sync covered goes out before anything new is taken
			// in (new records would need the next sync), then the requests
			// that came meanwhile.
			now := time.Now()
			if err := m.pump(now); err != nil {
				return err
			}
			if err := m.handleRequests(now); err != nil {
				return err
			}
		}
	}
}

// woken handles a signal on the wake channel in the connected state: Close,
// requests, the keep-alive timer, a Disconnect whose context ended (a new
// batch or the receiver's end is taken at the top of serve). done means
// serve returns err.
func (m *comms) woken(deadline *time.Time) (done bool, err error) {
	if m.quitting() {
		return true, nil
	}
	now := time.Now()
	if !m.syncing { // else they wait for the sync's end (see needSync)
		if err := m.handleRequests(now); err != nil {
			return true, err
		}
	}
	if m.fired.Swap(false) {
		*deadline = time.Time{} // armed again for the next one
		if at := m.releaseAt(); !at.IsZero() && !now.Before(at) {
			m.release(now)
		}
		// The timer also goes off for a held write (serve flushes it);
		// keep-alive is the PingSender's when there is one.
		if m.c.opts.PingSender == nil {
			if err := m.tick(now); err != nil {
				return true, err
			}
		}
	}
	if m.disc != nil && m.disc.ctx.Err() != nil {
		return true, m.sendDisconnect()
	}
	return false, nil
}

// process hands the packets of the current batch to the session until the
// batch is done, then gives it back to the receiver. It stops early while
// the dispatcher is full: the packets it holds back are the back-pressure
// (the receiver reads no more), and the sign that the server is alive.
func (m *comms) process() error {
	b := m.cur
	if b == nil || m.syncing {
		return nil
	}
	if m.curPos == 0 {
		m.cn.heard, m.cn.lastRead = true, time.Now()
	}
	for m.curPos < len(b.pkts) && len(m.events) == 0 {
		ip := &b.pkts[m.curPos]
		m.curPos++
		if err := m.receive(ip.packet()); err != nil {
			return err
		}
	}
	if m.curPos == len(b.pkts) {
		m.cur = nil
		m.cn.rcv.recycle(b)
	}
	return nil
}

// deadline is when the timer must wake the state owner next: for a held
// write, for the session's keep-alive or to release memory once idle,
// whichever comes first.
func (m *comms) deadline() time.Time {
	var d time.Time
	if m.c.opts.PingSender == nil { // else the sender drives keep-alive
		d = m.own.sess.NextDeadline()
	}
	for _, t := range [...]time.Time{m.cn.flushAt, m.releaseAt()} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// idleRelease is how long a connection stays idle before the state owner
// lets go of the memory it kept for reuse (release).
const idleRelease = time.Second

// releaseAt is when the connection will have been idle for idleRelease
// since its last read or write, or zero when that has been released.
func (m *comms) releaseAt() time.Time {
	last := m.cn.lastWrite
	if m.cn.lastRead.After(last) {
		last = m.cn.lastRead
	}
	if !last.After(m.released) {
		return time.Time{}
	}
	return last.Add(idleRelease)
}

// release lets go of what an idle connection keeps for reuse: the session's
// empty queues and pools (Session.Compact), the writer's buffer and the
// receiver's spare batches. Thousands of idle connections then cost what
// they hold, not what their busiest moment needed.
func (m *comms) release(now time.Time) {
	cn := m.cn
	m.released = now
	m.own.sess.Compact()
	if t, ok := m.own.store.(interface{ Trim() }); ok {
		t.Trim() // store.Memory's buffers kept for reuse
	}
	if cn.w.Buffered() == 0 {
		cn.w = packet.NewWriter(cn.conn)
	}
	cn.rcv.dropSpares()
	if len(m.events) == 0 {
		m.events = nil
	}
}

// stalled reports whether the state owner holds back packets the receiver
// has read: the dispatcher is full, so the silence of the server is the
// client's own.
func (m *comms) stalled() bool {
	return len(m.events) > 0 && (m.cur != nil || m.cn.rcv.hasNext())
}

// tick runs keep-alive. While the state owner is stalled by a full
// dispatcher with packets from the server waiting, the server is alive and
// the silence is ours: the session is told so (ServerAlive), which keeps a
// PINGREQ without answer from ending the connection, while PINGREQs still
// go out every keep-alive period, so that the server does not time the
// client out [MQTT-3.1.2-23].
func (m *comms) tick(now time.Time) error {
	if m.stalled() {
		m.own.sess.ServerAlive(now)
	}
	return m.own.sess.Tick(now)
}

// receive hands one packet from the receiver to the session.
func (m *comms) receive(p packet.Packet) error {
	now := time.Now()
	if _, isAck := p.(*packet.Connack); isAck {
		return &ViolationError{Packet: packet.TypeConnack, Reason: "second CONNACK"}
	}
	if err := m.own.sess.Received(now, p); err != nil {
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
	return m.drainEvents(nil)
}

// pump drains the session's events and writes what it has to send, or,
// with a pacing policy, holds it for a moment when a stream is in flight
// (see holdWrite).
func (m *comms) pump(now time.Time) error {
	if err := m.drainEvents(nil); err != nil {
		return err
	}
	if m.needSync() {
		return nil // the packets wait in the session for their records' sync
	}
	cn := m.cn
	fresh, urgent := 0, false // QoS 1 and 2 publishes queued by this round; anything not to hold
	for {
		p, tag, ok := m.own.sess.NextToSend(now)
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
		if err := cn.w.Queue(p); err != nil {
			// The session hands out only valid packets; a failure here is
			// a bug, but it must not wedge the connection. The QoS 0
			// publishes handed out and not written fail with it.
			_ = m.drainEvents(err)
			return err
		}
		if cn.w.Buffered() >= flushBytes {
			// QoS 0 publishes complete as they are written: those of this
			// flush with its outcome, before more are handed out.
			err := cn.flush(now)
			if v := m.drainEvents(err); err == nil && v != nil {
				err = v
			}
			if err != nil {
				return err
			}
		}
	}
	// In flight before this round: written (or held), not yet done.
	if backlog := m.own.sess.InFlight() - m.own.sess.Unsent() - fresh; !urgent && m.holdWrite(now, backlog) {
		return nil
	}
	// QoS 0 publishes complete when they are written: their completions
	// are taken after the flush, failed with its error if it failed.
	err := cn.flush(now)
	if v := m.drainEvents(err); err == nil {
		err = v
	}
	return err
}

// discReady reports whether nothing is left in flight for a Disconnect.
func (m *comms) discReady() bool {
	s := m.own.sess
	return s.InFlight() == 0 && s.Waiting() == 0 && !s.Pending()
}

// sendDisconnect ends the connection gracefully: DISCONNECT, then close,
// and nothing after it [MQTT-3.14.4-1] [MQTT-3.14.4-2].
func (m *comms) sendDisconnect() error {
	now := time.Now()
	if err := m.cn.w.Queue(&packet.Disconnect{}); err == nil {
		_ = m.cn.flush(now)
	}
	m.finishDisconnect()
	m.closeConn()
	return nil
}

// finishDisconnect tells the Disconnect under way, if any, that it is
// handled.
func (m *comms) finishDisconnect() {
	if d := m.disc; d != nil {
		if d.stop != nil {
			d.stop()
		}
		close(d.done)
		m.disc = nil
	}
}
