package packet_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

var rawRefusals = []refusal{
	{"pingreq-flags", &packet.Raw{Header: 0xc2}, "MQTT-2.2.2-1", packet.ErrReservedFlags},
	{"pubrel-flags", &packet.Raw{Header: 0x60, Body: []byte{0, 1}}, "MQTT-3.6.1-1", packet.ErrReservedFlags},
	{"subscribe-flags", &packet.Raw{Header: 0x80, Body: []byte{0, 1, 0, 1, 'a', 0}}, "MQTT-3.8.1-1", packet.ErrReservedFlags},
	{"type-0", &packet.Raw{Header: 0x00}, "§2.2.1", packet.ErrInvalidType},
	{"type-15", &packet.Raw{Header: 0xf0}, "§2.2.1", packet.ErrInvalidType},
}

// TestRawStrictEncoding checks that Append writes a Raw packet only when it
// decodes as a legal packet: reserved fixed-header flags [MQTT-2.2.2-1]
// [MQTT-3.6.1-1] [MQTT-3.8.1-1] and reserved types are refused.
func TestRawStrictEncoding(t *testing.T) {
	checkRefusals(t, rawRefusals)
	b, err := (&packet.Raw{Header: 0x62, Body: []byte{0, 7}}).Append(nil)
	require.NoError(t, err)
	require.Equal(t, []byte{0x62, 2, 0, 7}, b)
	for _, c := range rawRefusals {
		b, err := packet.AppendIllegal(nil, c.p)
		require.NoError(t, err)
		require.Len(t, b, c.p.Len())
		require.Equal(t, c.p.(*packet.Raw).Header, b[0])
		require.Equal(t, c.p.Type(), packet.Type(b[0]>>4))
	}
}
