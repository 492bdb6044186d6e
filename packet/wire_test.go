package packet_test

import (
	"io"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

// TestRemainingLength checks the variable-length integer of §2.2.3 at the
// edges of each size, as the spec's table gives them.
func TestRemainingLength(t *testing.T) {
	for _, c := range []struct {
		n    int
		wire []byte
	}{
		{0, []byte{0x00}}, {127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}}, {16383, []byte{0xff, 0x7f}},
		{16384, []byte{0x80, 0x80, 0x01}}, {2097151, []byte{0xff, 0xff, 0x7f}},
		{2097152, []byte{0x80, 0x80, 0x80, 0x01}}, {268435455, []byte{0xff, 0xff, 0xff, 0x7f}},
	} {
		require.Equal(t, c.wire, packet.AppendRemainingLength(nil, c.n), "%d", c.n)
		require.Equal(t, len(c.wire), packet.RemainingLengthSize(c.n), "%d", c.n)
		n, size, err := packet.ParseRemainingLength(append(c.wire, 0xaa))
		require.NoError(t, err)
		require.Equal(t, c.n, n)
		require.Equal(t, len(c.wire), size)
		for i := range c.wire {
			_, _, err := packet.ParseRemainingLength(c.wire[:i])
			require.Equal(t, io.ErrUnexpectedEOF, err)
		}
	}
	_, _, err := packet.ParseRemainingLength([]byte{0x80, 0x80, 0x80, 0x80, 0x01})
	require.ErrorIs(t, err, &packet.ProtocolError{Rule: "§2.2.3"})
	require.ErrorIs(t, err, packet.ErrMalformed)
	// Non-minimal encodings are accepted.
	n, size, err := packet.ParseRemainingLength([]byte{0x80, 0x80, 0x00})
	require.NoError(t, err)
	require.Equal(t, 0, n)
	require.Equal(t, 3, size)
}

// TestValidUTF8 checks the hand-written string validator on the edges of
// well-formed UTF-8 (Unicode table 3-7), surrogates [MQTT-1.5.3-1], U+0000
// [MQTT-1.5.3-2], and that U+FEFF is a valid character [MQTT-1.5.3-3]. Each
// case also runs at every offset of a long ASCII string, so the word-at-a-time
// path meets it at every position.
func TestValidUTF8(t *testing.T) {
	cases := []struct {
		s    string
		rule string // "" for valid
	}{
		{"", ""}, {"a", ""}, {"\u007f", ""}, {"\u0080", ""}, {"\u07ff", ""}, {"\u0800", ""}, {"\ud7ff", ""},
		{"\ue000", ""}, {"\uffff", ""}, {"\ufeff", ""}, {"\U00010000", ""}, {"\U0010ffff", ""},
		{"\x00", "MQTT-1.5.3-2"},
		{"\x80", "MQTT-1.5.3-1"}, {"\xbf", "MQTT-1.5.3-1"}, {"\xc0\x80", "MQTT-1.5.3-1"}, {"\xc1\xbf", "MQTT-1.5.3-1"},
		{"\xc2", "MQTT-1.5.3-1"}, {"\xc2\x7f", "MQTT-1.5.3-1"}, {"\xc2\xc0", "MQTT-1.5.3-1"},
		{"\xe0\x80\x80", "MQTT-1.5.3-1"}, {"\xe0\x9f\xbf", "MQTT-1.5.3-1"}, {"\xe0\xa0", "MQTT-1.5.3-1"},
		{"\xed\xa0\x80", "MQTT-1.5.3-1"}, {"\xed\xbf\xbf", "MQTT-1.5.3-1"}, {"\xed\x9f\xbf", ""},
		{"\xe1\x80\x7f", "MQTT-1.5.3-1"},
		{"\xf0\x80\x80\x80", "MQTT-1.5.3-1"}, {"\xf0\x8f\xbf\xbf", "MQTT-1.5.3-1"}, {"\xf0\x90\x80", "MQTT-1.5.3-1"},
		{"\xf4\x90\x80\x80", "MQTT-1.5.3-1"}, {"\xf4\x8f\xbf\xbf", ""}, {"\xf5\x80\x80\x80", "MQTT-1.5.3-1"},
		{"\xf1\x80\x80\xc0", "MQTT-1.5.3-1"}, {"\xff", "MQTT-1.5.3-1"}, {"\xfe", "MQTT-1.5.3-1"},
	}
	const pad = "abcdefghijklmnopq"
	for _, c := range cases {
		for i := 0; i <= len(pad); i++ {
			s := pad[:i] + c.s + pad[i:]
			err := packet.ValidUTF8(s)
			if c.rule == "" {
				require.NoError(t, err, "%q", s)
				require.True(t, utf8.ValidString(s))
			} else {
				require.ErrorIs(t, err, &packet.ProtocolError{Rule: c.rule}, "%q", s)
			}
		}
	}
}
