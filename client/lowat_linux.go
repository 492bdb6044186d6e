package client

import (
	"net"
	"syscall"
	"unsafe"
)

// newWaiter returns a waiter for conn when it is a plain TCP connection,
// else nil: a TLS or WebSocket connection may hold decoded bytes above its
// socket, which a wait on the socket would not see, and Unix sockets are
// left as they were.
func newWaiter(conn net.Conn) *waiter {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return &waiter{conn: tc, raw: raw, mark: 1}
}

// setMark sets the socket's SO_RCVLOWAT to n.
func (w *waiter) setMark(n int) error {
	if n == w.mark {
		return nil
	}
	var serr error
	if err := w.raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	}); err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	w.mark = n
	return nil
}

// ready reports whether the socket fd polls readable now (without
// waiting): at least the low-water mark's bytes are there, or the end of
// the stream, or an error.
func (w *waiter) ready(fd uintptr) bool {
	pfd := struct {
		fd             int32
		events, revent int16
	}{fd: int32(fd), events: 0x1} // POLLIN
	var now syscall.Timespec // zero: poll, do not wait
	n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1,
		uintptr(unsafe.Pointer(&now)), 0, 0, 0)
	return errno == 0 && n == 1 && pfd.revent != 0
}
