package session_test

import (
	"fmt"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
)

// A loop publishes a QoS 1 message, writes what the session queued, and
// feeds the broker's PUBACK back in.
func Example() {
	s, err := session.New(session.Options{KeepAlive: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	now := time.Unix(0, 0)
	s.OnConnack(now, false, false)

	id, _ := s.Publish(now, session.Message{Topic: "sensors/1", Payload: []byte("21.5"), QoS: packet.QoS1})
	for p, _, ok := s.NextToSend(now); ok; p, _, ok = s.NextToSend(now) {
		fmt.Println("write", p)
	}

	s.Received(now.Add(time.Millisecond), &packet.Puback{PacketID: 1})
	for e, ok := s.NextEvent(); ok; e, ok = s.NextEvent() {
		fmt.Println(e.Kind, e.ID == id, e.Err)
	}
	fmt.Println("next keep-alive check after", s.NextDeadline().Sub(now))
	// Output:
	// write PUBLISH{topic="sensors/1" qos=1 id=1 dup=false retain=false payload=4 bytes}
	// completion true <nil>
	// next keep-alive check after 30s
}
