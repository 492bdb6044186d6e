package client

import (
	"sync"
	"time"

	"github.com/linnet-mqtt/linnet/session"
)

// dispatcher runs message handlers and callbacks, one at a time, in the
// order the loop queued them: the only code that calls user code. Its
// goroutine exists only while there is something to run: push starts it
// when the queue was idle, and it ends when the queue is empty, so an idle
// connection does not pay for it (a goroutine that comes and goes; never
// two at once, so calls stay in order and never overlap).
//
// The queue is a slice that grows while used and is dropped when it
// empties. It is bounded (Options.MessageQueue events waiting, besides the
// one running): when it is full push refuses and the loop keeps the event,
// stops reading from the server (which pushes back on the server through
// TCP) and waits on room, while acks of earlier messages and PINGREQs
// still go out.
//
// Acks of messages whose handler returned are batched: they go to the loop
// together when the queue empties, when ackBatch of them wait, or at the
// latest ackDelay after the oldest, so that a handler that blocks never
// holds back the acks of the messages before it for longer than that.
type dispatcher struct {
	size int
	// room (capacity 1) is signalled when push refused and an event was
	// taken since. It is made at the first refusal, by the loop, which
	// alone reads it unlocked (and only after a refusal).
	room   chan struct{}
	client *Client
	router *router
	def    Handler
	manual bool
	log    *Logger

	// mu guards the fields below it.
	mu       sync.Mutex
	q        []event // waiting events are q[head:]
	head     int
	running  bool            // a goroutine is running (or about to)
	prev     *dispatcher     // the dispatcher before this one; nil once it is done
	done     chan struct{}   // closed when finished for good; made by doneChan
	ending   bool            // the loop ended: run what is queued, then finish
	stopped  bool            // stop: drop the queue, finish after the running call
	full     bool            // push refused since the last event was taken
	finished bool            // finished for good (done, if made, is closed)
	acks     []session.AckID // acks not handed to the loop yet
	ackTimer *time.Timer     // hands acks over ackDelay after the oldest
	ackArmed bool
}

// ackBatch is how many acks the dispatcher collects before it hands them to
// the loop even though more messages are queued; ackDelay bounds how long
// an ack waits for the handlers after it.
const (
	ackBatch = 32
	ackDelay = time.Millisecond
)

// event is one call for the dispatcher: a message to route, or a callback.
type event struct {
	msg *Message
	cb  func()
}

// newDispatcher returns the dispatcher of one Connect. prev is the
// dispatcher before it (nil for the first): this one runs nothing until
// that one is finished, so that callbacks stay in order and never run at
// the same time, even when a handler calls Connect.
func newDispatcher(size int, c *Client, prev *dispatcher) *dispatcher {
	return &dispatcher{size: size, client: c, router: c.router, def: c.opts.DefaultHandler,
		manual: c.opts.ManualAcks, log: c.log, prev: prev}
}

// doneChan returns a channel closed when the dispatcher is finished for
// good. It is made on demand (only a later Connect's dispatcher waits on
// it), so that a connected client does not pay for it.
func (d *dispatcher) doneChan() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done == nil {
		d.done = make(chan struct{})
		if d.finished {
			close(d.done)
		}
	}
	return d.done
}

// refuseLocked records that push found no room.
func (d *dispatcher) refuseLocked() {
	d.full = true
	if d.room == nil {
		d.room = make(chan struct{}, 1)
	}
}

// push queues ev and reports whether there was room. Only the loop calls
// it, and only for its oldest held-back event.
func (d *dispatcher) push(ev event) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return true // dropped, as Close says
	}
	if len(d.q)-d.head >= d.size {
		d.refuseLocked()
		return false
	}
	d.q = append(d.q, ev)
	d.startLocked()
	return true
}

// pushSome queues the leading events of evs that fit and returns how many.
func (d *dispatcher) pushSome(evs []event) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return len(evs)
	}
	n := min(max(d.size-(len(d.q)-d.head), 0), len(evs))
	if n < len(evs) {
		d.refuseLocked()
	}
	if n > 0 {
		d.q = append(d.q, evs[:n]...)
		d.startLocked()
	}
	return n
}

// finish is called once, by the loop as it ends: evs (events that found no
// room) are queued beyond the bound, the queue is run, and then the
// dispatcher is done.
func (d *dispatcher) finish(evs []event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ending = true
	if !d.stopped {
		d.q = append(d.q, evs...)
	}
	if len(d.q) > d.head {
		d.startLocked()
	} else if !d.running {
		d.finishLocked()
	}
}

// stop makes the dispatcher end after the call it is running, dropping
// what is queued. It does not wait: it may be called from a handler.
func (d *dispatcher) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	clear(d.q)
	d.q, d.head = nil, 0
	if !d.running && d.ending {
		d.finishLocked()
	}
}

func (d *dispatcher) startLocked() {
	if !d.running {
		d.running = true
		go d.run()
	}
}

func (d *dispatcher) finishLocked() {
	if !d.finished {
		d.finished = true
		d.prev = nil // nothing left to wait for; no chain of old dispatchers
		d.stopAckTimerLocked()
		if d.done != nil {
			close(d.done)
		}
	}
}

// run calls handlers and callbacks until the queue is empty.
func (d *dispatcher) run() {
	d.mu.Lock()
	prev := d.prev
	d.mu.Unlock()
	if prev != nil {
		<-prev.doneChan()
		d.mu.Lock()
		d.prev = nil
		d.mu.Unlock()
	}
	var hs []Handler
	var ack session.AckID // of the call before, to batch
	for {
		d.mu.Lock()
		if ack != 0 {
			d.acks = append(d.acks, ack)
			ack = 0
		}
		if d.stopped || d.head == len(d.q) {
			d.running = false
			clear(d.q)
			d.q, d.head = nil, 0 // an idle dispatcher holds no queue
			acks := d.takeAcksLocked()
			if d.stopped || d.ending {
				d.finishLocked()
			}
			d.mu.Unlock()
			d.client.postAcks(acks)
			return
		}
		ev := d.q[d.head]
		d.q[d.head] = event{}
		d.head++
		if d.full {
			d.full = false
			select {
			case d.room <- struct{}{}:
			default:
			}
		}
		var acks []session.AckID
		if len(d.acks) >= ackBatch {
			acks = d.takeAcksLocked()
		} else if len(d.acks) > 0 && !d.ackArmed {
			d.armAckTimerLocked()
		}
		d.mu.Unlock()
		d.client.postAcks(acks)
		hs, ack = d.call(ev, hs)
	}
}

func (d *dispatcher) takeAcksLocked() []session.AckID {
	acks := d.acks
	d.acks = nil
	d.stopAckTimerLocked()
	return acks
}

func (d *dispatcher) armAckTimerLocked() {
	d.ackArmed = true
	if d.ackTimer == nil {
		d.ackTimer = time.AfterFunc(ackDelay, d.ackTimeout)
		return
	}
	d.ackTimer.Reset(ackDelay)
}

func (d *dispatcher) stopAckTimerLocked() {
	if d.ackArmed {
		d.ackArmed = false
		d.ackTimer.Stop()
	}
}

// ackTimeout hands over the acks a running handler has held back for
// ackDelay.
func (d *dispatcher) ackTimeout() {
	d.mu.Lock()
	var acks []session.AckID
	if d.ackArmed {
		d.ackArmed = false
		acks = d.acks
		d.acks = nil
	}
	d.mu.Unlock()
	d.client.postAcks(acks)
}

// call runs one event and returns the ack to send for it, if any.
func (d *dispatcher) call(ev event, hs []Handler) ([]Handler, session.AckID) {
	if ev.cb != nil {
		ev.cb()
		return hs, 0
	}
	hs = d.router.match(hs[:0], ev.msg.Topic)
	switch {
	case len(hs) > 0:
		for _, h := range hs {
			h(ev.msg)
		}
	case d.def != nil:
		d.def(ev.msg)
	default:
		d.log.Debug("mqtt: message without a route, dropped", "topic", ev.msg.Topic)
	}
	// Acknowledge once handled [MQTT-4.5.0-2], also when nobody took it;
	// with ManualAcks the application does it, unless no handler could.
	var ack session.AckID
	if !d.manual || (len(hs) == 0 && d.def == nil) {
		if m := ev.msg; m.ackID != 0 && m.acked.CompareAndSwap(false, true) {
			ack = m.ackID
		}
	}
	clear(hs)
	return hs, ack
}

// drainEvents turns session events into deliveries, completions and
// callbacks. writeErr is the error of the flush whose QoS 0 publishes
// complete now, if any. The error is the first protocol violation an event
// showed: it ends the connection.
func (m *comms) drainEvents(writeErr error) error {
	var violation error
	for {
		ev, ok := m.own.sess.NextEvent()
		if !ok {
			return violation
		}
		switch ev.Kind {
		case session.EventDelivery:
			m.deliver(ev)
		case session.EventCompletion:
			if err := m.complete(ev, writeErr); err != nil && violation == nil {
				violation = err
			}
		}
	}
}

// deliver queues a message for the dispatcher. The event points into the
// receiver's batch or the session: the Message gets its own copy, which
// the handler may keep.
func (m *comms) deliver(ev session.Event) {
	p := ev.Message
	msg := newMessage(p.Payload)
	msg.Topic, msg.QoS, msg.Retain, msg.Duplicate, msg.MessageID = p.Topic, p.QoS, p.Retain, p.Dup, p.PacketID
	msg.ackID, msg.owner = ev.Ack, m.c
	m.emit(event{msg: msg})
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

// emit queues an event for the dispatcher without ever blocking the loop.
func (m *comms) emit(ev event) {
	if len(m.events) == 0 && !m.exiting && m.disp.push(ev) {
		return
	}
	m.events = append(m.events, ev)
}

// pushEvents moves the events held back to the dispatcher, as far as its
// queue has room.
func (m *comms) pushEvents() {
	n := m.disp.pushSome(m.events)
	clear(m.events[:n])
	m.events = m.events[n:]
	if len(m.events) == 0 {
		m.events = nil
	}
}
