package packet_test

import (
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
)

var idRefusals = []refusal{
	{"puback", &packet.Puback{}, "MQTT-2.3.1-6", packet.ErrZeroPacketID},
	{"pubrec", &packet.Pubrec{}, "MQTT-2.3.1-6", packet.ErrZeroPacketID},
	{"pubrel", &packet.Pubrel{}, "MQTT-2.3.1-6", packet.ErrZeroPacketID},
	{"pubcomp", &packet.Pubcomp{}, "MQTT-2.3.1-6", packet.ErrZeroPacketID},
	{"unsuback", &packet.Unsuback{}, "MQTT-2.3.1-7", packet.ErrZeroPacketID},
}

// TestIDPacketsStrictEncoding checks that Append refuses packet id 0 in the
// acknowledgements, which must echo the id of a PUBLISH [MQTT-2.3.1-6]
// (never 0 [MQTT-2.3.1-1]).
func TestIDPacketsStrictEncoding(t *testing.T) {
	checkRefusals(t, idRefusals)
}
