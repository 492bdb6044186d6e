package client_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// FuzzClientAgainstServer holds the client to hostile servers: a fake server accepts the client's CONNECT with a
// CONNACK and then sends the fuzz input as its byte stream while the client
// publishes at QoS 1 and 2, subscribes and unsubscribes. Whatever arrives,
// the client must not panic, must notice the end of the connection with a
// typed *client.ConnectionLostError (it ends the connection itself on a
// protocol violation), every call must return within its context, Close
// must return, and no goroutine may be left behind.
//
// Seeds are the packet vectors of testdata/vectors and a few hand-picked
// server streams.
func FuzzClientAgainstServer(f *testing.F) {
	for _, seed := range vectorSeeds(f) {
		f.Add(seed)
	}
	for _, s := range []string{
		"90 03 00 03 02  40 02 00 01  50 02 00 02  70 02 00 02", // SUBACK, PUBACK, PUBREC, PUBCOMP
		"34 08 00 03 61 2f 62 00 05 78  62 02 00 05",            // QoS 2 PUBLISH, then its PUBREL
		"20 02 00 00",                               // a second CONNACK
		"32 07 00 03 61 2f 62 00 00",                // QoS 1 PUBLISH with packet id 0
		"36 07 00 03 61 2f 62 00 01",                // QoS 3
		"30 ff ff ff ff 7f",                         // a five-byte remaining length
		"40 02 ff ff",                               // PUBACK for an id never used
		"d0 00 d0 00 d0 00",                         // PINGRESPs nobody asked for
		"10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00", // a CONNECT from the server
	} {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		before := runtime.NumGoroutine()
		runAgainstServer(t, stream)
		// The client's goroutines end after Close; give those that are
		// winding down a bounded moment, then count.
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			runtime.Gosched()
			time.Sleep(time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}

func runAgainstServer(t *testing.T, stream []byte) {
	cli, srv := net.Pipe()
	var dials int
	var dialMu sync.Mutex
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		dialMu.Lock()
		defer dialMu.Unlock()
		dials++
		if dials > 1 {
			return nil, errors.New("fuzz server: one connection only")
		}
		return cli, nil
	}

	var server sync.WaitGroup
	server.Add(1)
	go func() { // the fake server
		defer server.Done()
		defer srv.Close()
		r := packet.NewReader(srv)
		if p, err := r.ReadPacket(); err != nil || p.Type() != packet.TypeConnect {
			return
		}
		drained := make(chan struct{})
		go func() { // read whatever the client sends, so its writes never block
			defer close(drained)
			for {
				if _, err := r.ReadPacket(); err != nil {
					var pe *packet.ProtocolError
					if errors.As(err, &pe) {
						t.Errorf("the client sent a malformed packet: %v", err)
					}
					return
				}
			}
		}()
		if _, err := srv.Write(append([]byte{0x20, 0x02, 0x00, 0x00}, stream...)); err == nil {
			_ = srv.Close()
		}
		_ = srv.Close()
		<-drained
	}()

	lost := make(chan error, 1)
	c, err := client.New(client.Options{
		Servers:          []string{"tcp://fuzz.invalid:1883"},
		ClientID:         "fuzz",
		KeepAlive:        client.KeepAliveOff,
		Version:          client.Version311,
		ConnectTimeout:   2 * time.Second,
		WriteTimeout:     2 * time.Second,
		Transport:        []transport.Option{transport.WithDialer(dial)},
		OnConnectionLost: func(err error) { lost <- err },
		DefaultHandler:   func(*client.Message) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		// The CONNACK is valid, but the rest of the stream may end the
		// connection before Connect returns; the error must say why.
		requireTyped(t, "Connect", err)
	} else {
		var ops sync.WaitGroup
		opCtx, opCancel := context.WithTimeout(ctx, time.Second)
		defer opCancel()
		calls := []func() error{
			func() error { return c.Publish(opCtx, "a/b", 1, false, []byte("one")) },
			func() error { return c.Publish(opCtx, "a/c", 2, false, []byte("two")) },
			func() error {
				_, err := c.Subscribe(opCtx, nil, client.Subscription{Filter: "a/#", QoS: 2})
				return err
			},
			func() error { return c.Unsubscribe(opCtx, "a/#") },
		}
		for _, call := range calls {
			ops.Add(1)
			go func() {
				defer ops.Done()
				if err := call(); err != nil {
					requireTyped(t, "a call", err)
				}
			}()
		}
		select {
		case err := <-lost:
			var cl *client.ConnectionLostError
			if !errors.As(err, &cl) || !errors.Is(err, net.ErrClosed) {
				t.Errorf("connection lost with %T %v; want a *client.ConnectionLostError matching net.ErrClosed", err, err)
			}
		case <-ctx.Done():
			t.Errorf("the server closed the connection, but the client did not notice within 5 s")
		}
		waitOrFail(t, "the calls to return", ops.Wait)
	}
	waitOrFail(t, "Close to return", func() { _ = c.Close() })
	waitOrFail(t, "the fake server to end", server.Wait)
}

// requireTyped fails t unless err is one of the client's documented
// errors: a context error, a lost or closed connection, a refusal, a
// handshake failure or a protocol violation.
func requireTyped(t *testing.T, what string, err error) {
	t.Helper()
	var (
		cl *client.ConnectionLostError
		hs *client.HandshakeError
		ce *client.ConnectError
		ve *client.ViolationError
		pe *packet.ProtocolError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, client.ErrClosed), errors.Is(err, client.ErrNotConnected),
		errors.As(err, &cl), errors.As(err, &hs), errors.As(err, &ce), errors.As(err, &ve), errors.As(err, &pe):
	default:
		t.Errorf("%s failed with %T %v, not a documented error", what, err, err)
	}
}

// waitOrFail runs f and fails t if it has not returned within 5 s: a
// deadlock.
func waitOrFail(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		buf := make([]byte, 1<<16)
		t.Fatalf("deadlock: waited 5 s for %s\n%s", what, buf[:runtime.Stack(buf, true)])
	}
}

// vectorSeeds returns the bytes of every vector in testdata/vectors.
func vectorSeeds(f *testing.F) [][]byte {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "vectors", "*.txt"))
	if err != nil {
		f.Fatal(err)
	}
	var seeds [][]byte
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		var cur []byte
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "name:") && len(cur) > 0 {
				seeds = append(seeds, cur)
				cur = nil
			}
			rest, ok := strings.CutPrefix(line, "hex:")
			if !ok {
				continue
			}
			if i := strings.IndexByte(rest, '#'); i >= 0 {
				rest = rest[:i]
			}
			b, err := hex.DecodeString(strings.Join(strings.Fields(rest), ""))
			if err != nil {
				f.Fatalf("%s: %v", name, err)
			}
			cur = append(cur, b...)
		}
		if len(cur) > 0 {
			seeds = append(seeds, cur)
		}
		fh.Close()
	}
	return seeds
}
