package client

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/internal/testcert"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// brokerTarget is one broker listener the scenarios run against.
type brokerTarget struct {
	name  string
	uri   string
	certs *testcert.Set
}

// brokers starts the brokers of the hermetic suite: mochi in process on
// TCP, TLS, WebSocket and WebSocket over TLS, and mosquitto on TCP when it
// is installed (required when LINNET_REQUIRE_MOSQUITTO=1).
func brokers(t *testing.T) []brokerTarget {
	t.Helper()
	m := testbroker.StartMochi(t, testbroker.MochiConfig{})
	ts := []brokerTarget{
		{"mochi-tcp", m.URI("tcp"), nil},
		{"mochi-tls", m.URI("ssl"), m.Certs},
		{"mochi-ws", m.URI("ws"), nil},
		{"mochi-wss", m.URI("wss"), m.Certs},
		{"mochi-unix", m.URI("unix"), nil},
	}
	if _, ok := testbroker.MosquittoPath(); ok {
		mq := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{TLS: true, WebSockets: true})
		ts = append(ts,
			brokerTarget{"mosquitto-tcp", mq.URI(), nil},
			brokerTarget{"mosquitto-tls", mq.TLSURI(), mq.Certs},
			brokerTarget{"mosquitto-ws", mq.WSURI(), nil})
	} else {
		testbroker.RequireMosquitto(t) // fails under LINNET_REQUIRE_MOSQUITTO=1
	}
	// Leave out the schemes this build does not have (linnet_notls,
	// linnet_nows).
	var avail []brokerTarget
	for _, b := range ts {
		if transport.Validate(b.uri) == nil {
			avail = append(avail, b)
		}
	}
	return avail
}

func (b brokerTarget) client(t testing.TB, id string, mod func(*Options)) *Client {
	t.Helper()
	o := Options{Servers: []string{b.uri}, ClientID: id, ConnectTimeout: 10 * time.Second}
	if b.certs != nil {
		o.Transport = []transport.Option{tlsOption(b.certs)}
	}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func (b brokerTarget) connected(t testing.TB, id string, mod func(*Options)) *Client {
	t.Helper()
	c := b.client(t, id, mod)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Connect(ctx))
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestBrokerQoSBothWays publishes 50 messages at each QoS through a real
// broker and checks that the subscriber gets them all, in order and once,
// on every transport, with Publish returning only at the end of the QoS
// flow.
func TestBrokerQoSBothWays(t *testing.T) {
	for _, b := range brokers(t) {
		t.Run(b.name, func(t *testing.T) {
			for qos := packet.QoS0; qos <= packet.QoS2; qos++ {
				t.Run(qos.String(), func(t *testing.T) {
					ctx := testCtx(t)
					topic := "both/" + b.name + "/" + qos.String()
					got := make(chan *Message, 100)
					sub := b.connected(t, "sub-"+b.name+qos.String(), nil)
					codes, err := sub.Subscribe(ctx, func(m *Message) { got <- m }, Subscription{Filter: topic, QoS: qos})
					require.NoError(t, err)
					require.Equal(t, []packet.SubackCode{packet.SubackCode(qos)}, codes)
					pub := b.connected(t, "pub-"+b.name+qos.String(), nil)
					const n = 50
					for i := 0; i < n; i++ {
						require.NoError(t, pub.Publish(ctx, topic, qos, false, []byte(strconv.Itoa(i))))
					}
					for i := 0; i < n; i++ {
						select {
						case m := <-got:
							require.Equal(t, strconv.Itoa(i), string(m.Payload))
							require.Equal(t, qos, m.QoS)
						case <-ctx.Done():
							t.Fatalf("message %d not received", i)
						}
					}
					require.NoError(t, pub.Disconnect(ctx))
					require.NoError(t, sub.Disconnect(ctx))
					select {
					case m := <-got:
						t.Fatalf("extra message %q", m.Payload)
					default:
					}
				})
			}
		})
	}
}

// TestBrokerRetained checks that a retained message reaches a later
// subscriber with the retain flag set.
func TestBrokerRetained(t *testing.T) {
	for _, b := range brokers(t) {
		if !strings.HasSuffix(b.name, "-tcp") {
			continue
		}
		ctx := testCtx(t)
		pub := b.connected(t, "ret-pub", nil)
		require.NoError(t, pub.Publish(ctx, "ret/t", 1, true, []byte("kept")))
		got := make(chan *Message, 1)
		sub := b.connected(t, "ret-sub", nil)
		_, err := sub.Subscribe(ctx, func(m *Message) {
			select { // never block the dispatcher: a second copy is dropped here
			case got <- m:
			default:
			}
		}, Subscription{Filter: "ret/#", QoS: 1})
		require.NoError(t, err)
		var m *Message
		select {
		case m = <-got:
		case <-ctx.Done():
			t.Fatalf("%s: no retained message: %v", b.name, ctx.Err())
		}
		require.True(t, m.Retain)
		require.Equal(t, "kept", string(m.Payload))
		require.NoError(t, pub.Publish(ctx, "ret/t", 1, true, nil)) // clear it
	}
}

// TestBrokerWillOnAbnormalLoss checks that Close (no DISCONNECT) makes the
// broker publish the will, and that Disconnect does not.
func TestBrokerWillOnAbnormalLoss(t *testing.T) {
	for _, b := range brokers(t) {
		if !strings.HasSuffix(b.name, "-tcp") {
			continue // one transport per broker is enough for the will
		}
		t.Run(b.name, func(t *testing.T) {
			ctx := testCtx(t)
			got := make(chan *Message, 2)
			watcher := b.connected(t, "will-watch", nil)
			_, err := watcher.Subscribe(ctx, func(m *Message) { got <- m }, Subscription{Filter: "will/#", QoS: 1})
			require.NoError(t, err)
			will := func(o *Options) { o.Will = &Will{Topic: "will/gone", Payload: []byte("bye"), QoS: 1} }
			graceful := b.connected(t, "will-graceful", will)
			require.NoError(t, graceful.Disconnect(ctx))
			abrupt := b.connected(t, "will-abrupt", will)
			require.NoError(t, abrupt.Close())
			m := <-got
			require.Equal(t, "will/gone", m.Topic)
			require.Equal(t, "bye", string(m.Payload))
			// A marker published after shows that no second will came first.
			require.NoError(t, watcher.Publish(ctx, "will/marker", 1, false, nil))
			require.Equal(t, "will/marker", (<-got).Topic)
		})
	}
}

// TestGoroutinesPerClient checks that a connected client runs at most
// three goroutines of its own (reader, loop, dispatcher), counted from the
// runtime's stacks, and none after Close.
func TestGoroutinesPerClient(t *testing.T) {
	b := brokers(t)[0]
	before := clientGoroutines()
	c := b.connected(t, "count", nil)
	_, err := c.Subscribe(testCtx(t), func(*Message) {}, Subscription{Filter: "count/#"})
	require.NoError(t, err)
	n := clientGoroutines() - before
	require.LessOrEqual(t, n, 3, "goroutines of one connected client")
	require.Greater(t, n, 0)
	require.NoError(t, c.Close())
	// The dispatcher ends after its current call; leaktest checks the rest.
}

// clientGoroutines counts the goroutines running code of this package,
// other than tests.
func clientGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		if strings.Contains(s, "linnet/client.") && !strings.Contains(s, "linnet/client.Test") &&
			!strings.Contains(s, "linnet/client.Benchmark") {
			n++
		}
	}
	return n
}

// TestInteropMosquittoClients checks interoperability with clients nobody
// here wrote: Linnet publishes and mosquitto_sub receives, and
// mosquitto_pub publishes and Linnet receives, at QoS 0, 1 and 2.
func TestInteropMosquittoClients(t *testing.T) {
	subBin, err1 := exec.LookPath("mosquitto_sub")
	pubBin, err2 := exec.LookPath("mosquitto_pub")
	if err1 != nil || err2 != nil {
		testbroker.RequireMosquitto(t)
		if os.Getenv("LINNET_REQUIRE_MOSQUITTO") == "1" {
			t.Fatal("mosquitto_pub/mosquitto_sub are not installed (apt-get install mosquitto-clients) and LINNET_REQUIRE_MOSQUITTO=1")
		}
		t.Skip("mosquitto_pub/mosquitto_sub not installed (apt-get install mosquitto-clients); skipping")
	}
	mq := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{})
	b := brokerTarget{"mosquitto", mq.URI(), nil}
	for qos := 0; qos <= 2; qos++ {
		t.Run(fmt.Sprintf("QoS%d", qos), func(t *testing.T) {
			ctx := testCtx(t)
			q := strconv.Itoa(qos)
			port := strconv.Itoa(mq.Port)
			// Linnet -> mosquitto_sub. A retained message published first
			// comes back as soon as mosquitto_sub has subscribed: its first
			// line says the subscription is in place.
			topic := "interop/out/" + q
			pub := b.connected(t, "interop-pub-"+q, nil)
			require.NoError(t, pub.Publish(ctx, topic, packet.QoS(qos), true, []byte("ready")))
			cmd := exec.CommandContext(ctx, subBin, "-h", "127.0.0.1", "-p", port, "-t", topic, "-q", q, "-C", "4", "-v")
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			lines := bufio.NewScanner(stdout)
			require.True(t, lines.Scan(), "mosquitto_sub printed nothing")
			require.Equal(t, topic+" ready", lines.Text())
			for i := 0; i < 3; i++ {
				require.NoError(t, pub.Publish(ctx, topic, packet.QoS(qos), false, []byte("m"+strconv.Itoa(i))))
			}
			for i := 0; i < 3; i++ {
				require.True(t, lines.Scan())
				require.Equal(t, topic+" m"+strconv.Itoa(i), lines.Text())
			}
			require.NoError(t, cmd.Wait())

			// mosquitto_pub -> Linnet.
			topic = "interop/in/" + q
			got := make(chan *Message, 3)
			sub := b.connected(t, "interop-sub-"+q, nil)
			_, err = sub.Subscribe(ctx, func(m *Message) { got <- m }, Subscription{Filter: topic, QoS: packet.QoS(qos)})
			require.NoError(t, err)
			for i := 0; i < 3; i++ {
				require.NoError(t, exec.CommandContext(ctx, pubBin, "-h", "127.0.0.1", "-p", port, "-t", topic,
					"-q", q, "-m", "p"+strconv.Itoa(i)).Run())
			}
			for i := 0; i < 3; i++ {
				m := <-got
				require.Equal(t, "p"+strconv.Itoa(i), string(m.Payload))
				require.Equal(t, packet.QoS(qos), m.QoS)
			}
		})
	}
}

// TestConcurrentUse publishes from 8 goroutines at once, subscribes and
// unsubscribes meanwhile, on one client, under the race detector: every
// message arrives and every call returns.
func TestConcurrentUse(t *testing.T) {
	b := brokers(t)[0]
	ctx := testCtx(t)
	got := make(chan struct{}, 1000)
	sub := b.connected(t, "conc-sub", nil)
	_, err := sub.Subscribe(ctx, func(*Message) { got <- struct{}{} }, Subscription{Filter: "conc/#", QoS: 1})
	require.NoError(t, err)
	pub := b.connected(t, "conc-pub", nil)
	const workers, each = 8, 100
	errs := make(chan error, workers+1)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				if err := pub.Publish(ctx, "conc/"+strconv.Itoa(w), packet.QoS(i%3), false, []byte("x")); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		for i := 0; i < 20; i++ {
			f := "other/" + strconv.Itoa(i)
			if _, err := pub.Subscribe(ctx, func(*Message) {}, Subscription{Filter: f}); err != nil {
				errs <- err
				return
			}
			if err := pub.Unsubscribe(ctx, f); err != nil {
				errs <- err
				return
			}
			_ = pub.IsConnected()
		}
		errs <- nil
	}()
	for i := 0; i < workers+1; i++ {
		require.NoError(t, <-errs)
	}
	for i := 0; i < workers*each; i++ {
		select {
		case <-got:
		case <-ctx.Done():
			t.Fatalf("%d of %d messages", i, workers*each)
		}
	}
}
