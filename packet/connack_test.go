package packet_test

import (
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
)

var connackRefusals = []refusal{
	{"reserved-code", &packet.Connack{ReturnCode: 6}, "§3.2.2.3", packet.ErrInvalidReturnCode},
	{"session-present-refused", &packet.Connack{SessionPresent: true, ReturnCode: packet.RefusedServerUnavailable}, "MQTT-3.2.2-4", packet.ErrMalformed},
}

// TestConnackStrictEncoding checks that Append refuses a reserved return code
// and a refusal with session present [MQTT-3.2.2-4].
func TestConnackStrictEncoding(t *testing.T) {
	checkRefusals(t, connackRefusals)
}
