package dms

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linnet-mqtt/linnet/client"
)

// Agent is the device side of the DMS flow: it connects to the redirect
// server, waits for the join-network message, moves to the DMS server and
// sends heartbeats there, starting again with back-off when something fails.
// Create it with NewAgent, then Start and, at the end, Stop.
//
// One goroutine (the run goroutine, started by Start) owns the state
// machine, the MQTT clients of the current attempt and the heartbeat; the
// clients' callbacks hand their events to it over channels. State, Observe,
// Publish, PublishAsync, Subscribe and Stop may be called from any
// goroutine.
type Agent struct {
	cfg    Config
	log    *Logger
	topics Topics // resolved for the device id

	state atomic.Int32

	mu        sync.Mutex
	started   bool
	stopped   bool
	stopCtx   context.Context // the context of the first Stop, for the drain
	cancel    context.CancelFunc
	done      chan struct{}
	observers []observer
	nextObs   int
	online    *client.Client             // the DMS client from DMSConnected until it is left
	own       map[*client.Token]struct{} // the device's own publishes not yet seen complete

	// Owned by the run goroutine (or by Stop before Start, under mu).
	seq uint64
	cur *conn
}

type observer struct {
	id int
	fn func(Transition)
}

// NewAgent checks and copies cfg and returns an agent in StateIdle. It does
// no network I/O. A bad configuration is a *ConfigError.
func NewAgent(cfg Config) (*Agent, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults()
	a := &Agent{cfg: cfg, log: cfg.Logger, topics: cfg.Topics.For(cfg.DeviceID), done: make(chan struct{}),
		own: make(map[*client.Token]struct{})}
	return a, nil
}

// DeviceID returns the device id of the agent.
func (a *Agent) DeviceID() string { return a.cfg.DeviceID }

// State returns the current state.
func (a *Agent) State() State { return State(a.state.Load()) }

// Observe adds fn to the observers of the agent's transitions and returns a
// function that removes it. Observers are called one after the other, in
// the order they were added, for every transition from the next one on,
// in order, on the agent's run goroutine: a slow observer slows the agent.
// They must not call Stop.
func (a *Agent) Observe(fn func(Transition)) (remove func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nextObs++
	id := a.nextObs
	a.observers = append(a.observers, observer{id: id, fn: fn})
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		for i, o := range a.observers {
			if o.id == id {
				a.observers = append(a.observers[:i:i], a.observers[i+1:]...)
				return
			}
		}
	}
}

// Start starts the flow on a new goroutine and returns at once. It fails
// with ErrAlreadyStarted when called twice and ErrStopped after Stop.
func (a *Agent) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.stopped:
		return ErrStopped
	case a.started:
		return ErrAlreadyStarted
	}
	a.started = true
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go a.run(ctx)
	return nil
}

// Stop ends the flow: it stops the heartbeat and the back-off, waits for
// the device's own publishes still in flight (at most DrainTimeout, within
// ctx), withdraws the heartbeat in flight, sends DISCONNECT at once and
// waits for the run goroutine to end. It returns ctx's error when ctx ends
// first; the goroutine then ends as soon as the DISCONNECT is written. Stop
// is idempotent and may be called before Start.
func (a *Agent) Stop(ctx context.Context) error {
	a.mu.Lock()
	if !a.started {
		first := !a.stopped
		a.stopped = true
		a.mu.Unlock()
		if first {
			a.fire(Event{Kind: EventStop})
			a.fire(Event{Kind: EventStopped})
			close(a.done)
		}
		return nil
	}
	if !a.stopped {
		a.stopped = true
		a.stopCtx = ctx
	}
	a.mu.Unlock()
	a.cancel()
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the agent reached StateStopped.
func (a *Agent) Done() <-chan struct{} { return a.done }

// fire applies ev to the state machine and tells the observers. An event
// the current state does not accept is ignored (and logged at debug
// level): it comes from a connection that the flow has already left.
func (a *Agent) fire(ev Event) {
	from := State(a.state.Load())
	to, ok := next(from, ev.Kind)
	if !ok {
		a.log.Debug("dms: event ignored", "state", from.String(), "event", ev.Kind.String())
		return
	}
	a.state.Store(int32(to))
	a.seq++
	tr := Transition{Seq: a.seq, From: from, To: to, Event: ev, At: a.cfg.Clock.Now()}
	attrs := []any{"device", a.cfg.DeviceID, "from", from.String(), "to", to.String(), "event", ev.Kind.String()}
	if ev.Server != "" {
		attrs = append(attrs, "server", ev.Server)
	}
	if ev.Fallback {
		attrs = append(attrs, "fallback", true)
	}
	if ev.Delay > 0 {
		attrs = append(attrs, "delay", ev.Delay)
	}
	if ev.Err != nil || ev.Fallback {
		if ev.Err != nil {
			attrs = append(attrs, "err", ev.Err)
		}
		a.log.Warn("dms: state", attrs...)
	} else {
		a.log.Info("dms: state", attrs...)
	}
	if f := a.cfg.OnTransition; f != nil {
		f(tr)
	}
	a.mu.Lock()
	obs := append([]observer(nil), a.observers...)
	a.mu.Unlock()
	for _, o := range obs {
		o.fn(tr)
	}
}

// run is the agent's goroutine: attempt after attempt of the flow, with
// back-off in between, until Stop.
func (a *Agent) run(ctx context.Context) {
	defer close(a.done)
	a.fire(Event{Kind: EventStart, Server: a.cfg.RedirectServer})
	attempt := 0
	for {
		ev, wasOnline := a.flow(ctx)
		if wasOnline {
			attempt = 0
		}
		if ctx.Err() != nil {
			break
		}
		a.closeCurrent(false)
		r := rand.Float64
		if a.cfg.Backoff.Rand != nil {
			r = a.cfg.Backoff.Rand
		}
		ev.Delay = a.cfg.Backoff.Delay(attempt, r())
		attempt++
		a.fire(ev)
		t := a.cfg.Clock.NewTimer(ev.Delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C():
			a.fire(Event{Kind: EventRetry, Server: a.cfg.RedirectServer})
			continue
		}
		break
	}
	a.fire(Event{Kind: EventStop})
	a.closeCurrent(true)
	a.fire(Event{Kind: EventStopped})
}

// closeCurrent leaves the current connection. When graceful (Stop), it
// first waits for the device's own publishes (at most DrainTimeout, within
// Stop's context), then sends DISCONNECT at once: the heartbeat in flight,
// if any, is withdrawn rather than waited for. Otherwise it drops the
// connection.
func (a *Agent) closeCurrent(graceful bool) {
	cn := a.cur
	if cn == nil {
		return
	}
	a.cur = nil
	close(cn.done)
	a.mu.Lock()
	if a.online == cn.c {
		a.online = nil
	}
	stopCtx := a.stopCtx
	a.mu.Unlock()
	if graceful && cn.c.IsConnected() {
		if stopCtx == nil {
			stopCtx = context.Background()
		}
		ctx, cancel := context.WithTimeout(stopCtx, a.cfg.DrainTimeout)
		a.drain(ctx)
		cancel()
		a.disconnectNow(cn)
	}
	_ = cn.c.Close()
}

// drain waits until the device's own publishes are complete or ctx ends.
func (a *Agent) drain(ctx context.Context) {
	a.mu.Lock()
	toks := make([]*client.Token, 0, len(a.own))
	for t := range a.own {
		toks = append(toks, t)
	}
	a.mu.Unlock()
	for _, t := range toks {
		select {
		case <-t.Done():
		case <-ctx.Done():
			a.log.Warn("dms: stopping with publishes in flight", "device", a.cfg.DeviceID, "err", ctx.Err())
			return
		}
	}
}

// disconnectNow sends DISCONNECT without waiting for anything in flight:
// the client's Disconnect with a context that has already ended does that.
func (a *Agent) disconnectNow(cn *conn) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := cn.c.Disconnect(ctx); err != nil && err != context.Canceled {
		a.log.Debug("dms: disconnect", "server", cn.server, "err", err)
	}
}

// leave disconnects from the redirect server before moving on. Nothing of
// the device's is in flight there, so the DISCONNECT goes at once.
func (a *Agent) leave() {
	cn := a.cur
	if cn == nil {
		return
	}
	a.cur = nil
	close(cn.done)
	a.disconnectNow(cn)
	_ = cn.c.Close()
}

// durationOrDefault is used by the simulator and the prober.
func durationOrDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
