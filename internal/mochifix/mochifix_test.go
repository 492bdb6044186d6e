package mochifix_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/internal/leaktest"
	"github.com/linnet-mqtt/linnet/internal/mochifix"
	"github.com/linnet-mqtt/linnet/internal/mochistop"
	"github.com/linnet-mqtt/linnet/packet"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// window holds the ending connection of client id "dev" inside mochi's
// race window: after its goroutine decided the session was not taken over
// and before it deletes the id from the client table (mochi calls
// OnUnsubscribed in between). It lets go once the new connection with the
// same id has either established its session (what happens without the
// fix: the delete then removes the new client) or started to wait for the
// old one (the fix).
type window struct {
	mqtt.HookBase
	inWindow chan struct{} // closed when the old connection is held
	release  chan struct{} // closed to let it go
	once     sync.Once
	held     atomic.Bool // the old connection reached the window
}

func (*window) ID() string { return "test-window" }
func (*window) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck ||
		b == mqtt.OnUnsubscribed || b == mqtt.OnSessionEstablished
}
func (*window) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (*window) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

func (w *window) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	// The clean-up of the ended connection: it unsubscribes its filters.
	if cl.ID != "dev" || !cl.Closed() || len(pk.Filters) == 0 || !w.held.CompareAndSwap(false, true) {
		return
	}
	close(w.inWindow)
	<-w.release
}

func (w *window) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if cl.ID == "dev" && w.held.Load() {
		w.letGo()
	}
}

func (w *window) letGo() { w.once.Do(func() { close(w.release) }) }

// TestReconnectSameIDKeepsSession connects "dev", subscribes, leaves with
// DISCONNECT, and connects "dev" again while the old connection sits in
// mochi's race window; the new connection's subscription must get a
// message. With the fix the new connection waits for the old clean-up;
// without it the clean-up deletes the new client (this test then fails).
func TestReconnectSameIDKeepsSession(t *testing.T) {
	for _, fixed := range []bool{true, false} {
		t.Run(map[bool]string{true: "fixed", false: "mochi alone"}[fixed], func(t *testing.T) {
			delivered := runReconnect(t, fixed)
			if fixed {
				require.True(t, delivered, "the new connection lost its session despite the fix")
			} else {
				// The race, shown deterministically: this documents why
				// the fix exists, and fails once mochi fixes it.
				require.False(t, delivered, "mochi no longer loses the session; mochifix can go")
			}
		})
	}
}

func runReconnect(t *testing.T, fixed bool) (delivered bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	w := &window{inWindow: make(chan struct{}), release: make(chan struct{})}
	defer w.letGo()
	waited := make(chan string, 1)
	if fixed {
		require.NoError(t, mochifix.AddTo(s, func(id string) {
			waited <- id
			w.letGo()
		}))
	}
	require.NoError(t, s.AddHook(w, nil))
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	require.NoError(t, s.AddListener(tcp))
	require.NoError(t, s.Serve())
	defer mochistop.Close(s, "t")
	uri := "tcp://" + tcp.Address()

	// The clients go before the server: mochi cannot close a connection
	// it lost from its client table, and would wait for it.
	var clients []*client.Client
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	newClient := func(id string) *client.Client {
		c, err := client.New(client.Options{Servers: []string{uri}, ClientID: id})
		require.NoError(t, err)
		clients = append(clients, c)
		return c
	}
	got := make(chan string, 1)
	handler := func(m *client.Message) {
		select {
		case got <- string(m.Payload):
		default:
		}
	}
	sub := client.Subscription{Filter: "dev/ctrl", QoS: packet.QoS1}

	old := newClient("dev")
	require.NoError(t, old.Connect(ctx))
	_, err := old.Subscribe(ctx, handler, sub)
	require.NoError(t, err)
	require.NoError(t, old.Disconnect(ctx))
	select {
	case <-w.inWindow:
	case <-ctx.Done():
		t.Fatal("the old connection's clean-up never reached the window")
	}

	cur := newClient("dev")
	require.NoError(t, cur.Connect(ctx))
	if fixed {
		require.Equal(t, "dev", <-waited)
	}
	_, err = cur.Subscribe(ctx, handler, sub)
	require.NoError(t, err)
	if !fixed {
		// The old connection was let go once the new one was established;
		// its goroutine's next step deletes "dev" from the client table,
		// which is what loses the new session. Wait for that outcome.
		for {
			if _, ok := s.Clients.Get("dev"); !ok {
				return false
			}
			select {
			case <-ctx.Done():
				t.Fatal("the old connection's clean-up did not delete the client id")
			case <-time.After(100 * time.Microsecond):
			}
		}
	}
	// With the fix the old connection's clean-up ended before the new
	// connection was registered: a message reaches the new subscription.
	pub := newClient("pub")
	require.NoError(t, pub.Connect(ctx))
	require.NoError(t, pub.Publish(ctx, "dev/ctrl", packet.QoS1, false, []byte("reboot")))
	select {
	case p := <-got:
		require.Equal(t, "reboot", p)
	case <-ctx.Done():
		t.Fatal("the new connection got no message: its session was lost")
	}
	reg, ok := s.Clients.Get("dev")
	require.True(t, ok)
	require.False(t, reg.Closed())
	return true
}
