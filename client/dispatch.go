package client

import (
	"log/slog"
	"sync"
)

// dispatcher runs message handlers and callbacks, one at a time, in the
// order the loop queued them, on its own goroutine: the only goroutine
// that calls user code. Its queue is bounded (Options.MessageQueue); when
// it is full the loop stops reading from the server, which pushes back on
// the server through TCP, while acks of earlier messages and PINGREQs still
// go out.
type dispatcher struct {
	ch       chan event
	quit     chan struct{} // closed by stop: end now, drop the queue
	drain    chan struct{} // closed by the loop when it ends: run the queue, then end
	done     chan struct{} // closed when run returns
	stopOnce sync.Once
	tailMu   sync.Mutex
	tail     []event // events the loop could not queue before it ended
	router   *router
	def      Handler
	manual   bool
	log      *slog.Logger
}

// event is one call for the dispatcher: a message to route, or a callback.
type event struct {
	msg *Message
	cb  func()
}

func newDispatcher(size int, r *router, def Handler, manual bool, log *slog.Logger) *dispatcher {
	return &dispatcher{ch: make(chan event, size), quit: make(chan struct{}), drain: make(chan struct{}),
		done: make(chan struct{}), router: r, def: def, manual: manual, log: log}
}

// run calls handlers and callbacks until stop, or until the loop has ended
// and the queue is empty. A dispatcher of a later Connect starts only when
// the one before it (prev, nil for the first) is done, so that callbacks
// stay in order and never run at the same time, even when a handler calls
// Connect.
func (d *dispatcher) run(prev <-chan struct{}) {
	defer close(d.done)
	if prev != nil {
		select {
		case <-prev:
		case <-d.quit:
			return
		}
	}
	var hs []Handler
	for {
		select {
		case <-d.quit:
			return
		case ev := <-d.ch:
			hs = d.call(ev, hs)
		case <-d.drain:
			for {
				select {
				case <-d.quit:
					return
				case ev := <-d.ch:
					hs = d.call(ev, hs)
					continue
				default:
				}
				break
			}
			d.tailMu.Lock()
			tail := d.tail
			d.tail = nil
			d.tailMu.Unlock()
			for _, ev := range tail {
				select {
				case <-d.quit:
					return
				default:
				}
				hs = d.call(ev, hs)
			}
			return
		}
	}
}

func (d *dispatcher) call(ev event, hs []Handler) []Handler {
	if ev.cb != nil {
		ev.cb()
		return hs
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
	if !d.manual || (len(hs) == 0 && d.def == nil) {
		ev.msg.Ack()
	}
	clear(hs)
	return hs
}

// stop makes the dispatcher end after the call it is running, dropping
// what is queued. It does not wait: it may be called from a handler.
func (d *dispatcher) stop() { d.stopOnce.Do(func() { close(d.quit) }) }
