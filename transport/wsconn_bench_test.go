//go:build !linnet_nows

package transport

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"testing"
)

// discardConn swallows writes.
type discardConn struct{ byteConn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }

// repeatReader serves the same frame forever.
type repeatReader struct {
	frame []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.frame[r.off:])
	r.off = (r.off + n) % len(r.frame)
	return n, nil
}

func newBenchWriter() *wsConn {
	return newWSConn(&discardConn{}, bufio.NewReader(eofReader{}), true, DefaultMaxFrameSize)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func newBenchReader(payload int) *wsConn {
	frame := []byte{0x82, 126, byte(payload >> 8), byte(payload)}
	frame = append(frame, make([]byte, payload)...)
	var c net.Conn = &byteConn{r: &repeatReader{frame: frame}}
	return newWSConn(c, bufio.NewReader(c), true, DefaultMaxFrameSize)
}

// TestWSConnZeroAlloc checks that writing and reading frames allocates
// nothing once the buffers are warm.
func TestWSConnZeroAlloc(t *testing.T) {
	w := newBenchWriter()
	msg := make([]byte, 1000)
	if a := testing.AllocsPerRun(100, func() { _, _ = w.Write(msg) }); a != 0 {
		t.Errorf("Write allocates %v times", a)
	}
	big := make([]byte, 100<<10)
	if a := testing.AllocsPerRun(20, func() { _, _ = w.Write(big) }); a != 0 {
		t.Errorf("large Write allocates %v times", a)
	}
	r := newBenchReader(1000)
	buf := make([]byte, 512)
	if a := testing.AllocsPerRun(100, func() { _, _ = r.Read(buf) }); a != 0 {
		t.Errorf("Read allocates %v times", a)
	}
}

func BenchmarkWSWrite(b *testing.B) {
	for _, size := range []int{64, 1024, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			w := newBenchWriter()
			msg := make([]byte, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				_, _ = w.Write(msg)
			}
		})
	}
}

func BenchmarkWSRead(b *testing.B) {
	for _, size := range []int{64, 1024, 60 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			r := newBenchReader(size)
			buf := make([]byte, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				_, _ = io.ReadFull(r, buf)
			}
		})
	}
}

func byteSize(n int) string {
	if n >= 1024 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
