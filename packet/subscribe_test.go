package packet_test

import (
	"strings"
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
)

func subscribeRefusals() []refusal {
	one := func(f string, q packet.QoS) *packet.Subscribe {
		return &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "ok", QoS: 0}, {Filter: f, QoS: q}}}
	}
	return []refusal{
		{"id-0", &packet.Subscribe{Subscriptions: []packet.Subscription{{Filter: "a"}}}, "MQTT-2.3.1-1", packet.ErrZeroPacketID},
		{"empty", &packet.Subscribe{PacketID: 1}, "MQTT-3.8.3-3", packet.ErrEmptyPayload},
		{"empty-slice", &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{}}, "MQTT-3.8.3-3", packet.ErrEmptyPayload},
		{"qos3", one("a", 3), "MQTT-3.8.3-4", packet.ErrInvalidQoS},
		{"filter-empty", one("", 0), "MQTT-4.7.3-1", packet.ErrInvalidFilter},
		{"filter-hash-inside", one("a/#/b", 0), "MQTT-4.7.1-2", packet.ErrInvalidFilter},
		{"filter-plus-text", one("a/b+", 0), "MQTT-4.7.1-3", packet.ErrInvalidFilter},
		{"filter-nul", one("a/\x00", 0), "MQTT-1.5.3-2", packet.ErrInvalidUTF8},
		{"filter-invalid", one("a/\xed\xbf\xbf", 0), "MQTT-1.5.3-1", packet.ErrInvalidUTF8},
		{"filter-too-long", one(strings.Repeat("a", 65536), 0), "MQTT-4.7.3-3", packet.ErrInvalidFilter},
	}
}

var subackRefusals = []refusal{
	{"id-0", &packet.Suback{ReturnCodes: []packet.SubackCode{0}}, "MQTT-2.3.1-7", packet.ErrZeroPacketID},
	{"empty", &packet.Suback{PacketID: 1}, "§3.9.3", packet.ErrEmptyPayload},
	{"code-3", &packet.Suback{PacketID: 1, ReturnCodes: []packet.SubackCode{0, 3}}, "MQTT-3.9.3-2", packet.ErrInvalidReturnCode},
	{"code-81", &packet.Suback{PacketID: 1, ReturnCodes: []packet.SubackCode{0x81}}, "MQTT-3.9.3-2", packet.ErrInvalidReturnCode},
}

// TestSubscribeStrictEncoding checks that Append refuses every SUBSCRIBE a
// client must not send: packet id 0 [MQTT-2.3.1-1], no filter
// [MQTT-3.8.3-3], requested QoS 3 [MQTT-3.8.3-4], filters that break §4.7
// [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1] [MQTT-4.7.3-3] or are not
// valid strings [MQTT-3.8.3-1] [MQTT-1.5.3-1] [MQTT-1.5.3-2].
func TestSubscribeStrictEncoding(t *testing.T) {
	checkRefusals(t, subscribeRefusals())
}

// TestSubackStrictEncoding checks that Append refuses a SUBACK with packet
// id 0, without return codes, or with a code other than 0x00, 0x01, 0x02
// and 0x80 [MQTT-3.9.3-2].
func TestSubackStrictEncoding(t *testing.T) {
	checkRefusals(t, subackRefusals)
}
