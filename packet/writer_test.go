package packet_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

// recordingWriter records every Write call separately.
type recordingWriter struct {
	writes [][]byte
	err    error
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// TestWriterOneWritePerPacket checks that WritePacket writes a packet in one
// Write call and Flush a whole queue in one call.
func TestWriterOneWritePerPacket(t *testing.T) {
	var rec recordingWriter
	w := packet.NewWriter(&rec)
	pub := &packet.Publish{QoS: 1, PacketID: 1, Topic: "a/b", Payload: make([]byte, 10000)}
	require.NoError(t, w.WritePacket(pub))
	require.Len(t, rec.writes, 1)
	require.Equal(t, mustAppend(t, pub), rec.writes[0])

	require.NoError(t, w.Queue(&packet.Puback{PacketID: 1}))
	require.NoError(t, w.Queue(&packet.Pubrec{PacketID: 2}))
	require.NoError(t, w.Queue(&packet.Pingreq{}))
	require.Equal(t, 10, w.Buffered())
	require.Len(t, rec.writes, 1, "Queue wrote")
	require.NoError(t, w.Flush())
	require.Len(t, rec.writes, 2)
	require.Equal(t, []byte{0x40, 2, 0, 1, 0x50, 2, 0, 2, 0xc0, 0}, rec.writes[1])
	require.Zero(t, w.Buffered())

	require.NoError(t, w.Flush())
	require.Len(t, rec.writes, 2, "Flush of nothing wrote")

	// A packet written after queued ones goes out with them, in order.
	require.NoError(t, w.Queue(&packet.Puback{PacketID: 5}))
	require.NoError(t, w.WritePacket(&packet.Disconnect{}))
	require.Len(t, rec.writes, 3)
	require.Equal(t, []byte{0x40, 2, 0, 5, 0xe0, 0}, rec.writes[2])
}

// TestWriterError checks that a failed Write is returned and drops the
// queue.
func TestWriterError(t *testing.T) {
	boom := errors.New("boom")
	rec := recordingWriter{err: boom}
	w := packet.NewWriter(&rec)
	require.ErrorIs(t, w.WritePacket(&packet.Pingreq{}), boom)
	require.Zero(t, w.Buffered())
}

// TestWriterAllocs checks that writing packets allocates nothing once the
// buffer has grown.
func TestWriterAllocs(t *testing.T) {
	w := packet.NewWriter(discard{})
	pub := &packet.Publish{QoS: 1, PacketID: 0x1234, Topic: benchTopic, Payload: make([]byte, 4096)}
	require.NoError(t, w.WritePacket(pub))
	allocs := testing.AllocsPerRun(100, func() {
		if err := w.WritePacket(pub); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestWriterIllegal checks that a Writer refuses illegal packets by default,
// writing nothing, and writes them as asked with AllowIllegalWrites: PUBLISH
// with QoS 3 [MQTT-3.3.1-4], packet id 0 [MQTT-2.3.1-1], a wildcard topic
// [MQTT-3.3.2-2], invalid UTF-8 [MQTT-1.5.3-1], an empty SUBSCRIBE
// [MQTT-3.8.3-3], and a Raw packet with reserved fixed-header flags
// [MQTT-2.2.2-1].
func TestWriterIllegal(t *testing.T) {
	cases := []struct {
		name string
		p    packet.Packet
		rule string
		want []byte
	}{
		{"publish-qos3", &packet.Publish{QoS: 3, PacketID: 1, Topic: "a"}, "MQTT-3.3.1-4",
			[]byte{0x36, 5, 0, 1, 'a', 0, 1}},
		{"publish-id-0", &packet.Publish{QoS: 1, Topic: "a"}, "MQTT-2.3.1-1",
			[]byte{0x32, 5, 0, 1, 'a', 0, 0}},
		{"publish-wildcard", &packet.Publish{Topic: "a/#"}, "MQTT-3.3.2-2",
			[]byte{0x30, 5, 0, 3, 'a', '/', '#'}},
		{"publish-invalid-utf8", &packet.Publish{Topic: "a\xff"}, "MQTT-1.5.3-1",
			[]byte{0x30, 4, 0, 2, 'a', 0xff}},
		{"subscribe-empty", &packet.Subscribe{PacketID: 1}, "MQTT-3.8.3-3",
			[]byte{0x82, 2, 0, 1}},
		{"subscribe-id-0", &packet.Subscribe{Subscriptions: []packet.Subscription{{Filter: "a"}}}, "MQTT-2.3.1-1",
			[]byte{0x82, 6, 0, 0, 0, 1, 'a', 0}},
		{"raw-pingreq-flags", &packet.Raw{Header: 0xc1}, "MQTT-2.2.2-1",
			[]byte{0xc1, 0}},
		{"raw-publish-qos3", &packet.Raw{Header: 0x36, Body: []byte{0, 1, 'a', 0, 1}}, "MQTT-3.3.1-4",
			[]byte{0x36, 5, 0, 1, 'a', 0, 1}},
		{"raw-reserved-type", &packet.Raw{Header: 0xf0}, "§2.2.1",
			[]byte{0xf0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rec recordingWriter
			w := packet.NewWriter(&rec)
			require.NoError(t, w.Queue(&packet.Pingreq{}))
			err := w.WritePacket(c.p)
			require.ErrorIs(t, err, &packet.ProtocolError{Rule: c.rule})
			require.ErrorIs(t, err, packet.ErrProtocol)
			require.Empty(t, rec.writes)
			require.Equal(t, 2, w.Buffered(), "the refused packet changed the queue")

			w.AllowIllegalWrites(true)
			require.NoError(t, w.WritePacket(c.p))
			require.Len(t, rec.writes, 1)
			require.Equal(t, append([]byte{0xc0, 0}, c.want...), rec.writes[0])

			w.AllowIllegalWrites(false)
			require.Error(t, w.WritePacket(c.p))
		})
	}
}

// TestWriterRawLegal checks that a Raw packet that is a legal packet is
// written by a strict Writer.
func TestWriterRawLegal(t *testing.T) {
	var rec recordingWriter
	w := packet.NewWriter(&rec)
	require.NoError(t, w.WritePacket(&packet.Raw{Header: 0x62, Body: []byte{0, 7}}))
	require.Equal(t, [][]byte{{0x62, 2, 0, 7}}, rec.writes)
}
