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
// acknowledgements: they echo the id of a packet that had one, and ids are
// never 0.
func TestIDPacketsStrictEncoding(t *testing.T) {
	checkRefusals(t, idRefusals)
}
