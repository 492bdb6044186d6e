package client

import (
	"net"
	"syscall"
	"time"
)

// Waiting for enough bytes (SO_RCVLOWAT).
//
// When the reader pauses (its coalescer is on, or answers are due), the
// point is to let packets gather so that one wake-up takes many. A plain
// sleep does not get that on its own: the connection's socket stays in the
// runtime's epoll set, so each packet that arrives during the pause wakes
// the thread that waits in epoll, only for it to find no goroutine waiting
// for the data and sleep again. That wake-up is paid twice: by this process,
// and by the broker, whose write runs the wake-up of the sleeping thread
// (on a two-core machine shared with mosquitto, waking our threads was most
// of the extra CPU mosquitto spent per message on Linnet compared to paho:
// docs/decisions.md).
//
// So on Linux, for a plain TCP connection, the reader pauses by raising the
// socket's receive low-water mark (SO_RCVLOWAT) to the bytes it expects
// and waiting, with a read deadline of the pause, for the socket to become
// readable. The kernel wakes no one until that many bytes are there: one
// wake-up per batch, or the deadline. The mark goes back to 1 at once, so
// every other read of the connection is as before.

// lowWaterMax bounds the low-water mark; lowWaterPackets bounds how many
// packets a pause waits for.
const (
	lowWaterMax     = 16 << 10
	lowWaterPackets = 64
	lowWaterStart   = 16
	lowWaterMin     = 4
)

// waiter waits for bytes on a connection's socket; nil where the
// connection has no socket of its own that supports it.
type waiter struct {
	conn *net.TCPConn
	raw  syscall.RawConn
	mark int // the low-water mark set now; 1 is the default
}

// wait waits until at least n bytes can be read (or the stream ended) or
// d has passed, whichever comes first, and reports whether the bytes came.
// It leaves the low-water mark at 1 and the connection without a read
// deadline, or closes the connection if the mark cannot be put back. When
// the mark cannot be raised it sleeps for d.
func (w *waiter) wait(n int, d time.Duration) bool {
	if n <= 1 || w.setMark(n) != nil {
		time.Sleep(d)
		return false
	}
	err := w.conn.SetReadDeadline(time.Now().Add(d))
	if err == nil {
		// Each call asks the socket: the first comes before any wait
		// (the bytes may be there already, and the runtime forgets a
		// readiness it saw before), a later one after a wake-up, which
		// may come for less than the mark (a small receive window).
		err = w.raw.Read(w.ready)
		_ = w.conn.SetReadDeadline(time.Time{})
	}
	if w.setMark(1) != nil {
		// A socket left with a raised mark would make a lone small
		// packet (a PINGRESP) wait for more: end the connection, which
		// the client then treats as lost.
		_ = w.conn.Close()
	}
	return err == nil
}

// lowWater picks the low-water mark for the reader's pauses: the expected
// packets times the average packet size of the last batch. The packets
// expected start at lowWaterStart; a pause that the bytes ended doubles
// them (up to lowWaterPackets), one that the deadline ended sets them to
// what it gathered (at least lowWaterMin), so the mark follows the rate
// the stream comes at within a pause. While answers are due (owed), the
// expected packets are at most half of them, since those are all that is
// sure to come (counted in the last batch's average size, so after large
// packets the mark may ask for more acks than that: the deadline bounds
// it).
type lowWater struct {
	packets int // expected in a pause
	size    int // average packet size of the last batch, in bytes
}

// target returns the low-water mark for a pause while owed answers are
// due (0: unknown, an inbound stream).
func (lw *lowWater) target(owed int) int {
	k := lw.packets
	if k == 0 {
		k = lowWaterStart
	}
	if owed > 0 {
		k = min(k, max(owed/2, 1))
	}
	return min(k*max(lw.size, 1), lowWaterMax)
}

// note records a batch of n packets of the given bytes in total; paused
// says a pause came before it, full that the bytes ended the pause.
func (lw *lowWater) note(n, bytes int, paused, full bool) {
	if n == 0 {
		return
	}
	lw.size = bytes / n
	if !paused {
		return
	}
	if lw.packets == 0 {
		lw.packets = lowWaterStart
	}
	if full {
		lw.packets = min(2*lw.packets, lowWaterPackets)
	} else {
		lw.packets = min(max(n, lowWaterMin), lowWaterPackets)
	}
}
