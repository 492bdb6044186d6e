package client

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWaiter checks the wait on the socket's low-water mark over a real
// TCP connection: the socket polls readable only with the mark's bytes;
// fewer bytes than asked for do not end a wait (its deadline does), enough
// bytes or the end of the stream do, and either way the mark is back at 1
// and the connection has no read deadline left, so that reads go on as
// before.
// Connections that are not plain TCP get no waiter.
func TestWaiter(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	cli, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer cli.Close()
	srv := <-accepted
	require.NotNil(t, srv)
	defer srv.Close()

	w := newWaiter(cli)
	require.NotNil(t, w)
	mark := func() int {
		var v int
		var serr error
		require.NoError(t, w.raw.Control(func(fd uintptr) {
			v, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT)
		}))
		require.NoError(t, serr)
		return v
	}

	// ready, the check a wait makes before and after it sleeps: 10 bytes
	// poll readable under a mark of 10, not under a mark of 100.
	_, err = srv.Write(make([]byte, 10))
	require.NoError(t, err)
	require.NoError(t, w.setMark(10))
	require.Eventually(t, func() bool { return readyNow(w) }, 5*time.Second, time.Millisecond,
		"10 bytes under a mark of 10")
	require.NoError(t, w.setMark(100))
	require.Equal(t, 100, mark())
	require.False(t, readyNow(w), "10 bytes under a mark of 100")
	require.NoError(t, w.setMark(1))

	// 10 bytes, 100 wanted: only the deadline ends the wait.
	start := time.Now()
	require.False(t, w.wait(100, 20*time.Millisecond), "woken by fewer bytes than the mark")
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond, "ended before its deadline")
	require.Equal(t, 1, mark())
	buf := make([]byte, 200)
	_, err = io.ReadFull(cli, buf[:10]) // no deadline left behind
	require.NoError(t, err)

	// 100 bytes, 100 wanted: they end it before its deadline.
	_, err = srv.Write(make([]byte, 100))
	require.NoError(t, err)
	require.True(t, w.wait(100, 5*time.Second))
	require.Equal(t, 1, mark())
	_, err = io.ReadFull(cli, buf[:100])
	require.NoError(t, err)

	// The server closes: the end of the stream makes the socket readable
	// whatever the mark, so the wait ends before its deadline.
	require.NoError(t, srv.Close())
	require.True(t, w.wait(100, 5*time.Second))
	require.Equal(t, 1, mark())
	n, err := cli.Read(buf)
	require.Zero(t, n)
	require.ErrorIs(t, err, io.EOF)

	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	require.Nil(t, newWaiter(p1), "net.Pipe has no socket")
}

// readyNow runs w.ready on w's socket.
func readyNow(w *waiter) bool {
	var r bool
	_ = w.raw.Control(func(fd uintptr) { r = w.ready(fd) })
	return r
}
