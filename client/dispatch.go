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
	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
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
	return &dispatcher{ch: make(chan event, size), quit: make(chan struct{}), done: make(chan struct{}),
		router: r, def: def, manual: manual, log: log}
}

func (d *dispatcher) run() {
	defer close(d.done)
	var hs []Handler
	for {
		select {
		case <-d.quit:
			return
		case ev := <-d.ch:
			if ev.cb != nil {
				ev.cb()
				continue
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
			clear(hs)
			// Acknowledge once handled [MQTT-4.5.0-2], also when nobody
			// took it; with ManualAcks the application does it, unless
			// no handler could.
			if !d.manual || (len(hs) == 0 && d.def == nil) {
				ev.msg.Ack()
			}
		}
	}
}

// stop makes the dispatcher end after the call it is running, dropping
// what is queued. It does not wait: it may be called from a handler.
func (d *dispatcher) stop() { d.stopOnce.Do(func() { close(d.quit) }) }
