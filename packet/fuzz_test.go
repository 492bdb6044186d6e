package packet_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/linnet-mqtt/linnet/packet"
)

// addVectorSeeds adds the bytes of every shared vector, and all valid ones
// back to back, to the corpus.
func addVectorSeeds(f *testing.F) {
	var stream []byte
	for _, v := range loadVectors(f) {
		f.Add(v.wire)
		if v.want != nil {
			stream = append(stream, v.wire...)
		}
	}
	f.Add(stream)
}

// reencode encodes a decoded packet strictly; the one packet the decoder
// accepts and a sender must not send (an empty client id without clean
// session [MQTT-3.1.3-7]) is encoded without checks.
func reencode(t *testing.T, p packet.Packet) []byte {
	b, err := p.Append(nil)
	if c, ok := p.(*packet.Connect); ok && c.ClientID == "" && !c.CleanSession {
		if !errors.Is(err, &packet.ProtocolError{Rule: "MQTT-3.1.3-7"}) {
			t.Fatalf("Append(%v) = %v, want [MQTT-3.1.3-7]", p, err)
		}
		b, err = packet.AppendIllegal(nil, p)
	}
	if err != nil {
		t.Fatalf("a decoded packet does not encode: %v: %v", p, err)
	}
	return b
}

// checkFailure checks that an error of the decoder is one it promises.
func checkFailure(t *testing.T, err error) {
	var pe *packet.ProtocolError
	switch {
	case err == io.EOF, err == io.ErrUnexpectedEOF:
	case errors.As(err, &pe):
		if !errors.Is(err, packet.ErrProtocol) || pe.Kind == nil {
			t.Fatalf("protocol error without its sentinels: %v", err)
		}
	default:
		t.Fatalf("unexpected error %T: %v", err, err)
	}
}

// FuzzReadPacket reads arbitrary bytes with a Reader. It never panics; every
// failure is a *ProtocolError, io.EOF or io.ErrUnexpectedEOF; every packet it
// returns encodes again with Append and decodes to the same value; and Decode
// agrees with the Reader on the first packet.
func FuzzReadPacket(f *testing.F) {
	addVectorSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := packet.NewReader(bytes.NewReader(data))
		r.SetMaxPacketSize(1 << 20)
		first := true
		for range 1000 {
			p, err := r.ReadPacket()
			if first {
				dp, _, derr := packet.Decode(data)
				switch {
				case err == nil && derr == nil:
					if d := cmp.Diff(dp, p, equateEmpty); d != "" {
						t.Fatalf("Decode and Reader disagree:\n%s", d)
					}
				case err == nil || derr == nil:
					if !errors.Is(err, packet.ErrPacketTooLarge) {
						t.Fatalf("Reader: %v, %v; Decode: %v, %v", p, err, dp, derr)
					}
				case err.Error() != derr.Error() && !errors.Is(err, packet.ErrPacketTooLarge):
					t.Fatalf("Reader error %v, Decode error %v", err, derr)
				}
				first = false
			}
			if err != nil {
				checkFailure(t, err)
				return
			}
			b := reencode(t, p)
			if len(b) != p.Len() {
				t.Fatalf("Len %d, encoded %d bytes: %v", p.Len(), len(b), p)
			}
			q, n, err := packet.Decode(b)
			if err != nil || n != len(b) {
				t.Fatalf("re-encoded %v does not decode: %v (%d of %d bytes)", p, err, n, len(b))
			}
			if d := cmp.Diff(p, q, equateEmpty); d != "" {
				t.Fatalf("round trip changed the packet:\n%s", d)
			}
		}
	})
}

// FuzzDecode decodes arbitrary bytes with Decode. It never panics, never
// claims more bytes than it has, fails only as documented, and accepts only
// what the encoder writes: a decoded packet encodes back to exactly the bytes
// it came from, unless they used a non-minimal remaining length.
func FuzzDecode(f *testing.F) {
	addVectorSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, n, err := packet.Decode(data)
		if err != nil {
			checkFailure(t, err)
			return
		}
		if n <= 0 || n > len(data) {
			t.Fatalf("Decode took %d of %d bytes", n, len(data))
		}
		b := reencode(t, p)
		rl, size, err := packet.ParseRemainingLength(data[1:])
		if err != nil {
			t.Fatalf("Decode accepted a header ParseRemainingLength refuses: %v", err)
		}
		if size == packet.RemainingLengthSize(rl) && !bytes.Equal(b, data[:n]) {
			t.Fatalf("decoded from\n% x\nencodes as\n% x", data[:n], b)
		}
	})
}

// FuzzMatchTopic checks that MatchTopic never panics on any strings and,
// for a valid filter and topic name, agrees with the plain reference matcher
// of topic_test.go, including [MQTT-4.7.2-1] for topics starting with '$'.
func FuzzMatchTopic(f *testing.F) {
	for _, s := range [][2]string{
		{"sport/tennis/player1/#", "sport/tennis/player1"}, {"sport/#", "sport"}, {"sport/+", "sport/"},
		{"+/+", "/finance"}, {"+", "/finance"}, {"#", "$SYS/x"}, {"$SYS/monitor/+", "$SYS/monitor/Clients"},
		{"$share/g/a/+", "a/b"}, {"$share/g", "$share/g"}, {"a//b", "a//b"}, {"+/#", "a"},
	} {
		f.Add(s[0], s[1])
	}
	for _, v := range loadVectors(f) {
		switch p := v.want.(type) {
		case *packet.Subscribe:
			for _, s := range p.Subscriptions {
				f.Add(s.Filter, strings.ReplaceAll(strings.ReplaceAll(s.Filter, "+", "x"), "#", "y"))
			}
		case *packet.Publish:
			f.Add("#", p.Topic)
		}
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		got := packet.MatchTopic(filter, topic)
		if packet.ValidateTopicFilter(filter) != nil || packet.ValidateTopicName(topic) != nil {
			return
		}
		if want := refMatch(filter, topic); got != want {
			t.Fatalf("MatchTopic(%q, %q) = %v, reference says %v", filter, topic, got, want)
		}
	})
}

// FuzzValidateUTF8 compares the hand-written string check with the standard
// library: a string passes exactly when utf8.ValidString accepts it (which
// refuses surrogates [MQTT-1.5.3-1]) and it holds no U+0000 [MQTT-1.5.3-2];
// U+FEFF passes [MQTT-1.5.3-3]. The rule of a failure says which.
func FuzzValidateUTF8(f *testing.F) {
	for _, s := range []string{"", "a", "\x00", "\ufeff", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf",
		"sensors/building-7/floor-3/room-42/temperature", "abcdefgh\x00abcdefgh", "ü/水/😀", "\xe6\xb0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := packet.ValidUTF8(s)
		valid, nul := utf8.ValidString(s), strings.IndexByte(s, 0) >= 0
		switch {
		case valid && !nul:
			if err != nil {
				t.Fatalf("%q refused: %v", s, err)
			}
		case !valid:
			if !errors.Is(err, &packet.ProtocolError{Rule: "MQTT-1.5.3-1"}) && !(nul && errors.Is(err, &packet.ProtocolError{Rule: "MQTT-1.5.3-2"})) {
				t.Fatalf("%q: %v, want [MQTT-1.5.3-1]", s, err)
			}
		default: // valid with U+0000
			if !errors.Is(err, &packet.ProtocolError{Rule: "MQTT-1.5.3-2"}) {
				t.Fatalf("%q: %v, want [MQTT-1.5.3-2]", s, err)
			}
		}
		// The topic checks agree on the string part.
		if nameErr := packet.ValidateTopicName(s); err != nil && nameErr == nil {
			t.Fatalf("%q: ValidateTopicName accepts what the string check refuses: %v", s, err)
		}
	})
}

// refValidFilter and refValidName are plain reference rules of §4.7: split
// on '/'; a level holding a wildcard is exactly "+" or, last, "#"; a name
// holds none; both are 1 to 65535 bytes of UTF-8 without U+0000.
func refValidString(s string) bool {
	return len(s) > 0 && len(s) <= 65535 && utf8.ValidString(s) && !strings.Contains(s, "\x00")
}

func refValidFilter(s string) bool {
	levels := strings.Split(s, "/")
	for i, l := range levels {
		if strings.ContainsAny(l, "+#") && l != "+" && !(l == "#" && i == len(levels)-1) {
			return false
		}
	}
	return refValidString(s)
}

func refValidName(s string) bool { return !strings.ContainsAny(s, "+#") && refValidString(s) }

// FuzzValidateTopic compares ValidateTopicFilter and ValidateTopicName (and
// their word-at-a-time paths) with the plain reference rules above:
// [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1] [MQTT-4.7.3-2].
func FuzzValidateTopic(f *testing.F) {
	for _, s := range []string{"#", "+", "a/+/b", "sport/tennis#", "sport/tennis/#/ranking", "sport+", "+/+", "/+",
		"sensors/+/floor-3/#", "$SYS/broker/clients/connected", "abcdefg+/h", "abcdefgh/#", "a/b\x00c/d/e/f/g", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := packet.ValidateTopicFilter(s) == nil, refValidFilter(s); got != want {
			t.Fatalf("ValidateTopicFilter(%q) valid=%v, reference says %v", s, got, want)
		}
		if got, want := packet.ValidateTopicName(s) == nil, refValidName(s); got != want {
			t.Fatalf("ValidateTopicName(%q) valid=%v, reference says %v", s, got, want)
		}
	})
}
