package packet_test

import (
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
)

func unsubscribeRefusals() []refusal {
	return []refusal{
		{"id-0", &packet.Unsubscribe{Filters: []string{"a"}}, "MQTT-2.3.1-1", packet.ErrZeroPacketID},
		{"empty", &packet.Unsubscribe{PacketID: 1}, "MQTT-3.10.3-2", packet.ErrEmptyPayload},
		{"filter-empty", &packet.Unsubscribe{PacketID: 1, Filters: []string{"a", ""}}, "MQTT-4.7.3-1", packet.ErrInvalidFilter},
		{"filter-hash", &packet.Unsubscribe{PacketID: 1, Filters: []string{"#/"}}, "MQTT-4.7.1-2", packet.ErrInvalidFilter},
		{"filter-plus", &packet.Unsubscribe{PacketID: 1, Filters: []string{"++"}}, "MQTT-4.7.1-3", packet.ErrInvalidFilter},
		{"filter-nul", &packet.Unsubscribe{PacketID: 1, Filters: []string{"\x00"}}, "MQTT-1.5.3-2", packet.ErrInvalidUTF8},
		{"filter-invalid", &packet.Unsubscribe{PacketID: 1, Filters: []string{"\x80"}}, "MQTT-1.5.3-1", packet.ErrInvalidUTF8},
	}
}

// TestUnsubscribeStrictEncoding checks that Append refuses every UNSUBSCRIBE
// a client must not send: packet id 0 [MQTT-2.3.1-1], no filter
// [MQTT-3.10.3-2], filters that break §4.7 [MQTT-4.7.1-2] [MQTT-4.7.1-3]
// [MQTT-4.7.3-1] or are not valid strings [MQTT-3.10.3-1] [MQTT-1.5.3-1]
// [MQTT-1.5.3-2].
func TestUnsubscribeStrictEncoding(t *testing.T) {
	checkRefusals(t, unsubscribeRefusals())
}
