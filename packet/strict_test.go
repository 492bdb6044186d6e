package packet_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

// refusal is a packet that a strict encoder must refuse, and the rule.
type refusal struct {
	name string
	p    packet.Packet
	rule string
	kind error
}

// checkRefusals checks that Append refuses each packet with its rule and
// kind, leaving the buffer as it was, and that a Writer refuses it too.
// It returns the errors, for TestEncodeOnlyErrorsCovered.
func checkRefusals(t *testing.T, cases []refusal) []*packet.ProtocolError {
	t.Helper()
	var errs []*packet.ProtocolError
	for _, c := range cases {
		buf := []byte{1, 2, 3}
		got, err := c.p.Append(buf)
		if !errors.Is(err, &packet.ProtocolError{Rule: c.rule}) || !errors.Is(err, packet.ErrProtocol) {
			t.Errorf("%s: Append error %v, want [%s]", c.name, err, c.rule)
			continue
		}
		if c.kind != nil && !errors.Is(err, c.kind) {
			t.Errorf("%s: error %v is not %v", c.name, err, c.kind)
		}
		if !slices.Equal(got, buf) {
			t.Errorf("%s: Append changed the buffer to % x", c.name, got)
		}
		if w := packet.NewWriter(discard{}); w.WritePacket(c.p) == nil {
			t.Errorf("%s: Writer wrote it", c.name)
		}
		var pe *packet.ProtocolError
		errors.As(err, &pe)
		errs = append(errs, pe)
	}
	return errs
}

// TestEncodeOnlyErrorsCovered checks that the strict encoding tests produce
// every error that only an encoder can return.
func TestEncodeOnlyErrorsCovered(t *testing.T) {
	var got []*packet.ProtocolError
	for _, cases := range [][]refusal{connectRefusals(), connackRefusals, publishRefusals(), idRefusals,
		subscribeRefusals(), subackRefusals, unsubscribeRefusals(), rawRefusals} {
		got = append(got, checkRefusals(t, cases)...)
	}
	got = append(got, hugeErrors(t)...)
	for _, s := range []string{"", string(make([]byte, 70000))} {
		for _, err := range []error{packet.ValidateTopicName(s), packet.ValidateTopicFilter(s)} {
			var pe *packet.ProtocolError
			require.ErrorAs(t, err, &pe)
			got = append(got, pe)
		}
	}
	for name, e := range packet.EncodeOnlyErrors {
		hit := slices.ContainsFunc(got, func(g *packet.ProtocolError) bool {
			return g == e || g.Rule == e.Rule && g.Reason == e.Reason && g.Kind == e.Kind
		})
		if !hit {
			t.Errorf("no encoding test produces %s (%v)", name, e)
		}
	}
}

// hugeErrors checks the limits no field can reach alone: a string over
// 65535 bytes, and a packet over the 268,435,455 bytes of remaining length
// (§2.2.3), built from one shared 65535-byte string so the test stays small.
func hugeErrors(t *testing.T) []*packet.ProtocolError {
	long := string(make([]byte, 65536))
	max := string(make([]byte, 65535))
	subs := make([]packet.Subscription, packet.MaxRemainingLength/(len(max)+3)+1)
	filters := make([]string, len(subs))
	for i := range subs {
		subs[i].Filter, filters[i] = max, max
	}
	var errs []*packet.ProtocolError
	for _, c := range []struct {
		p    packet.Packet
		rule string
		kind error
	}{
		{&packet.Publish{Topic: long}, "§1.5.3", packet.ErrMalformed},
		{&packet.Connect{ClientID: long}, "§1.5.3", packet.ErrMalformed},
		{&packet.Connect{Password: make([]byte, 65536)}, "§1.5.3", packet.ErrMalformed},
		{&packet.Subscribe{Subscriptions: []packet.Subscription{{Filter: long}}}, "§1.5.3", packet.ErrMalformed},
		{&packet.Unsubscribe{Filters: []string{long}}, "§1.5.3", packet.ErrMalformed},
		{&packet.Subscribe{PacketID: 1, Subscriptions: subs}, "§2.2.3", packet.ErrPacketTooLarge},
		{&packet.Unsubscribe{PacketID: 1, Filters: filters}, "§2.2.3", packet.ErrPacketTooLarge},
	} {
		b, err := packet.AppendIllegal([]byte{9}, c.p)
		require.ErrorIs(t, err, &packet.ProtocolError{Rule: c.rule}, "%T", c.p)
		require.ErrorIs(t, err, c.kind)
		require.Equal(t, []byte{9}, b)
		var pe *packet.ProtocolError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, c.p.Type(), pe.Type)
		errs = append(errs, pe)
	}
	return errs
}
