package packet_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

func publishRefusals() []refusal {
	return []refusal{
		{"qos3", &packet.Publish{QoS: 3, PacketID: 1, Topic: "a"}, "MQTT-3.3.1-4", packet.ErrInvalidQoS},
		{"qos200", &packet.Publish{QoS: 200, PacketID: 1, Topic: "a"}, "MQTT-3.3.1-4", packet.ErrInvalidQoS},
		{"dup-qos0", &packet.Publish{Dup: true, Topic: "a"}, "MQTT-3.3.1-2", packet.ErrReservedFlags},
		{"qos1-id-0", &packet.Publish{QoS: 1, Topic: "a"}, "MQTT-2.3.1-1", packet.ErrZeroPacketID},
		{"qos2-id-0", &packet.Publish{QoS: 2, Topic: "a"}, "MQTT-2.3.1-1", packet.ErrZeroPacketID},
		{"topic-plus", &packet.Publish{Topic: "a/+"}, "MQTT-3.3.2-2", packet.ErrInvalidTopic},
		{"topic-hash", &packet.Publish{Topic: "#"}, "MQTT-3.3.2-2", packet.ErrInvalidTopic},
		{"topic-long-wildcard", &packet.Publish{Topic: "sensors/building-7/floor-3/#"}, "MQTT-3.3.2-2", packet.ErrInvalidTopic},
		{"topic-empty", &packet.Publish{}, "MQTT-4.7.3-1", packet.ErrInvalidTopic},
		{"topic-nul", &packet.Publish{Topic: "a\x00"}, "MQTT-1.5.3-2", packet.ErrInvalidUTF8},
		{"topic-long-nul", &packet.Publish{Topic: "sensors/building-7/\x00"}, "MQTT-1.5.3-2", packet.ErrInvalidUTF8},
		{"topic-invalid", &packet.Publish{Topic: "\xc0\xaf"}, "MQTT-1.5.3-1", packet.ErrInvalidUTF8},
		{"topic-too-long", &packet.Publish{Topic: strings.Repeat("a", 65536)}, "MQTT-4.7.3-3", packet.ErrInvalidTopic},
	}
}

// TestPublishStrictEncoding checks that Append refuses every PUBLISH a sender
// must not send: QoS 3 [MQTT-3.3.1-4], DUP on QoS 0 [MQTT-3.3.1-2], packet
// id 0 [MQTT-2.3.1-1], wildcards in the topic [MQTT-3.3.2-2] [MQTT-4.7.1-1],
// an empty topic [MQTT-4.7.3-1], a topic over 65535 bytes [MQTT-4.7.3-3],
// U+0000 [MQTT-1.5.3-2] [MQTT-4.7.3-2] and ill-formed UTF-8 [MQTT-1.5.3-1].
func TestPublishStrictEncoding(t *testing.T) {
	checkRefusals(t, publishRefusals())
}

// TestPublishKeepsBOM checks [MQTT-1.5.3-3]: U+FEFF in a topic is sent and
// received as the bytes EF BB BF, not stripped.
func TestPublishKeepsBOM(t *testing.T) {
	p := &packet.Publish{Topic: "\ufeffa/\ufeff"}
	b, err := p.Append(nil)
	require.NoError(t, err)
	require.Equal(t, []byte{0x30, 10, 0, 8, 0xef, 0xbb, 0xbf, 'a', '/', 0xef, 0xbb, 0xbf}, b)
	q, _, err := packet.Decode(b)
	require.NoError(t, err)
	require.Equal(t, "\ufeffa/\ufeff", q.(*packet.Publish).Topic)
}

// TestPublishLargePayload checks a PUBLISH whose remaining length takes
// three and four bytes.
func TestPublishLargePayload(t *testing.T) {
	for _, n := range []int{1 << 14, 1 << 21} {
		p := &packet.Publish{Topic: "t", Payload: make([]byte, n)}
		b, err := p.Append(nil)
		require.NoError(t, err)
		require.Len(t, b, p.Len())
		q, m, err := packet.Decode(b)
		require.NoError(t, err)
		require.Equal(t, len(b), m)
		require.Len(t, q.(*packet.Publish).Payload, n)
	}
}

// TestPublishAppendHead checks that the head followed by the payload is
// the packet Append writes, for every QoS and remaining-length size, and
// that AppendHead refuses what Append refuses, leaving b as it was.
func TestPublishAppendHead(t *testing.T) {
	for _, n := range []int{0, 1, 100, 200, 1 << 14, 1 << 21} {
		for _, q := range []packet.QoS{packet.QoS0, packet.QoS1, packet.QoS2} {
			p := &packet.Publish{QoS: q, Retain: true, Topic: "a/b", Payload: make([]byte, n)}
			if q != packet.QoS0 {
				p.PacketID, p.Dup = 7, true
			}
			for i := range p.Payload {
				p.Payload[i] = byte(i)
			}
			want, err := p.Append([]byte("prefix"))
			require.NoError(t, err)
			head, err := p.AppendHead([]byte("prefix"))
			require.NoError(t, err)
			require.Equal(t, p.Len()-n, len(head)-len("prefix"), "QoS %d, %d bytes", q, n)
			require.Equal(t, want, append(head, p.Payload...), "QoS %d, %d bytes", q, n)
		}
	}
	for _, r := range publishRefusals() {
		b, err := r.p.(*packet.Publish).AppendHead([]byte("x"))
		require.ErrorIs(t, err, r.kind, r.name)
		require.Equal(t, []byte("x"), b, r.name)
	}
	huge := &packet.Publish{Topic: "t", Payload: make([]byte, packet.MaxRemainingLength)}
	_, err := huge.AppendHead(nil)
	require.ErrorIs(t, err, packet.ErrPacketTooLarge)

	// The head needs room for itself only: a vectored writer never puts
	// the payload after it, so nothing is reserved for it (an early version
	// grew the buffer by the payload's size on every call).
	big := &packet.Publish{QoS: 1, PacketID: 1, Topic: "a/b", Payload: make([]byte, 1<<20)}
	buf := make([]byte, 0, 16)
	allocs := testing.AllocsPerRun(100, func() {
		head, err := big.AppendHead(buf[:0])
		if err != nil || len(head) > cap(buf) {
			t.Fatalf("head of %d bytes, err %v", len(head), err)
		}
	})
	require.Zero(t, allocs, "AppendHead into a buffer with room for the head")
}
