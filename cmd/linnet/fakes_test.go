package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
)

// linnetEnv is linnet with extra environment variables.
func linnetEnv(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, linnetBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running linnet %v: %v", args, err)
	}
	return result{code, out.String(), errOut.String()}
}

// maxInFlight reads a -d trace and returns the most QoS 1 PUBLISH packets
// sent and not yet acknowledged at any point.
func maxInFlight(trace string) int {
	n, most := 0, 0
	for _, line := range strings.Split(trace, "\n") {
		switch {
		case strings.Contains(line, "sending PUBLISH"):
			n++
			most = max(most, n)
		case strings.Contains(line, "received PUBACK"):
			n--
		}
	}
	return most
}

// mochiSubs returns the filters of a client's session in mochi.
func mochiSubs(t *testing.T, b *testbroker.Mochi, id string) []string {
	t.Helper()
	cl, ok := b.Server.Clients.Get(id)
	require.True(t, ok, "mochi has no session %q", id)
	var filters []string
	for f := range cl.State.Subscriptions.GetAll() {
		filters = append(filters, f)
	}
	return filters
}

// kick makes mochi drop a client's connection.
func kick(t *testing.T, b *testbroker.Mochi, id string) {
	t.Helper()
	cl, ok := b.Server.Clients.Get(id)
	require.True(t, ok, "mochi has no client %q", id)
	cl.Stop(errors.New("kicked by the test"))
}

// connectHook records the client ids that connected.
type connectHook struct {
	mqtt.HookBase
	mu  sync.Mutex
	ids []string
}

func (*connectHook) ID() string           { return "cli-test-connect" }
func (*connectHook) Provides(b byte) bool { return b == mqtt.OnConnect }
func (h *connectHook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids = append(h.ids, cl.ID)
	return nil
}

// last returns the last id that starts with prefix.
func (h *connectHook) last(prefix string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.ids) - 1; i >= 0; i-- {
		if strings.HasPrefix(h.ids[i], prefix) {
			return h.ids[i]
		}
	}
	return ""
}

// socksServer is a SOCKS5 proxy for the tests: it takes CONNECT with user
// name and password authentication, records the target, and connects
// every target to the broker.
type socksServer struct {
	addr   string
	mu     sync.Mutex
	last   string
	broker string
}

func (s *socksServer) target() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func startSOCKS(t *testing.T, broker, user, pass string) *socksServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &socksServer{addr: ln.Addr().String(), broker: broker}
	serveEach(t, ln, func(c net.Conn) {
		defer c.Close()
		s.serve(c, user, pass)
	})
	return s
}

// serveEach accepts connections on ln until the test ends and hands each to
// handle on a goroutine of its own; the cleanup closes ln and waits for them.
func serveEach(t *testing.T, ln net.Listener, handle func(net.Conn)) {
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { handle(c) })
		}
	})
}

func (s *socksServer) serve(c net.Conn, user, pass string) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var head [2]byte
	if _, err := io.ReadFull(c, head[:]); err != nil || head[0] != 5 {
		return
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(c, methods); err != nil || !bytes.Contains(methods, []byte{2}) {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, 2})
	readStr := func() string {
		var n [1]byte
		io.ReadFull(c, n[:])
		b := make([]byte, n[0])
		io.ReadFull(c, b)
		return string(b)
	}
	var ver [1]byte
	io.ReadFull(c, ver[:])
	u, p := readStr(), readStr()
	if u != user || p != pass {
		c.Write([]byte{1, 1})
		return
	}
	c.Write([]byte{1, 0})
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil || req[1] != 1 {
		return
	}
	var host string
	switch req[3] {
	case 1:
		ip := make([]byte, 4)
		io.ReadFull(c, ip)
		host = net.IP(ip).String()
	case 3:
		host = readStr()
	default:
		return
	}
	var port [2]byte
	io.ReadFull(c, port[:])
	s.mu.Lock()
	s.last = net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))
	s.mu.Unlock()
	up, err := net.Dial("tcp", s.broker)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
	_ = c.SetDeadline(time.Time{})
	pipe(c, up)
}

// pipe copies both ways until either side ends.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(a, b); done <- struct{}{} }()
	go func() { io.Copy(b, a); done <- struct{}{} }()
	<-done
	a.Close()
	b.Close()
	<-done
}

// startALPNFront starts a TLS front for the broker's plain listener, with
// the broker's certificate, and reports the ALPN protocols each client
// offered.
func startALPNFront(t *testing.T, b *testbroker.Mochi) (string, <-chan []string) {
	cert := b.Certs.Server.Cert
	protos := make(chan []string, 4)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"mqtt"},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			protos <- h.SupportedProtos
			return nil, nil
		}}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	serveEach(t, ln, func(c net.Conn) {
		up, err := net.Dial("tcp", b.TCPAddr)
		if err != nil {
			c.Close()
			return
		}
		pipe(c, up)
	})
	return ln.Addr().String(), protos
}
