package dms_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/mochifix"
	"github.com/linnet-mqtt/linnet/internal/mochistop"
)

// waitTimeout bounds every wait of these tests; it turns a hang into a
// failure and orders nothing.
const waitTimeout = 15 * time.Second

func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// authHook is the broker side of the DMS identity: the simulator's and the
// prober's own clients (user names starting with "sim-") pass; a device
// passes when client id = user name and the password is the MD5 of the
// scheme at the test's clock. It also records the heartbeats it sees, by
// client id, and counts subscriptions by client id.
type authHook struct {
	mqtt.HookBase
	clock *fakeClock
	beats chan string // client id of each heartbeat publish
	mu    sync.Mutex
	subs  map[string]int
}

func newAuthHook(clock *fakeClock) *authHook {
	return &authHook{clock: clock, beats: make(chan string, 100), subs: make(map[string]int)}
}

func (h *authHook) ID() string { return "dms-test-auth" }
func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck || b == mqtt.OnPublished || b == mqtt.OnSubscribed
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	if strings.HasPrefix(user, "sim-") {
		return true
	}
	return cl.ID == user && dms.CheckPassword(user, string(pk.Connect.Password), h.clock.Now())
}

func (h *authHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

func (h *authHook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if pk.TopicName == dms.DefaultHeartbeatTopic {
		select {
		case h.beats <- cl.ID:
		default:
		}
	}
}

func (h *authHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	h.mu.Lock()
	h.subs[cl.ID] += len(pk.Filters)
	h.mu.Unlock()
}

func (h *authHook) subscriptions(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs[id]
}

// broker is one embedded mochi broker with one TCP listener.
type broker struct {
	t    testing.TB
	hook *authHook
	addr string
	srv  *mqtt.Server
	down bool // srv was closed
}

func startBroker(t testing.TB, hook *authHook, addr string) *broker {
	t.Helper()
	b := &broker{t: t, hook: hook, addr: addr}
	b.start()
	t.Cleanup(b.close)
	return b
}

func (b *broker) start() {
	b.t.Helper()
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b.t, mochifix.AddTo(s, nil)) // the agent reconnects with its id at once
	require.NoError(b.t, s.AddHook(b.hook, nil))
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: b.addr})
	require.NoError(b.t, s.AddListener(l))
	require.NoError(b.t, s.Serve())
	b.addr = l.Address()
	b.srv = s
	b.down = false
}

// close stops the broker; every client loses its connection. mochi's Close
// may be called only once.
func (b *broker) close() {
	if !b.down {
		b.down = true
		_ = mochistop.Close(b.srv, "tcp") // mochi's own Close can deadlock
	}
}

func (b *broker) uri() string { return "tcp://" + b.addr }

// restart closes the broker (every client loses its connection) and starts
// a new one on the same address.
func (b *broker) restart() {
	b.t.Helper()
	b.close()
	b.start()
}

// recorder keeps the transitions of an agent and hands them out in order.
type recorder struct {
	mu      sync.Mutex
	list    []dms.Transition
	changed chan struct{}
	cursor  int
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) observe(tr dms.Transition) {
	r.mu.Lock()
	r.list = append(r.list, tr)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// next returns the next transition not yet returned.
func (r *recorder) next(t testing.TB) dms.Transition {
	t.Helper()
	ctx := waitCtx(t)
	for {
		r.mu.Lock()
		if r.cursor < len(r.list) {
			tr := r.list[r.cursor]
			r.cursor++
			r.mu.Unlock()
			return tr
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("no transition after %d: %v", r.cursor, r.all())
		}
	}
}

func (r *recorder) all() []dms.Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dms.Transition(nil), r.list...)
}

// expect checks that the next transitions are these events, in order, and
// returns them.
func (r *recorder) expect(t testing.TB, kinds ...dms.EventKind) []dms.Transition {
	t.Helper()
	out := make([]dms.Transition, len(kinds))
	for i, k := range kinds {
		out[i] = r.next(t)
		require.Equal(t, k, out[i].Event.Kind, "transition %d: %v", out[i].Seq, out[i])
	}
	return out
}

// logCatcher is a slog handler that passes the "err" attribute of records
// with a given message to a channel.
type logCatcher struct {
	msg  string
	errs chan error
}

func (h *logCatcher) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCatcher) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logCatcher) WithGroup(string) slog.Handler            { return h }
func (h *logCatcher) Handle(_ context.Context, r slog.Record) error {
	if r.Message != h.msg {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			if err, ok := a.Value.Any().(error); ok {
				h.errs <- err
			}
		}
		return true
	})
	return nil
}

// rrpcDevice answers RRPC requests by echo, except that it drops the next
// `drop` requests (signalling each on dropped) and garbles the next
// `garble` replies.
type rrpcDevice struct {
	drop    atomic.Int32
	garble  atomic.Int32
	dropped chan string
}

func newRRPCDevice() *rrpcDevice { return &rrpcDevice{dropped: make(chan string, 100)} }

func (d *rrpcDevice) handle(req *dms.RRPCRequest) ([]byte, error) {
	if d.drop.Add(-1) >= 0 {
		d.dropped <- req.MessageID
		return nil, errors.New("silenced by the test")
	}
	d.drop.Store(0)
	if d.garble.Add(-1) >= 0 {
		return []byte(`{"id":"other"}`), nil
	}
	d.garble.Store(0)
	return req.Payload, nil
}

// env is a redirect broker, a DMS broker, a simulator on both, a fake clock
// shared by the agents, the simulator and the brokers' password check.
type env struct {
	t        *testing.T
	clock    *fakeClock
	hook     *authHook
	redirect *broker
	dms      *broker
	sim      *dms.Simulator
	probers  int // made so far, for their client ids
}

// t0 is a fixed start time in the middle of a password window.
var t0 = time.Unix(1700000050, 0)

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := newFakeClock(t0)
	hook := newAuthHook(clock)
	e := &env{t: t, clock: clock, hook: hook,
		redirect: startBroker(t, hook, "127.0.0.1:0"),
		dms:      startBroker(t, hook, "127.0.0.1:0")}
	fast := client.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	sim, err := dms.NewSimulator(dms.SimulatorConfig{
		Redirect: client.Options{Servers: []string{e.redirect.uri()}, ClientID: "sim-redirect", Username: "sim-redirect"},
		DMS: &client.Options{Servers: []string{e.dms.uri()}, ClientID: "sim-dms", Username: "sim-dms",
			AutoReconnect: true, Backoff: fast},
		Clock: clock,
	})
	require.NoError(t, err)
	require.NoError(t, sim.Start(waitCtx(t)))
	t.Cleanup(func() { _ = sim.Stop(context.Background()) })
	e.sim = sim
	return e
}

// config is an agent configuration on the env: the fake clock, back-off
// without jitter (1 s, 2 s, 4 s...) and a fast real-time reconnect.
func (e *env) config(id string, rec *recorder) dms.Config {
	return dms.Config{
		DeviceID:         id,
		RedirectServer:   e.redirect.uri(),
		Clock:            e.clock,
		OnTransition:     rec.observe,
		Backoff:          client.Backoff{Min: time.Second, Max: 8 * time.Second, Rand: func() float64 { return 0 }},
		ReconnectBackoff: client.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	}
}

func (e *env) startAgent(cfg dms.Config) *dms.Agent {
	e.t.Helper()
	a, err := dms.NewAgent(cfg)
	require.NoError(e.t, err)
	require.NoError(e.t, a.Start())
	e.t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return a
}

// dmsClient returns a client of the back end's (id = user name, which the
// auth hook admits when it starts with "sim-") connected to the DMS broker,
// closed when the test ends.
func (e *env) dmsClient(id string) *client.Client {
	e.t.Helper()
	c, err := client.New(client.Options{Servers: []string{e.dms.uri()}, ClientID: id, Username: id})
	require.NoError(e.t, err)
	require.NoError(e.t, c.Connect(waitCtx(e.t)))
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (e *env) newProber(cfg dms.ProberConfig) *dms.Prober {
	e.t.Helper()
	// A client id of its own: a second "sim-prober" would take the first
	// one's session over while it still probes (TestProberPolicies keeps
	// two probers at once), and its replies would be lost.
	e.probers++
	c := e.dmsClient("sim-prober-" + strconv.Itoa(e.probers))
	p, err := dms.NewProber(waitCtx(e.t), c, cfg)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func stopAgent(t *testing.T, a *dms.Agent, rec *recorder) {
	t.Helper()
	require.NoError(t, a.Stop(waitCtx(t)))
	require.Equal(t, dms.StateStopped, a.State())
	trs := rec.all()
	require.Equal(t, dms.EventStopped, trs[len(trs)-1].Event.Kind)
	require.Equal(t, dms.EventStop, trs[len(trs)-2].Event.Kind)
}
