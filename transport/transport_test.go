package transport_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/linnet-mqtt/linnet/internal/leaktest"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/transport"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestParseCommon checks the schemes present in every build: defaults,
// IPv6 literals, user information and what each scheme refuses.
func TestParseCommon(t *testing.T) {
	ok := []struct {
		in   string
		want transport.URI
		str  string
	}{
		{"tcp://broker", transport.URI{Scheme: "tcp", Host: "broker", Port: 1883}, "tcp://broker:1883"},
		{"TCP://Broker:1884", transport.URI{Scheme: "tcp", Host: "Broker", Port: 1884}, "tcp://Broker:1884"},
		{"mqtt://10.0.0.1", transport.URI{Scheme: "mqtt", Host: "10.0.0.1", Port: 1883}, "mqtt://10.0.0.1:1883"},
		{"tcp://[::1]:1883", transport.URI{Scheme: "tcp", Host: "::1", Port: 1883}, "tcp://[::1]:1883"},
		{"tcp://[::1]", transport.URI{Scheme: "tcp", Host: "::1", Port: 1883}, "tcp://[::1]:1883"},
		{"tcp://[fe80::1%25eth0]:1", transport.URI{Scheme: "tcp", Host: "fe80::1%eth0", Port: 1}, "tcp://[fe80::1%25eth0]:1"},
		{"tcp://host:65535/", transport.URI{Scheme: "tcp", Host: "host", Port: 65535}, "tcp://host:65535"},
		{"tcp://user:secret@host", transport.URI{Scheme: "tcp", Host: "host", Port: 1883, Username: "user", Password: "secret", HasPassword: true}, "tcp://user:xxxxx@host:1883"},
		{"tcp://user@host", transport.URI{Scheme: "tcp", Host: "host", Port: 1883, Username: "user"}, "tcp://user@host:1883"},
		{"unix:///run/mqtt.sock", transport.URI{Scheme: "unix", Path: "/run/mqtt.sock"}, "unix:///run/mqtt.sock"},
	}
	for _, c := range ok {
		u, err := transport.Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if d := cmp.Diff(c.want, *u, cmpopts.IgnoreUnexported(transport.URI{})); d != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", c.in, d)
		}
		if got := u.String(); got != c.str {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, got, c.str)
		}
		if err := transport.Validate(c.in); err != nil {
			t.Errorf("Validate(%q): %v", c.in, err)
		}
	}

	bad := []struct {
		in   string
		want error
	}{
		{"", transport.ErrMissingHost},
		{"broker:1883", transport.ErrUnexpectedPart},
		{"localhost:1883", transport.ErrUnexpectedPart}, // scheme "localhost", opaque "1883"
		{"//broker:1883", transport.ErrUnknownScheme},
		{"http://broker", transport.ErrUnknownScheme},
		{"tcp://", transport.ErrMissingHost},
		{"tcp://:1883", transport.ErrMissingHost},
		{"tcp://broker:0", transport.ErrBadPort},
		{"tcp://broker:65536", transport.ErrBadPort},
		{"tcp://broker:-1", transport.ErrBadPort},
		{"tcp://broker:abc", transport.ErrBadPort},
		{"tcp://broker:", transport.ErrBadPort},
		{"tcp://::1:1883", transport.ErrUnexpectedPart},
		{"tcp://broker/path", transport.ErrUnexpectedPart},
		{"tcp://broker?x=1", transport.ErrUnexpectedPart},
		{"tcp://broker?", transport.ErrUnexpectedPart},
		{"tcp://broker#frag", transport.ErrUnexpectedPart},
		{"unix://host/run/mqtt.sock", transport.ErrUnexpectedPart},
		{"unix://", transport.ErrMissingHost},
		{"unix:///run/mqtt.sock?x", transport.ErrUnexpectedPart},
		{"tcp://a b", transport.ErrInvalidURI},
	}
	for _, c := range bad {
		err := transport.Validate(c.in)
		var ue *transport.URIError
		if !errors.As(err, &ue) || !errors.Is(err, c.want) || !errors.Is(err, transport.ErrInvalidURI) {
			t.Errorf("Validate(%q) = %v, want a *URIError wrapping %v", c.in, err, c.want)
		}
	}
}

// TestURIErrorRedactsPassword checks that a password never reaches the
// error text, also when the URI does not parse.
func TestURIErrorRedactsPassword(t *testing.T) {
	for _, in := range []string{"tcp://u:hunter2@host:0", "tcp://u:hunter2@host:x", "bogus://u:hunter2@host"} {
		err := transport.Validate(in)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Validate(%q) = %v: want an error without the password", in, err)
		}
	}
	_, err := transport.Dial(ctxT(t), "tcp://u:hunter2@127.0.0.1:1",
		transport.WithDialer(func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("refused") }))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Dial error %v: want an error without the password", err)
	}
}

// pipeModule is a custom module that hands out one end of a net.Pipe.
type pipeModule struct{ conns chan net.Conn }

func (pipeModule) Validate(u *transport.URI) error { return transport.ValidateHostPort(u, 7) }
func (m pipeModule) Dial(_ context.Context, u *transport.URI, _ *transport.Config) (net.Conn, error) {
	a, b := net.Pipe()
	m.conns <- b
	return a, nil
}

// TestRegistry registers a new scheme and replaces a built-in one on a
// private registry, leaving Default untouched.
func TestRegistry(t *testing.T) {
	r := transport.NewRegistry()
	m := pipeModule{conns: make(chan net.Conn, 1)}
	r.Register("PIPE", m)
	if err := transport.Validate("pipe://x"); !errors.Is(err, transport.ErrUnknownScheme) {
		t.Fatalf("Default knows pipe: %v", err)
	}
	u, err := r.Parse("pipe://x")
	if err != nil || u.Port != 7 {
		t.Fatalf("Parse = %+v, %v; want port 7 from the module", u, err)
	}
	c, err := transport.Dial(ctxT(t), "pipe://x", transport.WithRegistry(r))
	if err != nil {
		t.Fatal(err)
	}
	peer := <-m.conns
	go func() { _, _ = peer.Write([]byte("hi")); _ = peer.Close() }()
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Fatalf("Read = %q, %v", buf, err)
	}
	_ = c.Close()

	r.Register("tcp", m) // replace a built-in
	c, err = transport.Dial(ctxT(t), "tcp://broker", transport.WithRegistry(r))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	_ = (<-m.conns).Close()

	r.Register("tcp", nil)
	if err := r.Validate("tcp://broker"); !errors.Is(err, transport.ErrUnknownScheme) {
		t.Fatalf("after removal: %v", err)
	}
	for _, s := range []string{"tcp", "mqtt", "unix"} {
		if transport.Default.Lookup(s) == nil {
			t.Errorf("Default lost %s", s)
		}
	}
}

// TestDialer checks that the dialer hook opens the underlying connection
// and sees the network and address.
func TestDialer(t *testing.T) {
	var got []string
	hook := func(ctx context.Context, network, addr string) (net.Conn, error) {
		got = append(got, network+" "+addr)
		return nil, errors.New("no network in this test")
	}
	for _, uri := range []string{"tcp://[::1]", "mqtt://example.invalid:99", "unix:///tmp/x.sock"} {
		_, err := transport.Dial(ctxT(t), uri, transport.WithDialer(hook))
		var de *transport.DialError
		if !errors.As(err, &de) {
			t.Errorf("Dial(%q) = %v, want *DialError", uri, err)
		}
	}
	want := []string{"tcp [::1]:1883", "tcp example.invalid:99", "unix /tmp/x.sock"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("dialer calls (-want +got):\n%s", d)
	}
}

// TestDialTimeout checks that the connect timeout bounds an open when the
// context has no deadline, and that the error says so.
func TestDialTimeout(t *testing.T) {
	hook := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	_, err := transport.Dial(context.Background(), "tcp://127.0.0.1:1",
		transport.WithDialer(hook), transport.WithConnectTimeout(10*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want context.DeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Dial = %v, want a net.Error with Timeout()", err)
	}
}

// TestTCPAndUnixMochi exchanges CONNECT and CONNACK with the embedded
// broker over tcp, mqtt and unix.
func TestTCPAndUnixMochi(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	for _, scheme := range []string{"tcp", "mqtt", "unix"} {
		t.Run(scheme, func(t *testing.T) {
			c, err := transport.Dial(ctxT(t), b.URI(scheme))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			testbroker.Handshake(t, c, "lnt-"+scheme)
		})
	}
}

// TestTCPMosquitto exchanges CONNECT and CONNACK with mosquitto over TCP.
func TestTCPMosquitto(t *testing.T) {
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{})
	c, err := transport.Dial(ctxT(t), m.URI())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testbroker.Handshake(t, c, "lnt-mosq-tcp")
}

// TestConnectRefused checks that a refused TCP connection is a DialError
// with the URI.
func TestConnectRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = transport.Dial(ctxT(t), "tcp://"+addr)
	var de *transport.DialError
	if !errors.As(err, &de) || de.URI != "tcp://"+addr {
		t.Fatalf("Dial = %v, want *DialError for tcp://%s", err, addr)
	}
}
