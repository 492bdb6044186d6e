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
// TCP connection: fewer bytes than asked for do not end it (its deadline
// does), enough bytes or the end of the stream do, and either way the
// mark is back at 1 and the connection has no read deadline left, so that
// reads go on as before.
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

	// 10 bytes, 100 wanted: the deadline ends the wait.
	_, err = srv.Write(make([]byte, 10))
	require.NoError(t, err)
	require.False(t, w.wait(100, 20*time.Millisecond), "woken by fewer bytes than the mark")
	require.Equal(t, 1, mark())
	buf := make([]byte, 200)
	_, err = io.ReadFull(cli, buf[:10]) // no deadline left behind
	require.NoError(t, err)

	// 100 bytes, 100 wanted: they end it long before its deadline.
	_, err = srv.Write(make([]byte, 100))
	require.NoError(t, err)
	require.True(t, w.wait(100, time.Hour))
	require.Equal(t, 1, mark())
	_, err = io.ReadFull(cli, buf[:100])
	require.NoError(t, err)

	// The server closes: the end of the stream makes the socket readable
	// whatever the mark, so the wait ends long before its deadline.
	require.NoError(t, srv.Close())
	require.True(t, w.wait(100, time.Hour))
	require.Equal(t, 1, mark())
	n, err := cli.Read(buf)
	require.Zero(t, n)
	require.ErrorIs(t, err, io.EOF)

	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	require.Nil(t, newWaiter(p1), "net.Pipe has no socket")
}
