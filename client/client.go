package client

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
	"github.com/linnet-mqtt/linnet/store"
	"github.com/linnet-mqtt/linnet/transport"
)

// Subscription is one topic filter of Subscribe with the maximum QoS asked
// for.
type Subscription = packet.Subscription

// Client is an MQTT 3.1.1 client. Create it with New, then Connect. All
// methods are safe for concurrent use.
//
// A connected client runs three goroutines: the reader (one per network
// connection) that decodes packets, the loop that owns the protocol state
// (session.Session) and the packet.Writer, and the dispatcher that runs
// handlers and callbacks in order. The loop lives from Connect until the
// client stops connecting (Disconnect, Close, a failed Connect, a loss
// without AutoReconnect), across automatic reconnects. The dispatcher's
// goroutine runs only while it has calls queued (an idle client runs two
// goroutines); when the loop ends it runs what is queued (OnConnectionLost,
// say) and ends too, unless Close or Disconnect drops it. See the package
// documentation.
type Client struct {
	opts   Options
	log    *Logger
	router *router
	disp   *dispatcher

	// mu guards the fields below it.
	mu      sync.Mutex
	running bool // a loop goroutine exists
	closed  bool // Close was called; final
	// disconnecting is set while a Disconnect runs: new work is refused.
	disconnecting bool
	online        bool               // the loop has a connection past CONNACK
	reqs          []request          // requests for the loop, in order
	wake          chan struct{}      // capacity 1: reqs, a reader batch, the timer or Close
	quit          chan struct{}      // closed by Close: the loop must end now
	loopDone      chan struct{}      // closed when the loop goroutine ends
	cancel        context.CancelFunc // aborts the connect attempt under way, if any
	netConn       net.Conn           // the connection of the loop, for Close
	version       Version            // the version that worked last (auto mode)

	// restored are the tokens of the messages New restored from the
	// store; set by New, read-only after.
	restored []*Token

	// durable is set when the store may outlive the process (anything
	// but a store.Memory): PublishAsync then stages QoS 1 and 2 messages
	// in it before it returns. syncer is the store's Sync, when it has one:
	// PublishAsync waits for it too, and the state owner runs it before it
	// sends what needs records of its own (see comms.pump).
	durable bool
	syncer  store.Syncer
	puts    *countingStore // the store as the session sees it: counts Puts
	// staging is read-locked by PublishAsync while it stages a message and
	// hands it over; Close write-locks it before it closes the store, so a
	// staged record is either handed over or withdrawn, never left behind.
	staging sync.RWMutex

	// own is the protocol state. While running is true only the loop
	// goroutine touches it; otherwise whoever holds mu.
	own owned
}

// owned is the state that belongs to the loop while it runs.
type owned struct {
	sess  *session.Session
	store store.Persistence
	subs  []Subscription // subscriptions to re-make after a lost session, in order
}

// New returns a client for opts, which it validates and copies. It opens
// the persistence store (a memory store when Options.Persistence is nil)
// and restores what it holds, so that messages left in flight by an earlier
// process are sent again after the first CONNACK. No network I/O happens
// before Connect.
func New(opts Options) (*Client, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.resolved()
	c := &Client{
		opts:   o,
		log:    o.Logger,
		router: newRouter(),
		wake:   make(chan struct{}, 1),
	}
	if o.Version != VersionAuto {
		c.version = o.Version
	}
	if o.PingSender != nil {
		o.PingSender.Init(func() { c.post(request{kind: reqTick}) })
	}
	st := o.Persistence
	if st == nil {
		st = store.NewMemory()
	}
	if err := st.Open(o.ClientID, o.Servers[0]); err != nil {
		return nil, errwrap.Wrap("mqtt: opening the persistence store", err)
	}
	_, volatile := st.(*store.Memory)
	c.durable = !volatile
	c.syncer, _ = st.(store.Syncer)
	c.puts = &countingStore{Persistence: st}
	sess, err := session.New(session.Options{
		Store:       c.puts,
		MaxInFlight: o.MaxInFlight,
		KeepAlive:   max(o.KeepAlive, 0),
		PingTimeout: o.PingTimeout,
		ManualAcks:  true, // the client acks when the handler returns, or on Message.Ack
		Buffer: session.BufferOptions{Enabled: o.OfflineBuffer > 0, Size: o.OfflineBuffer,
			Persist: o.PersistOfflineBuffer, DropOldest: o.OfflineBufferDropOldest},
		Logger:     o.Logger,
		PingSender: o.PingSender,
		StrictAcks: true, // an ack nobody waits for ends the connection [MQTT-4.8.0-1]
	})
	if err != nil {
		_ = st.Close()
		return nil, errwrap.Wrap("mqtt: restoring the session", err)
	}
	c.own = owned{sess: sess, store: st}
	for _, out := range sess.Outstanding() {
		tok := newToken()
		tok.msgID.Store(uint64(out.ID))
		tok.id.Store(uint32(out.PacketID))
		tok.topic, tok.qos = out.Message.Topic, out.Message.QoS
		sess.SetTag(out.ID, tok)
		c.restored = append(c.restored, tok)
	}
	return c, nil
}

// RestoredTokens returns the tokens of the QoS 1 and 2 messages that New
// found in the store: sent by an earlier run of the process and not yet
// complete, or waiting in a persisted offline buffer (Paho's
// getPendingDeliveryTokens). They are in the order the messages go out
// again and complete as PublishAsync tokens do: at PUBACK or PUBCOMP after
// the resend, or with the error that ends them (a clean session that
// discards them, Close). The list is fixed at New; it is empty when the
// store held nothing.
func (c *Client) RestoredTokens() []*Token {
	return slices.Clone(c.restored)
}

// Options returns a copy of the options in force, defaults filled in. The
// password is left out, and so are the passwords of the server URIs
// (replaced by "xxxxx").
func (c *Client) Options() Options {
	o := c.opts.resolvedCopy()
	o.Password = nil
	for i, s := range o.Servers {
		o.Servers[i] = transport.Redact(s)
	}
	return o
}

// String describes the client for logs: its client id, its servers
// (passwords replaced by "xxxxx") and whether it is connected. It shows no
// password, so %v, %+v and %#v of a *Client are safe to log.
func (c *Client) String() string {
	b := make([]byte, 0, 128)
	b = strconv.AppendQuote(append(b, "client.Client{ClientID:"...), c.opts.ClientID)
	b = appendServers(append(b, " Servers:"...), c.opts.Servers)
	b = strconv.AppendBool(append(b, " Connected:"...), c.IsConnected())
	return string(append(b, '}'))
}

// GoString is String, so that %#v shows no password either.
func (c *Client) GoString() string { return c.String() }

func (o Options) resolvedCopy() Options {
	id := o.ClientID
	o = o.resolved()
	o.ClientID = id
	return o
}

// ClientID returns the client id in use (generated when Options.ClientID
// was empty).
func (c *Client) ClientID() string { return c.opts.ClientID }

// IsConnected reports whether the client has a connection past CONNACK.
func (c *Client) IsConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.online
}

// Handle routes messages whose topic matches filter to h without
// subscribing, replacing the handler of an earlier route for the same
// filter. Register routes before Connect for a persistent session: the
// server may send queued messages right after CONNACK. A nil h removes the
// route.
func (c *Client) Handle(filter string, h Handler) error {
	if err := packet.ValidateTopicFilter(filter); err != nil {
		return &argError{what: "topic filter", err: err}
	}
	if h == nil {
		c.router.remove(filter)
		return nil
	}
	c.router.add(filter, h)
	return nil
}

// Connect connects to the first server of Options.Servers that accepts,
// trying them in order, and starts the client's goroutines. It returns
// when a CONNACK accepted the connection, or with the error of the last
// attempt: a *ConnectError when the server refused, a transport error
// (*transport.DialError...) when it could not be reached, ErrNoCONNACK,
// the context's error. With Options.ConnectRetry it tries again with
// back-off until ctx ends.
//
// After a successful Connect, connection losses are handled by
// AutoReconnect, if set; otherwise the client waits for Connect again.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.running:
		c.mu.Unlock()
		return ErrAlreadyConnected
	}
	c.running = true
	c.quit = make(chan struct{})
	c.loopDone = make(chan struct{})
	c.disp = newDispatcher(c.opts.MessageQueue, c, c.disp)
	disp := c.disp
	quit, loopDone := c.quit, c.loopDone
	c.mu.Unlock()

	// The state owner makes the first connection on its own goroutine
	// and reports the outcome; it keeps the session until the client
	// stops connecting.
	m := &comms{c: c, own: &c.own, quit: quit, disp: disp}
	if c.syncer != nil {
		m.syncc = make(chan syncResult, 1)
	}
	first := make(chan error, 1)
	go func() {
		defer close(loopDone)
		m.run(ctx, first)
	}()
	if err := <-first; err != nil {
		<-loopDone // a failed Connect leaves nothing running
		return err
	}
	return nil
}

// Subscribe routes messages matching any of subs to h (h may be nil to use
// routes set with Handle, or the default handler) and subscribes. The route
// exists before the SUBSCRIBE is sent. It returns the SUBACK's code for
// each filter, in order: a granted QoS, or packet.SubackFailure when the
// server refused that filter (its route is then removed); that is a
// per-filter result, not an error of the call.
//
// Subscriptions are remembered and made again after a reconnect whose
// CONNACK says the server lost the session (unless Options.NoResubscribe).
func (c *Client) Subscribe(ctx context.Context, h Handler, subs ...Subscription) ([]packet.SubackCode, error) {
	if len(subs) == 0 {
		return nil, &argError{what: "subscription list", err: packet.ErrEmptyPayload}
	}
	subs = append([]Subscription(nil), subs...)
	for _, s := range subs {
		if err := packet.ValidateTopicFilter(s.Filter); err != nil {
			return nil, &argError{what: "topic filter", err: err}
		}
		if !s.QoS.Valid() {
			return nil, &argError{what: "QoS", err: packet.ErrInvalidQoS}
		}
	}
	var added []string // routes this call created, to undo when it fails
	if h != nil {
		for _, s := range subs {
			if !c.router.has(s.Filter) {
				added = append(added, s.Filter)
			}
			c.router.add(s.Filter, h)
		}
	}
	res, err := c.control(ctx, request{kind: reqSubscribe, subs: subs})
	if err == nil {
		err = res.err
	}
	if err != nil && ctx.Err() == nil {
		// Never sent, or lost with the connection: the route goes too.
		// (When ctx ended, the SUBSCRIBE may still be acknowledged; the
		// route stays for the messages that would follow.)
		for _, f := range added {
			c.router.remove(f)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return res.codes, nil
}

// Unsubscribe removes subscriptions and, once the server confirms, their
// routes.
func (c *Client) Unsubscribe(ctx context.Context, filters ...string) error {
	if len(filters) == 0 {
		return &argError{what: "filter list", err: packet.ErrEmptyPayload}
	}
	filters = append([]string(nil), filters...)
	for _, f := range filters {
		if err := packet.ValidateTopicFilter(f); err != nil {
			return &argError{what: "topic filter", err: err}
		}
	}
	res, err := c.control(ctx, request{kind: reqUnsubscribe, filters: filters})
	if err != nil {
		return err
	}
	return res.err
}

// control posts a subscribe or unsubscribe and waits for its ack.
func (c *Client) control(ctx context.Context, r request) (opResult, error) {
	r.reply = make(chan opResult, 1)
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return opResult{}, ErrClosed
	case !c.online || c.disconnecting:
		c.mu.Unlock()
		return opResult{}, ErrNotConnected
	}
	c.postLocked(r)
	c.mu.Unlock()
	select {
	case res := <-r.reply:
		return res, nil
	case <-ctx.Done():
		return opResult{}, context.Cause(ctx)
	}
}

// post hands r to the state owner, or handles it when there is none.
func (c *Client) post(r request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		if r.kind == reqCancel {
			c.cancelLocked(r.tok, r.err)
			close(r.done)
		}
		return
	}
	c.postLocked(r)
}

// postAcks hands a batch of acks from the dispatcher to the loop with one
// wake-up; without a loop they are dropped (the server sends the messages
// again).
func (c *Client) postAcks(acks []session.AckID) {
	if len(acks) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		c.postLocked(request{kind: reqAck, acks: acks})
	}
}

func (c *Client) postLocked(r request) {
	c.reqs = append(c.reqs, r)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}
