package packet_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

func connectRefusals() []refusal {
	ok := func(f func(c *packet.Connect)) *packet.Connect {
		c := &packet.Connect{CleanSession: true, ClientID: "c"}
		f(c)
		return c
	}
	return []refusal{
		{"protocol-name", ok(func(c *packet.Connect) { c.ProtocolName = "MQTX" }), "MQTT-3.1.2-1", packet.ErrInvalidProtocol},
		{"level-5", ok(func(c *packet.Connect) { c.ProtocolLevel = 5 }), "MQTT-3.1.2-2", packet.ErrUnsupportedLevel},
		{"mqtt-level-3", ok(func(c *packet.Connect) { c.ProtocolName, c.ProtocolLevel = "MQTT", 3 }), "MQTT-3.1.2-2", packet.ErrUnsupportedLevel},
		{"mqisdp-level-4", ok(func(c *packet.Connect) { c.ProtocolName, c.ProtocolLevel = "MQIsdp", 4 }), "MQTT-3.1.2-2", packet.ErrUnsupportedLevel},
		{"reserved", ok(func(c *packet.Connect) { c.Reserved = true }), "MQTT-3.1.2-3", packet.ErrReservedFlags},
		{"empty-id-persistent", ok(func(c *packet.Connect) { c.ClientID, c.CleanSession = "", false }), "MQTT-3.1.3-7", packet.ErrInvalidConnectFlags},
		{"will-qos-no-will", ok(func(c *packet.Connect) { c.WillQoS = 1 }), "MQTT-3.1.2-13", packet.ErrInvalidConnectFlags},
		{"will-retain-no-will", ok(func(c *packet.Connect) { c.WillRetain = true }), "MQTT-3.1.2-15", packet.ErrInvalidConnectFlags},
		{"will-topic-no-will", ok(func(c *packet.Connect) { c.WillTopic = "t" }), "MQTT-3.1.2-11", packet.ErrInvalidConnectFlags},
		{"will-message-no-will", ok(func(c *packet.Connect) { c.WillMessage = []byte("m") }), "MQTT-3.1.2-11", packet.ErrInvalidConnectFlags},
		{"will-qos3", ok(func(c *packet.Connect) { c.WillFlag, c.WillQoS, c.WillTopic = true, 3, "t" }), "MQTT-3.1.2-14", packet.ErrInvalidQoS},
		{"user-name-no-flag", ok(func(c *packet.Connect) { c.Username = "u" }), "MQTT-3.1.2-18", packet.ErrInvalidConnectFlags},
		{"password-no-flag", ok(func(c *packet.Connect) { c.UsernameFlag, c.Password = true, []byte("p") }), "MQTT-3.1.2-20", packet.ErrInvalidConnectFlags},
		{"password-no-user-name", ok(func(c *packet.Connect) { c.PasswordFlag, c.Password = true, []byte("p") }), "MQTT-3.1.2-22", packet.ErrInvalidConnectFlags},
		{"client-id-nul", ok(func(c *packet.Connect) { c.ClientID = "a\x00" }), "MQTT-1.5.3-2", packet.ErrInvalidUTF8},
		{"client-id-invalid", ok(func(c *packet.Connect) { c.ClientID = "a\xc3" }), "MQTT-1.5.3-1", packet.ErrInvalidUTF8},
		{"will-topic-empty", ok(func(c *packet.Connect) { c.WillFlag = true }), "MQTT-4.7.3-1", packet.ErrInvalidTopic},
		{"will-topic-wildcard", ok(func(c *packet.Connect) { c.WillFlag, c.WillTopic = true, "a/#" }), "MQTT-4.7.1-1", packet.ErrInvalidTopic},
		{"will-topic-surrogate", ok(func(c *packet.Connect) { c.WillFlag, c.WillTopic = true, "\xed\xa0\x80" }), "MQTT-1.5.3-1", packet.ErrInvalidUTF8},
		{"user-name-invalid", ok(func(c *packet.Connect) { c.UsernameFlag, c.Username = true, "\xff" }), "MQTT-1.5.3-1", packet.ErrInvalidUTF8},
	}
}

// TestConnectStrictEncoding checks that Append refuses every CONNECT a
// client must not send (and a protocol name, level or reserved flag it must
// not use): [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-14] [MQTT-3.1.2-15]
// [MQTT-3.1.2-18] [MQTT-3.1.2-20] [MQTT-3.1.2-22] [MQTT-3.1.3-4]
// [MQTT-3.1.3-7] [MQTT-3.1.3-10] [MQTT-3.1.3-11] [MQTT-1.5.3-1]
// [MQTT-1.5.3-2] [MQTT-4.7.1-1] [MQTT-4.7.3-1].
func TestConnectStrictEncoding(t *testing.T) {
	checkRefusals(t, connectRefusals())
}

// TestConnectDefaults checks that a zero protocol name and level encode as
// MQTT 3.1.1, and that a name or a level alone picks the other.
func TestConnectDefaults(t *testing.T) {
	for _, c := range []struct {
		name  string
		level byte
		want  string
		wantL byte
	}{
		{"", 0, "MQTT", 4}, {"", 4, "MQTT", 4}, {"", 3, "MQIsdp", 3}, {"MQIsdp", 0, "MQIsdp", 3}, {"MQTT", 0, "MQTT", 4},
	} {
		b, err := (&packet.Connect{ProtocolName: c.name, ProtocolLevel: c.level, CleanSession: true}).Append(nil)
		require.NoError(t, err)
		p, _, err := packet.Decode(b)
		require.NoError(t, err)
		got := p.(*packet.Connect)
		require.Equal(t, c.want, got.ProtocolName)
		require.Equal(t, c.wantL, got.ProtocolLevel)
	}
}

// TestConnectIllegal checks that AppendIllegal writes what Append refuses,
// bit for bit, so conformance tests can send it, and that the decoder refuses
// the reserved flag [MQTT-3.1.2-3].
func TestConnectIllegal(t *testing.T) {
	b, err := packet.AppendIllegal(nil, &packet.Connect{ClientID: "c", Reserved: true, PasswordFlag: true, Password: []byte("p")})
	require.NoError(t, err)
	require.Equal(t, []byte{0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x41, 0, 0, 0, 1, 'c', 0, 1, 'p'}, b)
	_, _, err = packet.Decode(b)
	require.ErrorIs(t, err, &packet.ProtocolError{Rule: "MQTT-3.1.2-3"})
}
