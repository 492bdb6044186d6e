package dms

import (
	"context"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

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
// The DMS client (autoReconnect) keeps the device's own publishes in an
// offline buffer while it reconnects.
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
		Logger:         a.log,
		OnConnect: func(info client.ConnectInfo) {
			cn.send(connEvent{up: true, reconnect: info.Reconnect})
		},
		OnConnectionLost: func(err error) { cn.send(connEvent{lost: err}) },
	}
	if autoReconnect {
		opts.OfflineBuffer = a.cfg.OfflineBuffer
	}
	c, err := client.New(opts)
	if err != nil {
		return nil, err
	}
	cn.c = c
	a.cur = cn
	return cn, c.Connect(ctx)
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

// within runs f with a context that also ends after d on the agent's clock;
// that end is a *TimeoutError about what. f must return once its context
// ends.
func (a *Agent) within(ctx context.Context, d time.Duration, what string, f func(context.Context) error) error {
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := a.cfg.Clock.NewTimer(d)
	timeout := &TimeoutError{Wait: what, After: d}
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-t.C():
			cancel(timeout)
		case <-stop:
		}
	}()
	err := f(cctx)
	close(stop)
	<-watched
	t.Stop()
	if err != nil && ctx.Err() == nil && context.Cause(cctx) == error(timeout) {
		return timeout
	}
	return err
}

// subscribe subscribes at QoS 1 to the flow's topics and at their own QoS
// to extra, in one SUBSCRIBE, waits at most SubscribeTimeout for the
// SUBACK and fails on a refused filter.
func (a *Agent) subscribe(ctx context.Context, cn *conn, extra []Subscription, topics ...string) error {
	filters := append([]string(nil), topics...)
	subs := make([]client.Subscription, 0, len(topics)+len(extra))
	control := a.controlHandler(cn)
	for _, t := range topics {
		if err := cn.c.Handle(t, control); err != nil {
			return err
		}
		subs = append(subs, client.Subscription{Filter: t, QoS: packet.QoS1})
	}
	for _, s := range extra {
		f := expandID(s.Filter, a.cfg.DeviceID)
		if err := cn.c.Handle(f, messageHandler(s.Handler)); err != nil {
			return err
		}
		subs = append(subs, client.Subscription{Filter: f, QoS: s.QoS})
		filters = append(filters, f)
	}
	what := "SUBACK for " + filters[0]
	if len(filters) > 1 {
		what += " and " + itoa(len(filters)-1) + " more"
	}
	var codes []packet.SubackCode
	err := a.within(ctx, a.cfg.SubscribeTimeout, what, func(ctx context.Context) error {
		var err error
		codes, err = cn.c.Subscribe(ctx, nil, subs...) // nil: the routes set above
		return err
	})
	if err != nil {
		return err
	}
	return checkSuback(codes, filters)
}

func messageHandler(h MessageHandler) client.Handler {
	return func(m *client.Message) { h(m.Topic, m.Payload) }
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
	if err := a.subscribe(ctx, cn, a.cfg.RedirectSubscriptions, t.VerifyPassword, t.JoinNetwork, t.ControlDevice); err != nil {
		return failed(PhaseRedirect, redirect, err)
	}
	if ctx.Err() != nil {
		return Event{}, false
	}
	wait := a.cfg.Clock.NewTimer(a.cfg.JoinNetworkWait)
	a.fire(Event{Kind: EventRedirectConnected, Server: redirect})
	dms, fallback, err := a.awaitNetworkInfo(ctx, cn, wait)
	wait.Stop()
	switch {
	case ctx.Err() != nil:
		return Event{}, false
	case err != nil:
		return failed(PhaseRedirect, redirect, err)
	}
	a.fire(Event{Kind: EventNetworkInfoReceived, Server: dms, Fallback: fallback})
	a.leave()

	// Phase two: the DMS server.
	cn, err = a.dial(ctx, dms, true)
	if err != nil {
		return failed(PhaseDMS, dms, err)
	}
	if err := a.subscribe(ctx, cn, a.cfg.DMSSubscriptions, t.VerifyPassword, t.ControlDevice); err != nil {
		return failed(PhaseDMS, dms, err)
	}
	if r := a.cfg.RRPC; r != nil {
		d := Device{ProductKey: r.ProductKey, DeviceName: r.DeviceName}
		err := a.within(ctx, a.cfg.SubscribeTimeout, "SUBACK for "+RRPCRequestFilter(d), func(ctx context.Context) error {
			return ServeRRPC(ctx, cn.c, d, r.Handler, a.log)
		})
		if err != nil {
			return failed(PhaseDMS, dms, err)
		}
	}
	if ctx.Err() != nil {
		return Event{}, false
	}
	a.mu.Lock()
	a.online = cn.c
	a.mu.Unlock()
	a.fire(Event{Kind: EventDMSConnected, Server: dms})
	return a.heartbeat(ctx, cn), true
}

// awaitNetworkInfo waits on the redirect connection for a usable
// join-network message, or for wait to fire (then the default DMS server,
// if any, is the fallback). A message that cannot be read is logged at
// warning level and the wait goes on; if no usable one comes, the error
// says that one came and could not be read. A DMS URI without TLS after a
// TLS redirect server is a *DowngradeError, unless allowed.
func (a *Agent) awaitNetworkInfo(ctx context.Context, cn *conn, wait Timer) (dms string, fallback bool, err error) {
	var lastBad *NetworkInfoError
	for {
		select {
		case <-ctx.Done():
			return "", false, ctx.Err()
		case ev := <-cn.events:
			switch {
			case ev.lost != nil:
				return "", false, ev.lost
			case ev.msg != nil:
				uri, err := a.readNetworkInfo(ev.msg.Topic, ev.msg.Payload)
				if err != nil {
					lastBad = err
					head := ev.msg.Payload
					if len(head) > 64 {
						head = head[:64]
					}
					a.log.Warn("dms: join-network message ignored", "device", a.cfg.DeviceID,
						"topic", ev.msg.Topic, "payload", string(head), "err", err)
					continue
				}
				if err := a.cfg.checkDowngrade(uri); err != nil {
					return "", false, err
				}
				return uri, false, nil
			}
		case <-wait.C():
			if a.cfg.DefaultDMSServer != "" {
				return a.cfg.DefaultDMSServer, true, nil
			}
			if lastBad != nil {
				return "", false, &unreadableError{last: lastBad}
			}
			return "", false, ErrNoNetworkInfo
		}
	}
}

// readNetworkInfo runs Config.NetworkInfo, or the default parser with
// Config.NetworkInfoKeys, and checks the URI.
func (a *Agent) readNetworkInfo(topic string, payload []byte) (string, *NetworkInfoError) {
	var (
		uri string
		err error
	)
	if p := a.cfg.NetworkInfo; p != nil {
		if uri, err = p(topic, payload); err != nil {
			return "", networkInfoError(topic, payload, "Config.NetworkInfo could not read it", err)
		}
		uri, err = checkNetworkURI(topic, payload, uri, a.cfg.validateURI)
	} else {
		uri, err = parseNetworkInfo(topic, payload, a.cfg.NetworkInfoKeys, a.cfg.validateURI)
	}
	if err != nil {
		return "", err.(*NetworkInfoError)
	}
	return uri, nil
}
