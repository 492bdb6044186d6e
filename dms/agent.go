package dms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

// Agent is the device side of the DMS flow: it connects to the redirect
// server, waits for the join-network message, moves to the DMS server and
// sends heartbeats there, starting again with back-off when something fails.
// Create it with NewAgent, then Start and, at the end, Stop.
//
// One goroutine (the run goroutine, started by Start) owns the state
// machine, the MQTT clients of the current attempt and the heartbeat; the
// clients' callbacks hand their events to it over channels. State and
// Observe may be called from any goroutine.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	topics Topics // resolved for the device id

	state atomic.Int32

	mu        sync.Mutex
	started   bool
	stopped   bool
	stopCtx   context.Context // the context of the first Stop, for the DISCONNECTs
	cancel    context.CancelFunc
	done      chan struct{}
	observers []observer
	nextObs   int

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
	a := &Agent{cfg: cfg, log: cfg.Logger, topics: cfg.Topics.For(cfg.DeviceID), done: make(chan struct{})}
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

// Stop ends the flow: it leaves the servers (DISCONNECT within ctx), stops
// the heartbeat and the back-off, and waits for the run goroutine to end.
// It returns ctx's error when ctx ends first; the goroutine then ends as
// soon as the DISCONNECTs give up (they use ctx too). Stop is idempotent and
// may be called before Start.
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
// the current state does not accept is rejected (and logged): it comes from
// a connection that the flow has already left.
func (a *Agent) fire(ev Event) error {
	from := State(a.state.Load())
	to, err := next(from, ev.Kind)
	if err != nil {
		a.log.Debug("dms: event ignored", "err", err)
		return err
	}
	a.state.Store(int32(to))
	a.seq++
	tr := Transition{Seq: a.seq, From: from, To: to, Event: ev, At: a.cfg.Clock.Now()}
	attrs := []any{"device", a.cfg.DeviceID, "from", from, "to", to, "event", ev.Kind}
	if ev.Server != "" {
		attrs = append(attrs, "server", ev.Server)
	}
	if ev.Err != nil {
		attrs = append(attrs, "err", ev.Err)
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
	return nil
}

// run is the agent's goroutine: attempt after attempt of the flow, with
// back-off in between, until Stop.
func (a *Agent) run(ctx context.Context) {
	defer close(a.done)
	_ = a.fire(Event{Kind: EventStart, Server: a.cfg.RedirectServer})
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
		_ = a.fire(ev)
		t := a.cfg.Clock.NewTimer(ev.Delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C():
			_ = a.fire(Event{Kind: EventRetry, Server: a.cfg.RedirectServer})
			continue
		}
		break
	}
	_ = a.fire(Event{Kind: EventStop})
	a.closeCurrent(true)
	_ = a.fire(Event{Kind: EventStopped})
}

// conn is one MQTT connection of the flow and the channel its callbacks
// feed. Callbacks block on the channel until the run goroutine reads or the
// connection is abandoned (done closed), never forever.
type conn struct {
	c      *client.Client
	server string
	events chan connEvent
	done   chan struct{}
}

type connEvent struct {
	up        bool // OnConnect
	reconnect bool
	lost      error // OnConnectionLost
	msg       *client.Message
}

func (cn *conn) send(ev connEvent) {
	select {
	case cn.events <- ev:
	case <-cn.done:
	}
}

// dial creates a client for server with the device's identity and connects
// it. The password is computed by the Credentials callback at every attempt.
func (a *Agent) dial(ctx context.Context, server string, autoReconnect bool) (*conn, error) {
	cn := &conn{server: server, events: make(chan connEvent, 16), done: make(chan struct{})}
	id := a.cfg.DeviceID
	opts := client.Options{
		Servers:  []string{server},
		ClientID: id,
		Credentials: func(context.Context, string) (string, []byte, error) {
			return id, []byte(a.cfg.Password(id, a.cfg.Clock.Now())), nil
		},
		KeepAlive:      a.cfg.KeepAlive,
		ConnectTimeout: a.cfg.ConnectTimeout,
		Transport:      a.cfg.Transport,
		Registry:       a.cfg.Registry,
		AutoReconnect:  autoReconnect,
		Backoff:        a.cfg.ReconnectBackoff,
		Logger:         clientLogger(a.log),
		OnConnect: func(info client.ConnectInfo) {
			cn.send(connEvent{up: true, reconnect: info.Reconnect})
		},
		OnConnectionLost: func(err error) { cn.send(connEvent{lost: err}) },
	}
	c, err := client.New(opts)
	if err != nil {
		return nil, err
	}
	cn.c = c
	a.cur = cn
	return cn, c.Connect(ctx)
}

// closeCurrent leaves the current connection: DISCONNECT within the Stop
// context when graceful, otherwise at once.
func (a *Agent) closeCurrent(graceful bool) {
	cn := a.cur
	if cn == nil {
		return
	}
	a.cur = nil
	close(cn.done)
	if graceful && cn.c.IsConnected() {
		a.mu.Lock()
		ctx := a.stopCtx
		a.mu.Unlock()
		if ctx == nil {
			ctx = context.Background()
		}
		if err := cn.c.Disconnect(ctx); err != nil {
			a.log.Debug("dms: disconnect", "server", cn.server, "err", err)
		}
	}
	_ = cn.c.Close()
}

// leave disconnects from the redirect server before moving on, bounded by
// the connect timeout.
func (a *Agent) leave() {
	cn := a.cur
	if cn == nil {
		return
	}
	a.cur = nil
	close(cn.done)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ConnectTimeout)
	defer cancel()
	if err := cn.c.Disconnect(ctx); err != nil {
		a.log.Debug("dms: leaving the redirect server", "server", cn.server, "err", err)
	}
	_ = cn.c.Close()
}

// controlHandler routes the messages of the control topics; join-network
// messages go to the run goroutine through cn.
func (a *Agent) controlHandler(cn *conn) client.Handler {
	return func(m *client.Message) {
		switch m.Topic {
		case a.topics.JoinNetwork:
			cn.send(connEvent{msg: m})
		case a.topics.VerifyPassword:
			if f := a.cfg.OnVerifyPassword; f != nil {
				f(m.Topic, m.Payload)
			}
		case a.topics.ControlDevice:
			if f := a.cfg.OnControlDevice; f != nil {
				f(m.Topic, m.Payload)
			}
		}
	}
}

// subscribe subscribes at QoS 1 to topics and fails on a refused filter.
func (a *Agent) subscribe(ctx context.Context, cn *conn, topics ...string) error {
	subs := make([]client.Subscription, len(topics))
	for i, t := range topics {
		subs[i] = client.Subscription{Filter: t, QoS: packet.QoS1}
	}
	codes, err := cn.c.Subscribe(ctx, a.controlHandler(cn), subs...)
	if err != nil {
		return err
	}
	return checkSuback(codes, topics)
}

// flow runs one attempt: redirect, join-network, DMS, heartbeat. It
// returns the failure event when something failed (with ctx still live),
// and whether the attempt reached Online.
func (a *Agent) flow(ctx context.Context) (Event, bool) {
	failed := func(phase Phase, server string, err error) (Event, bool) {
		return Event{Kind: EventConnectionFailed, Server: server,
			Err: &PhaseError{Phase: phase, Server: server, Err: err}}, false
	}
	// Phase one: the redirect server.
	redirect := a.cfg.RedirectServer
	cn, err := a.dial(ctx, redirect, false)
	if err != nil {
		return failed(PhaseRedirect, redirect, err)
	}
	t := a.topics
	if err := a.subscribe(ctx, cn, t.VerifyPassword, t.JoinNetwork, t.ControlDevice); err != nil {
		return failed(PhaseRedirect, redirect, err)
	}
	wait := a.cfg.Clock.NewTimer(a.cfg.JoinNetworkWait)
	_ = a.fire(Event{Kind: EventRedirectConnected, Server: redirect})
	var dms string
	fallback := false
	validate := a.cfg.validateURI
waiting:
	for {
		select {
		case <-ctx.Done():
			wait.Stop()
			return Event{}, false
		case ev := <-cn.events:
			switch {
			case ev.lost != nil:
				wait.Stop()
				return failed(PhaseRedirect, redirect, ev.lost)
			case ev.msg != nil:
				uri, err := ParseNetworkInfo(ev.msg.Topic, ev.msg.Payload, validate)
				if err != nil {
					a.log.Warn("dms: join-network message ignored", "err", err)
					continue
				}
				dms = uri
				wait.Stop()
				break waiting
			}
		case <-wait.C():
			if a.cfg.DefaultDMSServer == "" {
				return failed(PhaseRedirect, redirect, ErrNoNetworkInfo)
			}
			dms, fallback = a.cfg.DefaultDMSServer, true
			break waiting
		}
	}
	_ = a.fire(Event{Kind: EventNetworkInfoReceived, Server: dms, Fallback: fallback})
	a.leave()

	// Phase two: the DMS server.
	cn, err = a.dial(ctx, dms, true)
	if err != nil {
		return failed(PhaseDMS, dms, err)
	}
	if err := a.subscribe(ctx, cn, t.VerifyPassword, t.ControlDevice); err != nil {
		return failed(PhaseDMS, dms, err)
	}
	if r := a.cfg.RRPC; r != nil {
		d := Device{ProductKey: r.ProductKey, DeviceName: r.DeviceName}
		if err := ServeRRPC(ctx, cn.c, d, r.Handler, a.log); err != nil {
			return failed(PhaseDMS, dms, err)
		}
	}
	if ctx.Err() != nil {
		return Event{}, false
	}
	_ = a.fire(Event{Kind: EventDMSConnected, Server: dms})
	return a.heartbeat(ctx, cn), true
}

// heartbeat sends the device status at once and then every
// HeartbeatInterval until MaxHeartbeatFailures heartbeats in a row failed
// or ctx ends. It follows the client's automatic reconnects: a lost
// connection moves to ReconnectingDMS, the reconnect back to Online with a
// heartbeat at once.
func (a *Agent) heartbeat(ctx context.Context, cn *conn) Event {
	tick := a.cfg.Clock.NewTicker(a.cfg.HeartbeatInterval)
	defer tick.Stop()
	var (
		pending  *client.Token
		failures int
		lastErr  error
	)
	report := func(err error) {
		if f := a.cfg.OnHeartbeatResult; f != nil {
			f(err)
		}
	}
	fail := func(err error) {
		failures++
		lastErr = fmt.Errorf("%w: %w", ErrHeartbeat, err)
		a.log.Warn("dms: heartbeat failed", "device", a.cfg.DeviceID, "failures", failures, "err", err)
		report(lastErr)
	}
	send := func() {
		body, err := a.cfg.Status(ctx)
		switch {
		case err != nil:
			fail(fmt.Errorf("status provider: %w", err))
			return
		case !json.Valid(body):
			fail(errors.New("status provider returned invalid JSON"))
			return
		}
		pending = cn.c.PublishAsync(a.topics.Heartbeat, packet.QoS1, false, body)
	}
	send()
	for failures < a.cfg.MaxHeartbeatFailures {
		var acked <-chan struct{}
		if pending != nil {
			acked = pending.Done()
		}
		select {
		case <-ctx.Done():
			return Event{}
		case <-acked:
			err := pending.Err()
			pending = nil
			switch {
			case err == nil:
				failures, lastErr = 0, nil
				report(nil)
			case errors.Is(err, client.ErrConnectionLost):
				// The loss itself arrives as an event; the reconnect
				// decides what happens next.
				report(fmt.Errorf("%w: %w", ErrHeartbeat, err))
			default:
				fail(err)
			}
		case <-tick.C():
			if a.State() == StateReconnectingDMS {
				fail(client.ErrNotConnected)
				continue
			}
			if pending != nil {
				pending = nil
				fail(errors.New("no PUBACK within the heartbeat interval"))
				if failures >= a.cfg.MaxHeartbeatFailures {
					continue
				}
			}
			send()
		case ev := <-cn.events:
			switch {
			case ev.lost != nil:
				_ = a.fire(Event{Kind: EventConnectionLost, Server: cn.server, Err: ev.lost})
			case ev.up && ev.reconnect && a.State() == StateReconnectingDMS:
				_ = a.fire(Event{Kind: EventDMSConnected, Server: cn.server})
				if pending != nil {
					report(fmt.Errorf("%w: %w", ErrHeartbeat, client.ErrConnectionLost))
					pending = nil
				}
				send()
			}
		}
	}
	return Event{Kind: EventHeartbeatFailed, Server: cn.server,
		Err: &PhaseError{Phase: PhaseHeartbeat, Server: cn.server, Err: lastErr}}
}

// durationOrDefault is used by the simulator and the prober.
func durationOrDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
