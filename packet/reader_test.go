package packet_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

// cycleReader returns the same bytes over and over, as a connection that
// carries the same packet forever; it lets steady-state reads be measured.
type cycleReader struct {
	b   []byte
	off int
}

func (c *cycleReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.b[c.off:])
		n += k
		c.off = (c.off + k) % len(c.b)
	}
	return n, nil
}

// funcReader turns a function into an io.Reader.
type funcReader func(p []byte) (int, error)

func (f funcReader) Read(p []byte) (int, error) { return f(p) }

func mustAppend(t testing.TB, p packet.Packet) []byte {
	t.Helper()
	b, err := p.Append(nil)
	require.NoError(t, err)
	return b
}

// validVectors returns the valid vectors and their bytes back to back.
func validVectors(t testing.TB) ([]vector, []byte) {
	var vs []vector
	var stream []byte
	for _, v := range loadVectors(t) {
		if v.want != nil {
			vs = append(vs, v)
			stream = append(stream, v.wire...)
		}
	}
	return vs, stream
}

func readAll(t *testing.T, r *packet.Reader, want []vector) {
	t.Helper()
	for _, v := range want {
		p, err := r.ReadPacket()
		require.NoError(t, err, v.name)
		if d := cmp.Diff(v.want, p, equateEmpty); d != "" {
			t.Fatalf("%s (-want +got):\n%s", v.name, d)
		}
	}
	p, err := r.ReadPacket()
	require.ErrorIs(t, err, io.EOF, "after the last packet: %v", p)
}

// TestReaderManyPacketsInOneRead reads every valid vector from one buffer
// that a single Read returns whole.
func TestReaderManyPacketsInOneRead(t *testing.T) {
	vs, stream := validVectors(t)
	readAll(t, packet.NewReader(bytes.NewReader(stream)), vs)
}

// TestReaderOneByteReads reads every valid vector through a stream that
// returns one byte per Read, so that every packet and every fixed header is
// split across reads.
func TestReaderOneByteReads(t *testing.T) {
	vs, stream := validVectors(t)
	readAll(t, packet.NewReader(iotest.OneByteReader(bytes.NewReader(stream))), vs)
}

// TestReaderHalfReads splits the stream at other places than byte ends.
func TestReaderHalfReads(t *testing.T) {
	vs, stream := validVectors(t)
	readAll(t, packet.NewReader(iotest.HalfReader(bytes.NewReader(stream))), vs)
}

// TestReaderDataWithEOF reads from a stream whose last Read returns the
// final bytes together with io.EOF: the last packet is still returned, then
// io.EOF.
func TestReaderDataWithEOF(t *testing.T) {
	vs, stream := validVectors(t)
	readAll(t, packet.NewReader(iotest.DataErrReader(bytes.NewReader(stream))), vs)
	// The same with the last packet alone in one Read.
	one := mustAppend(t, &packet.Puback{PacketID: 9})
	r := packet.NewReader(iotest.DataErrReader(bytes.NewReader(one)))
	p, err := r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, &packet.Puback{PacketID: 9}, p)
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, io.EOF)
}

// TestReaderErrorWithData checks that a stream error that comes with the
// bytes completing a packet is returned after that packet, and again after.
func TestReaderErrorWithData(t *testing.T) {
	boom := errors.New("boom")
	wire := mustAppend(t, &packet.Pingresp{})
	done := false
	r := packet.NewReader(funcReader(func(p []byte) (int, error) {
		if done {
			t.Fatal("Read called after an error")
		}
		done = true
		return copy(p, wire), boom
	}))
	p, err := r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, packet.TypePingresp, p.Type())
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, boom)
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, boom)
}

// TestReaderEOF checks how a stream's end is reported: io.EOF between
// packets, io.ErrUnexpectedEOF inside the fixed header or the body.
func TestReaderEOF(t *testing.T) {
	wire := mustAppend(t, &packet.Publish{QoS: 1, PacketID: 1, Topic: "a/b", Payload: []byte("xyz")})
	_, err := packet.NewReader(bytes.NewReader(nil)).ReadPacket()
	require.ErrorIs(t, err, io.EOF)
	require.NotErrorIs(t, err, io.ErrUnexpectedEOF)

	r := packet.NewReader(bytes.NewReader(wire))
	_, err = r.ReadPacket()
	require.NoError(t, err)
	_, err = r.ReadPacket()
	require.Equal(t, io.EOF, err)

	for _, cut := range []int{1, 2, 5, len(wire) - 1} {
		r := packet.NewReader(bytes.NewReader(wire[:cut]))
		_, err := r.ReadPacket()
		require.Equal(t, io.ErrUnexpectedEOF, err, "cut at %d", cut)
	}
	// A header whose remaining length is cut: 0x30 0x80 then EOF.
	_, err = packet.NewReader(bytes.NewReader([]byte{0x30, 0x80})).ReadPacket()
	require.Equal(t, io.ErrUnexpectedEOF, err)
}

// TestReaderNoProgress checks that a stream returning (0, nil) forever ends
// with io.ErrNoProgress instead of spinning, and that a few empty reads, which
// io.Reader allows, are waited out.
func TestReaderNoProgress(t *testing.T) {
	calls := 0
	_, err := packet.NewReader(funcReader(func([]byte) (int, error) { calls++; return 0, nil })).ReadPacket()
	require.ErrorIs(t, err, io.ErrNoProgress)
	require.Less(t, calls, 1000)

	wire := mustAppend(t, &packet.Puback{PacketID: 3})
	src := bytes.NewReader(wire)
	n := 0
	r := packet.NewReader(funcReader(func(p []byte) (int, error) {
		if n++; n%3 != 0 { // two empty reads before each byte
			return 0, nil
		}
		return src.Read(p[:1])
	}))
	p, err := r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, &packet.Puback{PacketID: 3}, p)
	// In the middle of a body too.
	calls = 0
	r = packet.NewReader(funcReader(func(p []byte) (int, error) {
		if calls++; calls == 1 {
			return copy(p, wire[:3]), nil
		}
		return 0, nil
	}))
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, io.ErrNoProgress)
}

// TestReaderImpossibleCount checks that a broken io.Reader that claims more
// bytes than it was given is an error, not a panic.
func TestReaderImpossibleCount(t *testing.T) {
	for _, n := range []int{-1, 1 << 20} {
		_, err := packet.NewReader(funcReader(func([]byte) (int, error) { return n, nil })).ReadPacket()
		require.Error(t, err)
	}
}

// TestReaderRemainingLengthTooLong checks §2.2.3: a remaining length of
// more than four bytes is malformed, without waiting for more bytes.
func TestReaderRemainingLengthTooLong(t *testing.T) {
	r := packet.NewReader(bytes.NewReader([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}))
	_, err := r.ReadPacket()
	require.ErrorIs(t, err, packet.ErrMalformed)
	require.ErrorIs(t, err, &packet.ProtocolError{Rule: "§2.2.3"})
	// Four continuation bytes are enough to know, whatever follows.
	r = packet.NewReader(io.MultiReader(bytes.NewReader([]byte{0x30, 0x80, 0x80, 0x80, 0x80}), funcReader(func([]byte) (int, error) {
		t.Fatal("read past the fifth header byte")
		return 0, nil
	})))
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, &packet.ProtocolError{Rule: "§2.2.3"})
}

// bytesAllocated returns how many bytes f allocates on the heap.
func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestReaderMaxPacketSize checks that the limit is enforced from the fixed
// header alone: a stream that announces 200 MB and sends nothing more fails
// with ErrPacketTooLarge having allocated a few KB at most.
func TestReaderMaxPacketSize(t *testing.T) {
	announce := packet.AppendRemainingLength([]byte{0x30}, 200<<20)
	var err error
	n := bytesAllocated(func() {
		r := packet.NewReader(bytes.NewReader(announce))
		r.SetMaxPacketSize(1 << 20)
		_, err = r.ReadPacket()
	})
	require.ErrorIs(t, err, packet.ErrPacketTooLarge)
	require.ErrorIs(t, err, packet.ErrProtocol)
	var pe *packet.ProtocolError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, packet.TypePublish, pe.Type)
	require.Less(t, n, uint64(16<<10), "bytes allocated")

	// Without a limit, the announced size is not allocated up front either:
	// the buffer grows only as bytes arrive.
	n = bytesAllocated(func() {
		_, err = packet.NewReader(bytes.NewReader(announce)).ReadPacket()
	})
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Less(t, n, uint64(16<<10), "bytes allocated")

	// A packet exactly at the limit passes, one byte over fails.
	pub := &packet.Publish{Topic: "t", Payload: make([]byte, 100)}
	wire := mustAppend(t, pub)
	r := packet.NewReader(bytes.NewReader(append(wire, wire...)))
	r.SetMaxPacketSize(len(wire))
	require.Equal(t, len(wire), r.MaxPacketSize())
	_, err = r.ReadPacket()
	require.NoError(t, err)
	r.SetMaxPacketSize(len(wire) - 1)
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, packet.ErrPacketTooLarge)

	r.SetMaxPacketSize(0)
	require.Equal(t, packet.MaxPacketSize, r.MaxPacketSize())
	r.SetMaxPacketSize(packet.MaxPacketSize + 1)
	require.Equal(t, packet.MaxPacketSize, r.MaxPacketSize())
}

// TestReaderShrinks checks that one large packet does not pin a large
// buffer for the rest of the connection.
func TestReaderShrinks(t *testing.T) {
	big := mustAppend(t, &packet.Publish{Topic: "big", Payload: make([]byte, 1<<20)})
	small := mustAppend(t, &packet.Publish{Topic: "small", Payload: []byte("x")})
	r := packet.NewReader(io.MultiReader(bytes.NewReader(big), bytes.NewReader(small)))
	p, err := r.ReadPacket()
	require.NoError(t, err)
	require.Len(t, p.(*packet.Publish).Payload, 1<<20)
	require.GreaterOrEqual(t, packet.BufferCap(r), 1<<20)
	p, err = r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, "small", p.(*packet.Publish).Topic)
	require.LessOrEqual(t, packet.BufferCap(r), packet.DefaultReadBufferSize)
}

// TestReaderBuffered checks Buffered while packets wait in the buffer.
func TestReaderBuffered(t *testing.T) {
	one := mustAppend(t, &packet.Puback{PacketID: 1})
	r := packet.NewReader(bytes.NewReader(append(one, one...)))
	require.Equal(t, 0, r.Buffered())
	_, err := r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, len(one), r.Buffered())
}

// TestReaderReset checks that Reset drops buffered bytes and a pending
// error and reads the new stream, without allocating.
func TestReaderReset(t *testing.T) {
	one := mustAppend(t, &packet.Puback{PacketID: 1})
	two := mustAppend(t, &packet.Puback{PacketID: 2})
	r := packet.NewReader(iotest.DataErrReader(bytes.NewReader(append(one, one...))))
	r.SetMaxPacketSize(100)
	_, err := r.ReadPacket()
	require.NoError(t, err)
	require.NotZero(t, r.Buffered())
	src := bytes.NewReader(two)
	r.Reset(src)
	require.Zero(t, r.Buffered())
	require.Equal(t, 100, r.MaxPacketSize())
	p, err := r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, &packet.Puback{PacketID: 2}, p)
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, io.EOF)

	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(two)
		r.Reset(src)
		if _, err := r.ReadPacket(); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

// TestReaderSteadyStateAllocs checks the promise of the package: reading
// PUBLISH packets on a known topic from a Reader allocates nothing once the
// buffer has grown, for small and large payloads.
func TestReaderSteadyStateAllocs(t *testing.T) {
	for _, size := range []int{64, 4096} {
		pub := &packet.Publish{QoS: 1, PacketID: 0x1234, Topic: benchTopic, Payload: bytes.Repeat([]byte{'x'}, size)}
		r := packet.NewReader(&cycleReader{b: mustAppend(t, pub)})
		for range 3 { // warm up: the buffer grows and the topic is interned
			_, err := r.ReadPacket()
			require.NoError(t, err)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			p, err := r.ReadPacket()
			if err != nil || len(p.(*packet.Publish).Payload) != size {
				t.Fatal(p, err)
			}
		})
		require.Zero(t, allocs, "payload %d", size)
	}
	// The other packets a client reads decode without allocating too.
	for _, p := range []packet.Packet{&packet.Puback{PacketID: 1}, &packet.Pubrec{PacketID: 1},
		&packet.Pubrel{PacketID: 1}, &packet.Pubcomp{PacketID: 1}, &packet.Connack{},
		&packet.Suback{PacketID: 1, ReturnCodes: []packet.SubackCode{0, 1, 0x80}},
		&packet.Unsuback{PacketID: 1}, &packet.Pingresp{}} {
		r := packet.NewReader(&cycleReader{b: mustAppend(t, p)})
		_, err := r.ReadPacket()
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := r.ReadPacket(); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs, "%v", p.Type())
	}
}

// TestReaderPacketsAreReused documents the ownership rule: the packet a
// Reader returns is overwritten by the next read of the same type, and Clone
// keeps a copy.
func TestReaderPacketsAreReused(t *testing.T) {
	a := mustAppend(t, &packet.Publish{Topic: "a", Payload: []byte("first")})
	b := mustAppend(t, &packet.Publish{Topic: "b", Payload: []byte("other")})
	r := packet.NewReader(bytes.NewReader(append(a, b...)))
	p1, err := r.ReadPacket()
	require.NoError(t, err)
	kept := packet.Clone(p1)
	_, err = r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, "b", p1.(*packet.Publish).Topic)
	require.Equal(t, &packet.Publish{Topic: "a", Payload: []byte("first")}, kept)
}

// TestReaderProtocolErrors checks that a malformed packet inside a stream is
// reported as a *ProtocolError by the Reader as by Decode (the vectors check
// each rule; this checks the error passes through the Reader unchanged).
func TestReaderProtocolErrors(t *testing.T) {
	good := mustAppend(t, &packet.Pingreq{})
	bad := []byte{0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01} // QoS 3
	r := packet.NewReader(bytes.NewReader(append(good, bad...)))
	_, err := r.ReadPacket()
	require.NoError(t, err)
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, &packet.ProtocolError{Rule: "MQTT-3.3.1-4"})
	require.ErrorIs(t, err, packet.ErrInvalidQoS)
}

// TestReaderTopicCacheKeepsChecks checks that the Reader's memory of checked
// topics never lets a bad one through: a string that passed as a filter or
// as a client id is still refused as a topic name [MQTT-3.3.2-2], and a bad
// topic after many good ones is refused [MQTT-4.7.1-2].
func TestReaderTopicCacheKeepsChecks(t *testing.T) {
	var stream []byte
	add := func(p packet.Packet) {
		b, err := packet.AppendIllegal(nil, p)
		require.NoError(t, err)
		stream = append(stream, b...)
	}
	add(&packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, ClientID: "a/#"})
	add(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a/#"}}})
	for range 3 {
		add(&packet.Publish{Topic: "a/b"})
	}
	add(&packet.Publish{Topic: "a/#"})
	r := packet.NewReader(bytes.NewReader(stream))
	for range 5 {
		_, err := r.ReadPacket()
		require.NoError(t, err)
	}
	_, err := r.ReadPacket()
	require.ErrorIs(t, err, &packet.ProtocolError{Rule: "MQTT-3.3.2-2"})

	stream = stream[:0]
	add(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a/b"}}})
	add(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a/b#"}}})
	r = packet.NewReader(bytes.NewReader(stream))
	_, err = r.ReadPacket()
	require.NoError(t, err)
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, &packet.ProtocolError{Rule: "MQTT-4.7.1-2"})
}

// TestReaderBufferSize checks how the buffer is sized: a Reader that reads
// the few small packets of an idle connection holds InitialReadBufferSize
// bytes; one whose stream keeps every Read full doubles up to
// DefaultReadBufferSize, and then reads without allocating.
func TestReaderBufferSize(t *testing.T) {
	ack := mustAppend(t, &packet.Connack{})
	r := packet.NewReader(bytes.NewReader(append(ack, mustAppend(t, &packet.Pingresp{})...)))
	for range 2 {
		_, err := r.ReadPacket()
		require.NoError(t, err)
	}
	require.Equal(t, packet.InitialReadBufferSize, packet.BufferCap(r))

	pub := mustAppend(t, &packet.Publish{QoS: 1, PacketID: 7, Topic: "a/b", Payload: make([]byte, 64)})
	r = packet.NewReader(&cycleReader{b: pub})
	for range 200 {
		_, err := r.ReadPacket()
		require.NoError(t, err)
	}
	require.Equal(t, packet.DefaultReadBufferSize, packet.BufferCap(r))
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.ReadPacket(); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
	require.Equal(t, packet.DefaultReadBufferSize, packet.BufferCap(r))
}

// TestReaderReady checks that Ready is true exactly when ReadPacket can
// answer from what is buffered, and that packets taken while it is true
// stay intact (no refill moves the buffer under them).
func TestReaderReady(t *testing.T) {
	one := mustAppend(t, &packet.Publish{QoS: 1, PacketID: 1, Topic: "a", Payload: []byte("first")})
	two := mustAppend(t, &packet.Publish{QoS: 1, PacketID: 2, Topic: "b", Payload: []byte("second")})
	three := mustAppend(t, &packet.Puback{PacketID: 3})
	stream := append(append(append([]byte(nil), one...), two...), three[:1]...)
	r := packet.NewReader(io.MultiReader(bytes.NewReader(stream), bytes.NewReader(three[1:])))
	require.False(t, r.Ready(), "nothing read yet")
	p, err := r.ReadPacket()
	require.NoError(t, err)
	first := *p.(*packet.Publish)
	require.True(t, r.Ready(), "the second packet is buffered")
	p, err = r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, "second", string(p.(*packet.Publish).Payload))
	require.Equal(t, "first", string(first.Payload), "still intact")
	require.False(t, r.Ready(), "one byte of the third packet only")
	p, err = r.ReadPacket()
	require.NoError(t, err)
	require.Equal(t, &packet.Puback{PacketID: 3}, p)
	require.False(t, r.Ready())

	// What fails from the buffer is Ready too: ReadPacket does not block.
	r = packet.NewReader(bytes.NewReader(append(mustAppend(t, &packet.Pingresp{}), 0xff, 0xff, 0xff, 0xff, 0xff)))
	_, err = r.ReadPacket()
	require.NoError(t, err)
	require.True(t, r.Ready())
	_, err = r.ReadPacket()
	require.Error(t, err)
	r = packet.NewReader(bytes.NewReader(append(mustAppend(t, &packet.Pingresp{}), 0x30, 100)))
	r.SetMaxPacketSize(50)
	_, err = r.ReadPacket()
	require.NoError(t, err)
	require.True(t, r.Ready())
	_, err = r.ReadPacket()
	require.ErrorIs(t, err, packet.ErrPacketTooLarge)
}

// TestReaderIdleClientIsSmall checks what an idle client's Reader costs: a
// new Reader that reads CONNACK, PUBACK and PINGRESP allocates itself and
// its first buffer, and none of the interner's tables or the values kept
// for the packets only a server reads (CONNECT, SUBSCRIBE, UNSUBSCRIBE).
func TestReaderIdleClientIsSmall(t *testing.T) {
	var stream []byte
	for _, p := range []packet.Packet{&packet.Connack{}, &packet.Puback{PacketID: 1}, &packet.Pingresp{}} {
		stream = append(stream, mustAppend(t, p)...)
	}
	// TotalAlloc counts the whole process (the race detector and other
	// tests allocate too), so the smallest of a few runs is the Reader's.
	n := uint64(math.MaxUint64)
	for range 5 {
		src := bytes.NewReader(stream)
		n = min(n, bytesAllocated(func() {
			r := packet.NewReader(src)
			for range 3 {
				if _, err := r.ReadPacket(); err != nil {
					t.Fatal(err)
				}
			}
		}))
	}
	require.LessOrEqual(t, n, uint64(packet.InitialReadBufferSize+256), "bytes allocated")
}

// TestReaderServerPacketsSteadyState checks that the values made on first
// use for the packets a server reads are kept: reading them again allocates
// nothing.
func TestReaderServerPacketsSteadyState(t *testing.T) {
	for _, p := range []packet.Packet{
		&packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, ClientID: "c"},
		&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a/#", QoS: 1}}},
		&packet.Unsubscribe{PacketID: 1, Filters: []string{"a/#"}},
		&packet.Pingreq{}, &packet.Disconnect{},
	} {
		r := packet.NewReader(&cycleReader{b: mustAppend(t, p)})
		first, err := r.ReadPacket()
		require.NoError(t, err)
		require.Equal(t, p, first)
		allocs := testing.AllocsPerRun(100, func() {
			q, err := r.ReadPacket()
			if err != nil || q != first {
				t.Fatal(q, err)
			}
		})
		require.Zero(t, allocs, "%v", p.Type())
	}
}
