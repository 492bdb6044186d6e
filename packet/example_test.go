package packet_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/linnet-mqtt/linnet/packet"
)

// Encoding a PUBLISH into a reused buffer.
func ExamplePublish_Append() {
	pub := &packet.Publish{QoS: packet.QoS1, PacketID: 7, Topic: "a/b", Payload: []byte("hi")}
	buf := make([]byte, 0, 64)
	buf, err := pub.Append(buf[:0])
	if err != nil {
		panic(err)
	}
	fmt.Print(hex.Dump(buf))
	fmt.Println(len(buf) == pub.Len())
	// Output:
	// 00000000  32 09 00 03 61 2f 62 00  07 68 69                 |2...a/b..hi|
	// true
}

// Reading packets from a stream until it ends.
func ExampleReader() {
	stream := []byte{
		0x20, 0x02, 0x00, 0x00, // CONNACK accepted
		0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i', // PUBLISH QoS 0 "a/b" "hi"
		0xd0, 0x00, // PINGRESP
	}
	r := packet.NewReader(bytes.NewReader(stream))
	r.SetMaxPacketSize(1 << 20)
	for {
		p, err := r.ReadPacket()
		if err == io.EOF {
			fmt.Println("end of stream")
			return
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		switch p := p.(type) {
		case *packet.Publish:
			fmt.Printf("%s: % x\n", p.Topic, p.Payload)
		default:
			fmt.Println(p)
		}
	}
	// Output:
	// CONNACK{code=0 (accepted) session_present=false}
	// a/b: 68 69
	// PINGRESP
	// end of stream
}

// Matching topic names against filters (§4.7).
func ExampleMatchTopic() {
	for _, c := range [][2]string{
		{"sport/tennis/+", "sport/tennis/player1"},
		{"sport/#", "sport"},
		{"sport/+", "sport"},
		{"#", "$SYS/broker/uptime"},
		{"$share/workers/jobs/+", "jobs/42"},
	} {
		fmt.Printf("%-22s %-22s %v\n", c[0], c[1], packet.MatchTopic(c[0], c[1]))
	}
	// Output:
	// sport/tennis/+         sport/tennis/player1   true
	// sport/#                sport                  true
	// sport/+                sport                  false
	// #                      $SYS/broker/uptime     false
	// $share/workers/jobs/+  jobs/42                true
}

// Telling which rule a malformed packet breaks.
func ExampleProtocolError() {
	// A PUBLISH whose QoS bits are 11.
	wire := []byte{0x36, 0x07, 0x00, 0x01, 'a', 0x00, 0x01, 'h', 'i'}
	fmt.Print(hex.Dump(wire))
	_, _, err := packet.Decode(wire)
	fmt.Println(err)
	fmt.Println(errors.Is(err, packet.ErrProtocol))
	fmt.Println(errors.Is(err, packet.ErrInvalidQoS))
	fmt.Println(errors.Is(err, &packet.ProtocolError{Rule: "MQTT-3.3.1-4"}))
	fmt.Println(errors.Is(err, &packet.ProtocolError{Rule: "MQTT-3.3.1-2"}))
	var pe *packet.ProtocolError
	if errors.As(err, &pe) {
		fmt.Println(pe.Type, pe.Rule)
	}
	// Output:
	// 00000000  36 07 00 01 61 00 01 68  69                       |6...a..hi|
	// mqtt: PUBLISH: QoS 3 [MQTT-3.3.1-4]
	// true
	// true
	// true
	// false
	// PUBLISH MQTT-3.3.1-4
}

// Sending a packet a broker must refuse, for a conformance test.
func ExampleWriter_AllowIllegalWrites() {
	var conn bytes.Buffer
	w := packet.NewWriter(&conn)
	bad := &packet.Subscribe{PacketID: 1} // no topic filter
	fmt.Println(w.WritePacket(bad))
	w.AllowIllegalWrites(true)
	fmt.Println(w.WritePacket(bad))
	fmt.Printf("% x\n", conn.Bytes())
	// Output:
	// mqtt: SUBSCRIBE: no topic filter [MQTT-3.8.3-3]
	// <nil>
	// 82 02 00 01
}
