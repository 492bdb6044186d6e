//go:build !linnet_notls

package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/linnet-mqtt/linnet/internal/testcert"
)

// tlsPair returns the two ends of a TLS connection on 127.0.0.1: the
// client opened by Dial over the ssl scheme (the *tlsConn that classifies
// the late TLS 1.3 rejection) and the server, wrapped the same way.
func tlsPair(t *testing.T, l net.Listener, certs *testcert.Set) (client, server *tlsConn, err error) {
	type accepted struct {
		c   *tlsConn
		err error
	}
	done := make(chan accepted, 1)
	go func() {
		raw, err := l.Accept()
		if err != nil {
			done <- accepted{err: err}
			return
		}
		c := tls.Server(raw, certs.ServerTLSConfig())
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.Handshake(); err != nil {
			_ = c.Close()
			done <- accepted{err: err}
			return
		}
		_ = c.SetDeadline(time.Time{})
		done <- accepted{c: &tlsConn{Conn: c}}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := Dial(ctx, "ssl://"+l.Addr().String(), WithTLSConfig(&tls.Config{RootCAs: certs.Pool}))
	a := <-done
	if err != nil || a.err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		if a.c != nil {
			_ = a.c.Close()
		}
		return nil, nil, errors.Join(err, a.err)
	}
	tc, ok := conn.(*tlsConn)
	if !ok {
		_ = conn.Close()
		_ = a.c.Close()
		return nil, nil, errors.New("Dial over ssl did not return a *tlsConn")
	}
	return tc, a.c, nil
}

func tlsListener(t *testing.T) (net.Listener, *testcert.Set) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, testcert.New(t)
}

// tlsNettestEnv switches TestTLSConnNetConn into the child that runs the
// suite; without it the test starts that child itself.
const tlsNettestEnv = "LINNET_TRANSPORT_TEST_TLS_NETTEST_CHILD"

// tlsNettestChecks are the checks of nettest.TestConn that a TLS connection
// can pass. PastTimeout, FutureTimeout and ConcurrentMethods need a
// connection that still works after a Write timed out, and crypto/tls does
// not offer that: a timed-out Write may have sent part of a record, so every
// later Write returns the same error (see tls.Conn.SetWriteDeadline and the
// Limitations in doc.go; TestTLSConnClose checks it).
var tlsNettestChecks = []string{"BasicIO", "PingPong", "RacyRead", "RacyWrite",
	"ReadTimeout", "WriteTimeout", "PresentTimeout", "CloseTimeout"}

// TestTLSConnNetConn runs the net.Conn conformance suite of x/net over a
// pair of TLS connections built with the tlsConn wrapper on 127.0.0.1:
// reads and writes, concurrent use, deadlines, Close unblocking I/O.
// nettest.TestConn cannot skip checks, so the test runs this test binary
// again with -test.run selecting tlsNettestChecks, and requires each of
// them to pass there.
func TestTLSConnNetConn(t *testing.T) {
	if os.Getenv(tlsNettestEnv) == "" {
		pattern := "^TestTLSConnNetConn$/^(" + strings.Join(tlsNettestChecks, "|") + ")$"
		cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1", "-test.timeout=5m")
		cmd.Env = append(os.Environ(), tlsNettestEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nettest child: %v\n%s", err, out)
		}
		for _, name := range tlsNettestChecks {
			if !strings.Contains(string(out), "--- PASS: TestTLSConnNetConn/"+name+" ") {
				t.Errorf("nettest check %s did not pass:\n%s", name, out)
			}
		}
		return
	}
	l, certs := tlsListener(t)
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		cl, sv, err := tlsPair(t, l, certs)
		if err != nil {
			return nil, nil, nil, err
		}
		return cl, sv, func() { _ = cl.Close(); _ = sv.Close() }, nil
	})
}

// TestTLSConnClose checks the Close behaviour the package documents for TLS
// connections (those of the standard library): Close unblocks a pending
// Read and a pending Write, later Reads and Writes fail with net.ErrClosed,
// a second Close returns an error wrapping net.ErrClosed, and the peer sees
// a clean end of stream (close_notify) rather than a classified TLS error.
func TestTLSConnClose(t *testing.T) {
	l, certs := tlsListener(t)

	t.Run("pending Read", func(t *testing.T) {
		cl, sv, err := tlsPair(t, l, certs)
		if err != nil {
			t.Fatal(err)
		}
		defer sv.Close()
		errc := make(chan error, 1)
		go func() {
			_, err := cl.Read(make([]byte, 1))
			errc <- err
		}()
		if err := cl.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("pending Read = %v, want net.ErrClosed", err)
		}
		if _, err := sv.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("peer Read after Close = %v, want io.EOF (close_notify)", err)
		}
		if err := cl.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close = %v, want net.ErrClosed", err)
		}
		if _, err := cl.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close = %v, want net.ErrClosed", err)
		}
		if _, err := cl.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
		}
	})

	t.Run("pending Write", func(t *testing.T) {
		cl, sv, err := tlsPair(t, l, certs)
		if err != nil {
			t.Fatal(err)
		}
		defer sv.Close()
		errc := make(chan error, 1)
		go func() {
			// More than the socket buffers hold while the peer does not
			// read: the Write blocks until Close.
			_, err := cl.Write(make([]byte, 64<<20))
			errc <- err
		}()
		if err := cl.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Close = %v", err)
		}
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("pending Write = %v, want net.ErrClosed", err)
		}
		if err := cl.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close = %v, want net.ErrClosed", err)
		}
	})

	t.Run("write timeout is permanent", func(t *testing.T) {
		cl, sv, err := tlsPair(t, l, certs)
		if err != nil {
			t.Fatal(err)
		}
		defer sv.Close()
		defer cl.Close()
		_ = cl.SetWriteDeadline(time.Now().Add(-time.Second))
		_, err = cl.Write([]byte{1})
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Write past its deadline = %v, want a timeout", err)
		}
		_ = cl.SetWriteDeadline(time.Time{})
		if _, err := cl.Write([]byte{1}); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Write after a timed-out Write = %v, want the same timeout (crypto/tls keeps it)", err)
		}
	})
}
