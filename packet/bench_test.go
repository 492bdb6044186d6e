package packet_test

import (
	"bytes"
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
)

// The cases of the shared codec harness (../shared/bench/codec), so that
// these figures and the harness's can be compared.
const benchTopic = "sensors/building-7/floor-3/room-42/temperature"

var (
	benchSubscribe = &packet.Subscribe{PacketID: 0x4321, Subscriptions: []packet.Subscription{
		{Filter: "sensors/+/floor-3/#", QoS: 1},
		{Filter: "devices/abc123/status", QoS: 2},
		{Filter: "$SYS/broker/clients/connected", QoS: 0},
	}}
	benchConnect = &packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, KeepAlive: 30,
		ClientID: "sensor-0042", WillFlag: true, WillQoS: 1, WillTopic: "sensors/sensor-0042/status",
		WillMessage: []byte("offline"), UsernameFlag: true, Username: "device", PasswordFlag: true,
		Password: []byte("s3cr3t-t0k3n")}
)

func benchPublish(size int) *packet.Publish {
	return &packet.Publish{QoS: 1, PacketID: 0x1234, Topic: benchTopic,
		Payload: bytes.Repeat([]byte("0123456789abcdef"), size/16)}
}

func benchAppend(b *testing.B, p packet.Packet) {
	buf := make([]byte, 0, p.Len())
	b.SetBytes(int64(p.Len()))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = p.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRead reads p over and over from a Reader on a stream that repeats it,
// as a client reads its connection.
func benchRead(b *testing.B, p packet.Packet) {
	wire, err := p.Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	r := packet.NewReader(&cycleReader{b: wire})
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadPacket(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPublish64(b *testing.B)   { benchAppend(b, benchPublish(64)) }
func BenchmarkAppendPublish4K(b *testing.B)   { benchAppend(b, benchPublish(4096)) }
func BenchmarkAppendSubscribe(b *testing.B)   { benchAppend(b, benchSubscribe) }
func BenchmarkAppendConnect(b *testing.B)     { benchAppend(b, benchConnect) }
func BenchmarkReadPublish64(b *testing.B)     { benchRead(b, benchPublish(64)) }
func BenchmarkReadPublish4K(b *testing.B)     { benchRead(b, benchPublish(4096)) }
func BenchmarkReadSubscribe(b *testing.B)     { benchRead(b, benchSubscribe) }
func BenchmarkReadConnect(b *testing.B)       { benchRead(b, benchConnect) }
func BenchmarkDecodePublish64(b *testing.B)   { benchDecode(b, benchPublish(64)) }
func BenchmarkMatchTopic(b *testing.B)        { benchMatch(b, "sensors/+/floor-3/#") }
func BenchmarkMatchTopicShared(b *testing.B)  { benchMatch(b, "$share/g/sensors/+/floor-3/#") }
func BenchmarkValidateTopicName(b *testing.B) { benchValidate(b) }

// benchDecode measures Decode, which allocates the packet.
func benchDecode(b *testing.B, p packet.Packet) {
	wire, err := p.Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := packet.Decode(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMatch(b *testing.B, filter string) {
	b.ReportAllocs()
	for b.Loop() {
		if !packet.MatchTopic(filter, "sensors/building-7/floor-3/room-42/temperature") {
			b.Fatal("no match")
		}
	}
}

func benchValidate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := packet.ValidateTopicName(benchTopic); err != nil {
			b.Fatal(err)
		}
	}
}
