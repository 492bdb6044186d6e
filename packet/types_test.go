package packet_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

// samples returns legal packets of every type, several variants each, with
// every field that a type has set in at least one of them.
func samples() []packet.Packet {
	return []packet.Packet{
		&packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, KeepAlive: 60, ClientID: "c"},
		&packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, KeepAlive: 1, ClientID: "client-1",
			WillFlag: true, WillQoS: 2, WillRetain: true, WillTopic: "will/t", WillMessage: []byte("gone"),
			UsernameFlag: true, Username: "user", PasswordFlag: true, Password: []byte{0, 1, 2}},
		&packet.Connect{ProtocolName: "MQIsdp", ProtocolLevel: 3, CleanSession: true, ClientID: "old"},
		benchConnect,
		&packet.Connack{},
		&packet.Connack{SessionPresent: true},
		&packet.Connack{ReturnCode: packet.RefusedNotAuthorized},
		&packet.Publish{Topic: "a", Payload: []byte("x")},
		&packet.Publish{Topic: "a/\ufeff/b"},
		&packet.Publish{Dup: true, QoS: 1, Retain: true, Topic: "a/b", PacketID: 7, Payload: []byte("hi")},
		&packet.Publish{QoS: 2, Topic: "t", PacketID: 65535, Payload: make([]byte, 300)},
		benchPublish(64),
		benchPublish(4096),
		&packet.Puback{PacketID: 1},
		&packet.Pubrec{PacketID: 2},
		&packet.Pubrel{PacketID: 3},
		&packet.Pubcomp{PacketID: 65535},
		&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "#", QoS: 2}}},
		benchSubscribe,
		&packet.Suback{PacketID: 1, ReturnCodes: []packet.SubackCode{0, 1, 2, 0x80}},
		&packet.Unsubscribe{PacketID: 9, Filters: []string{"a/+", "$share/g/b/#"}},
		&packet.Unsuback{PacketID: 9},
		&packet.Pingreq{},
		&packet.Pingresp{},
		&packet.Disconnect{},
	}
}

func name(p packet.Packet) string { return fmt.Sprintf("%v-%d", p.Type(), p.Len()) }

// TestRoundTrip checks that every legal packet survives Append then Decode
// (and a Reader) unchanged, that Decode takes all its bytes and that
// len(Append(nil)) == Len(). Encoded QoS 0 PUBLISH packets have no packet
// identifier [MQTT-2.3.1-5]; the CONNECT payload fields come in their order
// [MQTT-3.1.3-1] with the client id first [MQTT-3.1.3-3].
func TestRoundTrip(t *testing.T) {
	for _, p := range samples() {
		t.Run(name(p), func(t *testing.T) {
			b, err := p.Append(nil)
			require.NoError(t, err)
			require.Len(t, b, p.Len())
			q, n, err := packet.Decode(b)
			require.NoError(t, err)
			require.Equal(t, len(b), n)
			if d := cmp.Diff(p, q, equateEmpty); d != "" {
				t.Fatalf("Decode (-sent +got):\n%s", d)
			}
			q, err = packet.NewReader(bytes.NewReader(b)).ReadPacket()
			require.NoError(t, err)
			if d := cmp.Diff(p, q, equateEmpty); d != "" {
				t.Fatalf("ReadPacket (-sent +got):\n%s", d)
			}
			// Appending keeps what the buffer held.
			prefix := []byte("prefix")
			b2, err := p.Append(prefix)
			require.NoError(t, err)
			require.Equal(t, append([]byte("prefix"), b...), b2)
			// AppendIllegal gives the same bytes for a legal packet.
			b3, err := packet.AppendIllegal(nil, p)
			require.NoError(t, err)
			require.Equal(t, b, b3)
		})
	}
	// A PUBLISH at QoS 0 has no packet identifier, even when the field is set.
	b, err := (&packet.Publish{Topic: "a", PacketID: 5}).Append(nil)
	require.NoError(t, err)
	require.Equal(t, []byte{0x30, 3, 0, 1, 'a'}, b)
}

// TestTruncatedPrefixes checks that every proper prefix of every packet fails
// cleanly: io.ErrUnexpectedEOF from Decode and from a Reader, never a panic,
// never a packet.
func TestTruncatedPrefixes(t *testing.T) {
	for _, p := range samples() {
		b, err := p.Append(nil)
		require.NoError(t, err)
		for i := 1; i < len(b); i++ {
			q, _, err := packet.Decode(b[:i])
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("%s: Decode of %d of %d bytes = %v, %v", name(p), i, len(b), q, err)
			}
			q, err = packet.NewReader(bytes.NewReader(b[:i])).ReadPacket()
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("%s: ReadPacket of %d of %d bytes = %v, %v", name(p), i, len(b), q, err)
			}
		}
		_, _, err = packet.Decode(nil)
		require.Equal(t, io.EOF, err)
	}
}

// TestAppendAllocs checks that Append allocates nothing when the buffer has
// room, for every packet type.
func TestAppendAllocs(t *testing.T) {
	for _, p := range samples() {
		buf := make([]byte, 0, p.Len())
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := p.Append(buf[:0]); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs, name(p))
	}
}

// TestAppendErrorLeavesBuffer checks that a refused packet returns the
// buffer as it was, so that a Writer's queue is not corrupted.
func TestAppendErrorLeavesBuffer(t *testing.T) {
	buf := []byte("keep")
	for _, p := range []packet.Packet{
		&packet.Publish{QoS: 3, Topic: "a"},
		&packet.Subscribe{PacketID: 1},
		&packet.Connect{ClientID: "\x00"},
		&packet.Publish{Topic: strings.Repeat("a", 70000)},
	} {
		got, err := p.Append(buf)
		require.Error(t, err)
		require.Equal(t, "keep", string(got))
	}
}

// TestClone checks that Clone shares no memory with the original, for every
// type, so a packet from a Reader can outlive the next read.
func TestClone(t *testing.T) {
	for _, p := range append(samples(), &packet.Raw{Header: 0x30, Body: []byte{0, 1, 'a'}}) {
		b, err := packet.AppendIllegal(nil, p)
		require.NoError(t, err)
		var q packet.Packet
		if raw, ok := p.(*packet.Raw); ok {
			q = &packet.Raw{Header: raw.Header, Body: bytes.Clone(raw.Body)}
		} else {
			q, _, err = packet.Decode(b)
			require.NoError(t, err)
		}
		c := packet.Clone(q)
		if q.Len() > 2 { // pointers to zero-size values may be equal
			require.NotSame(t, q, c)
		}
		if d := cmp.Diff(q, c, equateEmpty); d != "" {
			t.Fatalf("%s: Clone differs:\n%s", name(p), d)
		}
		for i := range b {
			b[i] = 0xee // scribble over the decoded-from buffer
		}
		if raw, ok := q.(*packet.Raw); ok {
			for i := range raw.Body {
				raw.Body[i] = 0xee
			}
		}
		if d := cmp.Diff(p, c, equateEmpty); d != "" {
			t.Fatalf("%s: Clone shares memory with the buffer:\n%s", name(p), d)
		}
	}
	require.Nil(t, packet.Clone(nil))
}

// TestNew checks New for every type, and nil for the reserved ones.
func TestNew(t *testing.T) {
	for ty := packet.TypeConnect; ty <= packet.TypeDisconnect; ty++ {
		require.Equal(t, ty, packet.New(ty).Type())
		require.True(t, ty.Valid())
	}
	for _, ty := range []packet.Type{0, 15, 16} {
		require.Nil(t, packet.New(ty))
		require.False(t, ty.Valid())
	}
}

// TestStrings checks the String methods that logs read, and that passwords
// never appear in them.
func TestStrings(t *testing.T) {
	require.Equal(t, "PUBLISH", packet.TypePublish.String())
	require.Equal(t, "RESERVED(15)", packet.Type(15).String())
	require.Equal(t, "Type(16)", packet.Type(16).String())
	require.Equal(t, "QoS1", packet.QoS1.String())
	require.Equal(t, "QoS(3)", packet.QoS(3).String())
	require.Equal(t, "not authorized", packet.RefusedNotAuthorized.String())
	require.Equal(t, "reserved return code 6", packet.ReturnCode(6).String())
	require.Equal(t, "granted QoS2", packet.SubackQoS2.String())
	require.Equal(t, "failure", packet.SubackFailure.String())
	require.Equal(t, "reserved SUBACK code 0x81", packet.SubackCode(0x81).String())
	require.True(t, packet.SubackFailure.Failed())
	require.False(t, packet.SubackQoS0.Failed())

	c := &packet.Connect{ClientID: "c", UsernameFlag: true, Username: "u", PasswordFlag: true, Password: []byte("hunter2!")}
	s := c.String()
	require.NotContains(t, s, "hunter2")
	require.Contains(t, s, "password=<redacted len=8>")
	for _, p := range append(samples(), &packet.Raw{Header: 0xc1}) {
		s := p.String()
		require.NotEmpty(t, s)
		if c, ok := p.(*packet.Connect); ok && len(c.Password) > 0 {
			require.NotContains(t, s, string(c.Password))
		}
	}
	require.Contains(t, (&packet.Publish{Topic: "a/b", QoS: 1, PacketID: 3, Payload: []byte("xyz")}).String(), `topic="a/b"`)
}

// TestProtocolErrorIs checks how *ProtocolError matches: ErrProtocol, its
// kind, a target with only Rule or Type set, and nothing else.
func TestProtocolErrorIs(t *testing.T) {
	_, _, err := packet.Decode([]byte{0x36, 5, 0, 1, 'a', 0, 1})
	require.EqualError(t, err, "mqtt: PUBLISH: QoS 3 [MQTT-3.3.1-4]")
	require.ErrorIs(t, err, packet.ErrProtocol)
	require.ErrorIs(t, err, packet.ErrInvalidQoS)
	require.NotErrorIs(t, err, packet.ErrMalformed)
	require.ErrorIs(t, err, &packet.ProtocolError{Rule: "MQTT-3.3.1-4"})
	require.ErrorIs(t, err, &packet.ProtocolError{Type: packet.TypePublish})
	require.ErrorIs(t, err, &packet.ProtocolError{Kind: packet.ErrInvalidQoS, Type: packet.TypePublish})
	require.NotErrorIs(t, err, &packet.ProtocolError{Rule: "MQTT-3.3.1-2"})
	require.NotErrorIs(t, err, &packet.ProtocolError{Type: packet.TypeConnect})
	require.NotErrorIs(t, err, &packet.ProtocolError{})
	require.NotErrorIs(t, err, io.EOF)
	var pe *packet.ProtocolError
	require.True(t, errors.As(err, &pe))
	require.Equal(t, packet.ErrInvalidQoS, errors.Unwrap(err))
	require.EqualError(t, &packet.ProtocolError{Reason: "x"}, "mqtt: x")
}

// TestDecodeTakesOnePacket checks that Decode reads only the first packet
// of a buffer holding several.
func TestDecodeTakesOnePacket(t *testing.T) {
	var b []byte
	for _, p := range samples() {
		var err error
		b, err = p.Append(b)
		require.NoError(t, err)
	}
	for _, p := range samples() {
		q, n, err := packet.Decode(b)
		require.NoError(t, err)
		if d := cmp.Diff(p, q, equateEmpty); d != "" {
			t.Fatal(d)
		}
		b = b[n:]
	}
	require.Empty(t, b)
}
