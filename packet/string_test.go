package packet_test

import (
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
)

// TestStringsExact pins the text of every packet's String method, which logs
// and the dump command print: the literals are what the fmt-based methods
// produced before the package stopped importing fmt (issue 5), including
// fmt's quoting of odd bytes, its "[a b]" form of slices and its %04b.
func TestStringsExact(t *testing.T) {
	for _, c := range []struct {
		p    packet.Packet
		want string
	}{
		{&packet.Connect{},
			`CONNECT{protocol=MQTT/4 client_id="" clean_session=false keep_alive=0}`},
		{&packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, KeepAlive: 60, ClientID: "c"},
			`CONNECT{protocol=MQTT/4 client_id="c" clean_session=true keep_alive=60}`},
		{&packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, KeepAlive: 65535, ClientID: "client-1", WillFlag: true, WillQoS: 2, WillRetain: true, WillTopic: "will/t", WillMessage: []byte("gone"), UsernameFlag: true, Username: "user", PasswordFlag: true, Password: []byte{0, 1, 2}},
			`CONNECT{protocol=MQTT/4 client_id="client-1" clean_session=false keep_alive=65535 will_topic="will/t" will_qos=2 will_retain=true will_message=4 bytes username="user" password=<redacted len=3>}`},
		{&packet.Connect{ProtocolName: "MQIsdp", ProtocolLevel: 3, ClientID: "old\"\x00\xff\u00e9\U0001F600\t"},
			`CONNECT{protocol=MQIsdp/3 client_id="old\"\x00\xffé😀\t" clean_session=false keep_alive=0}`},
		{&packet.Connect{ProtocolName: "weird name", ProtocolLevel: 255, WillFlag: true, WillQoS: 3, WillTopic: "\x7f", UsernameFlag: true, PasswordFlag: true},
			`CONNECT{protocol=weird name/255 client_id="" clean_session=false keep_alive=0 will_topic="\x7f" will_qos=3 will_retain=false will_message=0 bytes username="" password=<redacted len=0>}`},
		{&packet.Connack{},
			`CONNACK{code=0 (accepted) session_present=false}`},
		{&packet.Connack{SessionPresent: true},
			`CONNACK{code=0 (accepted) session_present=true}`},
		{&packet.Connack{ReturnCode: packet.RefusedNotAuthorized},
			`CONNACK{code=5 (not authorized) session_present=false}`},
		{&packet.Connack{ReturnCode: 200},
			`CONNACK{code=200 (reserved return code 200) session_present=false}`},
		{&packet.Publish{},
			`PUBLISH{topic="" qos=0 id=0 dup=false retain=false payload=0 bytes}`},
		{&packet.Publish{Topic: "a", Payload: []byte("x")},
			`PUBLISH{topic="a" qos=0 id=0 dup=false retain=false payload=1 bytes}`},
		{&packet.Publish{Topic: "a/\ufeff/b\\\n"},
			`PUBLISH{topic="a/\ufeff/b\\\n" qos=0 id=0 dup=false retain=false payload=0 bytes}`},
		{&packet.Publish{Dup: true, QoS: 1, Retain: true, Topic: "a/b", PacketID: 7, Payload: []byte("hi")},
			`PUBLISH{topic="a/b" qos=1 id=7 dup=true retain=true payload=2 bytes}`},
		{&packet.Publish{QoS: 3, Topic: "t", PacketID: 65535, Payload: make([]byte, 300)},
			`PUBLISH{topic="t" qos=3 id=65535 dup=false retain=false payload=300 bytes}`},
		{&packet.Puback{},
			`PUBACK{id=0}`},
		{&packet.Puback{PacketID: 1},
			`PUBACK{id=1}`},
		{&packet.Pubrec{PacketID: 2},
			`PUBREC{id=2}`},
		{&packet.Pubrel{PacketID: 3},
			`PUBREL{id=3}`},
		{&packet.Pubcomp{PacketID: 65535},
			`PUBCOMP{id=65535}`},
		{&packet.Subscribe{},
			`SUBSCRIBE{id=0}`},
		{&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "#", QoS: 2}}},
			`SUBSCRIBE{id=1 "#":2}`},
		{&packet.Subscribe{PacketID: 0x4321, Subscriptions: []packet.Subscription{{Filter: "a/+/\"c\"", QoS: 0}, {Filter: "", QoS: 7}, {Filter: "\xfe", QoS: 1}}},
			`SUBSCRIBE{id=17185 "a/+/\"c\"":0 "":7 "\xfe":1}`},
		{&packet.Suback{},
			`SUBACK{id=0 codes=[]}`},
		{&packet.Suback{PacketID: 1, ReturnCodes: []packet.SubackCode{0, 1, 2, 0x80}},
			`SUBACK{id=1 codes=[granted QoS0 granted QoS1 granted QoS2 failure]}`},
		{&packet.Suback{PacketID: 65535, ReturnCodes: []packet.SubackCode{0x81}},
			`SUBACK{id=65535 codes=[reserved SUBACK code 0x81]}`},
		{&packet.Unsubscribe{},
			`UNSUBSCRIBE{id=0 filters=[]}`},
		{&packet.Unsubscribe{PacketID: 9, Filters: []string{"a/+", "$share/g/b/#"}},
			`UNSUBSCRIBE{id=9 filters=["a/+" "$share/g/b/#"]}`},
		{&packet.Unsubscribe{PacketID: 10, Filters: []string{"", "\"q\" \xff"}},
			`UNSUBSCRIBE{id=10 filters=["" "\"q\" \xff"]}`},
		{&packet.Unsuback{PacketID: 9},
			`UNSUBACK{id=9}`},
		{&packet.Pingreq{},
			`PINGREQ`},
		{&packet.Pingresp{},
			`PINGRESP`},
		{&packet.Disconnect{},
			`DISCONNECT`},
		{&packet.Raw{},
			`RAW{type=RESERVED(0) flags=0000 body=0 bytes}`},
		{&packet.Raw{Header: 0xc1},
			`RAW{type=PINGREQ flags=0001 body=0 bytes}`},
		{&packet.Raw{Header: 0x3f, Body: []byte{1, 2, 3}},
			`RAW{type=PUBLISH flags=1111 body=3 bytes}`},
		{&packet.Raw{Header: 0xf2, Body: make([]byte, 1000)},
			`RAW{type=RESERVED(15) flags=0010 body=1000 bytes}`},
		{&packet.Raw{Header: 0x08},
			`RAW{type=RESERVED(0) flags=1000 body=0 bytes}`},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("String() = %#q, want %#q", got, c.want)
		}
	}
}
