//go:build !linnet_nows

package transport

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
)

// writeRecorder records each Write on the connection under a wsConn.
type writeRecorder struct {
	byteConn
	writes [][]byte
}

func (c *writeRecorder) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

// TestWSConnOneWritePerFrame checks that a WebSocket Write reaches the
// connection as one write holding the frame header and the whole masked
// payload, for every frame up to the write chunk (every MQTT packet of up to
// about 16 KB), and that a larger frame never sends its header alone.
//
// A frame split into several writes lets its parts arrive apart; mosquitto's
// WebSocket listener (libwebsockets polled after epoll) then reads the rest
// in a pass after which it sends nothing until its next 100 ms wake-up, so
// that a one-at-a-time QoS 1 publish waits for its PUBACK up to 100 ms (see
// BenchmarkQoS1RoundTripMosquitto).
func TestWSConnOneWritePerFrame(t *testing.T) {
	for _, n := range []int{0, 1, 2, 125, 126, 127, 1000, 0xffff - 1, writeChunk - 8, writeChunk - 7, writeChunk, 0xffff, 0x10000, 100 << 10} {
		rec := &writeRecorder{}
		c := newWSConn(rec, bufio.NewReader(eofReader{}), true, DefaultMaxFrameSize)
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i*7 + 1)
		}
		if got, err := c.Write(payload); err != nil || got != n {
			t.Fatalf("Write(%d bytes) = %d, %v", n, got, err)
		}
		hdr := 2 + 4
		switch {
		case n > 0xffff:
			hdr += 8
		case n > 125:
			hdr += 2
		}
		wantWrites := 1
		if hdr+n > writeChunk {
			wantWrites = (hdr + n + writeChunk - 1) / writeChunk
		}
		if len(rec.writes) != wantWrites {
			t.Errorf("%d-byte payload: %d writes, want %d", n, len(rec.writes), wantWrites)
		}
		if first := len(rec.writes[0]); first < min(hdr+n, writeChunk) {
			t.Errorf("%d-byte payload: first write has %d bytes, want the header and payload (%d)", n, first, min(hdr+n, writeChunk))
		}
		// The bytes are one frame carrying the payload.
		wire := bytes.Join(rec.writes, nil)
		var r net.Conn = &byteConn{r: bytes.NewReader(wire)}
		srv := newWSConn(r, bufio.NewReader(r), false, DefaultMaxFrameSize)
		got, err := io.ReadAll(io.LimitReader(srv, int64(n)))
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%d-byte payload: server read %d bytes, %v", n, len(got), err)
		}
	}
}
