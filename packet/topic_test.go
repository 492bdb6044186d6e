package packet_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

// TestValidateTopicName checks topic names: at least one byte
// [MQTT-4.7.3-1], at most 65535 [MQTT-4.7.3-3], no wildcard anywhere
// [MQTT-4.7.1-1], no U+0000 [MQTT-4.7.3-2] [MQTT-1.5.3-2], well-formed
// UTF-8 [MQTT-1.5.3-1], U+FEFF allowed [MQTT-1.5.3-3].
func TestValidateTopicName(t *testing.T) {
	valid := []string{"a", "/", "//", "a/b", "/finance", "sport/tennis/player1", "$SYS/monitor/Clients",
		"a b", "ü/水/😀", "\ufeff", "x/\ufeff/y", strings.Repeat("a", 65535), "sensors/building-7/floor-3/room-42/temperature"}
	for _, s := range valid {
		require.NoError(t, packet.ValidateTopicName(s), "%q", s)
	}
	invalid := []struct {
		s    string
		rule string
	}{
		{"", "MQTT-4.7.3-1"},
		{strings.Repeat("a", 65536), "MQTT-4.7.3-3"},
		{"+", "MQTT-4.7.1-1"}, {"#", "MQTT-4.7.1-1"}, {"a/+", "MQTT-4.7.1-1"}, {"sport/tennis#", "MQTT-4.7.1-1"},
		{"sensors/building-7/floor-3/room-42/+", "MQTT-4.7.1-1"}, {"a+b/c/d/e/f/g/h/i", "MQTT-4.7.1-1"},
		{"a\x00", "MQTT-1.5.3-2"}, {"sensors/building-7\x00/", "MQTT-1.5.3-2"},
		{"\xff", "MQTT-1.5.3-1"}, {"\xed\xa0\x80", "MQTT-1.5.3-1"}, {"abcdefgh\xc3", "MQTT-1.5.3-1"},
	}
	for _, c := range invalid {
		err := packet.ValidateTopicName(c.s)
		require.ErrorIs(t, err, &packet.ProtocolError{Rule: c.rule}, "%.20q", c.s)
		require.ErrorIs(t, err, packet.ErrProtocol)
	}
}

// TestValidateTopicFilter checks topic filters against §4.7, with the
// examples of the spec: '#' alone and last [MQTT-4.7.1-2], '+' filling its
// level [MQTT-4.7.1-3], at least one byte [MQTT-4.7.3-1], at most 65535
// [MQTT-4.7.3-3], no U+0000 [MQTT-4.7.3-2] [MQTT-1.5.3-2], well-formed UTF-8
// [MQTT-1.5.3-1].
func TestValidateTopicFilter(t *testing.T) {
	valid := []string{"#", "+", "/", "+/tennis/#", "sport/tennis/player1/#", "sport/#", "sport/+", "+/+", "/+",
		"sport/tennis/+", "+/monitor/Clients", "$SYS/#", "$SYS/monitor/+", "a//b", "+/+/+/+/+/+/+/+/+", "a/+/b/+/#",
		"$share/g/a/+", "$share/g", "ü/+/水", strings.Repeat("a", 65535), "sensors/+/floor-3/#"}
	for _, s := range valid {
		require.NoError(t, packet.ValidateTopicFilter(s), "%q", s)
	}
	invalid := []struct {
		s    string
		rule string
	}{
		{"sport/tennis#", "MQTT-4.7.1-2"}, {"sport/tennis/#/ranking", "MQTT-4.7.1-2"}, {"##", "MQTT-4.7.1-2"},
		{"#/", "MQTT-4.7.1-2"}, {"a/#/", "MQTT-4.7.1-2"}, {"abcdefghijklmnop#", "MQTT-4.7.1-2"},
		{"sport+", "MQTT-4.7.1-3"}, {"+sport", "MQTT-4.7.1-3"}, {"a/+b/c", "MQTT-4.7.1-3"}, {"++", "MQTT-4.7.1-3"},
		{"abcdefghijklmnop/+x", "MQTT-4.7.1-3"},
		{"", "MQTT-4.7.3-1"}, {strings.Repeat("a", 65536), "MQTT-4.7.3-3"},
		{"a/\x00", "MQTT-1.5.3-2"}, {"a/\xc0\x80", "MQTT-1.5.3-1"}, {"abcdefgh/+/\xf8", "MQTT-1.5.3-1"},
	}
	for _, c := range invalid {
		err := packet.ValidateTopicFilter(c.s)
		require.ErrorIs(t, err, &packet.ProtocolError{Rule: c.rule}, "%.20q", c.s)
	}
}

// TestMatchTopic checks matching with the examples of §4.7.1 and §4.7.2,
// including [MQTT-4.7.2-1]: a filter starting with a wildcard does not match
// a topic starting with '$'; and byte comparison without normalisation
// [MQTT-4.7.3-4].
func TestMatchTopic(t *testing.T) {
	cases := []struct {
		filter, topic string
		match         bool
	}{
		{"sport/tennis/player1/#", "sport/tennis/player1", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
		{"sport/tennis/player1/#", "sport/tennis/player2", false},
		{"sport/tennis/player1/#", "sport/tennis", false},
		{"sport/#", "sport", true},
		{"sport/#", "sport/", true},
		{"sport/#", "sports", false},
		{"#", "sport/tennis", true},
		{"#", "/", true},
		{"sport/tennis/+", "sport/tennis/player1", true},
		{"sport/tennis/+", "sport/tennis/player2", true},
		{"sport/tennis/+", "sport/tennis/player1/ranking", false},
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true},
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"+", "finance", true},
		{"+/tennis/#", "sport/tennis/player1", true},
		{"+/tennis/#", "sport/tennis", true},
		{"+/tennis/#", "sport/golf", false},
		{"a/b", "a/b", true},
		{"a/b", "a/b/", false},
		{"a/b", "A/b", false},
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
		{"a/+/#", "a/x", true},
		{"a/+/#", "a", false},
		// [MQTT-4.7.2-1]
		{"#", "$SYS/monitor/Clients", false},
		{"#", "$SYS", false},
		{"+/monitor/Clients", "$SYS/monitor/Clients", false},
		{"+", "$x", false},
		{"$SYS/#", "$SYS/monitor/Clients", true},
		{"$SYS/#", "$SYS", true},
		{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
		{"a/+", "a/$x", true},
		{"a/#", "a/$x/y", true},
		// Shared subscriptions match on their filter part.
		{"$share/g/a/+", "a/b", true},
		{"$share/g/a/+", "a/b/c", false},
		{"$share/g/#", "a/b", true},
		{"$share/g/#", "$SYS/x", false},
		{"$share/group/sport/#", "sport", true},
		{"$share/g", "$share/g", true}, // not shared: an ordinary filter
		{"$share/g", "a", false},
		{"$share//a", "$share//a", true}, // no group: an ordinary filter
		{"$share//a", "a", false},
		// No normalisation: é precomposed and decomposed differ.
		{"caf\u00e9", "cafe\u0301", false},
		{"caf\u00e9", "caf\u00e9", true},
	}
	for _, c := range cases {
		require.Equal(t, c.match, packet.MatchTopic(c.filter, c.topic), "MatchTopic(%q, %q)", c.filter, c.topic)
		require.Equal(t, c.match, refMatch(c.filter, c.topic), "refMatch(%q, %q)", c.filter, c.topic)
	}
}

// TestSharedFilter checks the split of $share/<group>/<filter>.
func TestSharedFilter(t *testing.T) {
	for _, c := range []struct {
		in, group, filter string
		ok                bool
	}{
		{"$share/g/a/+", "g", "a/+", true},
		{"$share/group-1/#", "group-1", "#", true},
		{"$share/g", "", "", false},
		{"$share/g/", "", "", false},
		{"$share//a", "", "", false},
		{"$share/g+/a", "", "", false},
		{"$share/#/a", "", "", false},
		{"$SHARE/g/a", "", "", false},
		{"a/b", "", "", false},
	} {
		g, f, ok := packet.SharedFilter(c.in)
		require.Equal(t, c.ok, ok, c.in)
		require.Equal(t, c.group, g, c.in)
		require.Equal(t, c.filter, f, c.in)
	}
}

// refShared is the reference split of a shared filter, written apart from
// the package's.
func refShared(filter string) (string, bool) {
	parts := strings.SplitN(filter, "/", 3)
	if len(parts) != 3 || parts[0] != "$share" || parts[1] == "" || parts[2] == "" ||
		strings.Contains(parts[1], "+") || strings.Contains(parts[1], "#") {
		return "", false
	}
	return parts[2], true
}

// refMatch is a slow, plain reference matcher: split both on '/', compare
// level by level.
func refMatch(filter, topic string) bool {
	if f, ok := refShared(filter); ok {
		filter = f
	}
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (fs[0] == "+" || fs[0] == "#") {
		return false
	}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		switch {
		case i == len(fs):
			return j == len(ts)
		case fs[i] == "#":
			return true // the rest, or nothing: "a/#" matches "a"
		case j == len(ts):
			return false
		case fs[i] == "+" || fs[i] == ts[j]:
			return match(i+1, j+1)
		}
		return false
	}
	return match(0, 0)
}

// randomFilter and randomTopic draw from a small alphabet so that random
// pairs often match.
func randomFilter(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	levels := make([]string, n)
	for i := range levels {
		levels[i] = []string{"a", "b", "", "+", "$x", "ab"}[r.IntN(6)]
	}
	if r.IntN(3) == 0 {
		levels = append(levels, "#")
	}
	f := strings.Join(levels, "/")
	if r.IntN(8) == 0 {
		f = "$share/g/" + f
	}
	return f
}

func randomTopic(r *rand.Rand) string {
	n := 1 + r.IntN(5)
	levels := make([]string, n)
	for i := range levels {
		levels[i] = []string{"a", "b", "", "$x", "ab", "$SYS"}[r.IntN(6)]
	}
	return strings.Join(levels, "/")
}

// TestMatchTopicReference compares MatchTopic with refMatch over random
// valid filters and topics, including [MQTT-4.7.2-1] cases.
func TestMatchTopicReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	matches := 0
	for range 200000 {
		f, tp := randomFilter(r), randomTopic(r)
		if packet.ValidateTopicFilter(f) != nil || packet.ValidateTopicName(tp) != nil {
			continue // "" as the only level
		}
		got, want := packet.MatchTopic(f, tp), refMatch(f, tp)
		if got != want {
			t.Fatalf("MatchTopic(%q, %q) = %v, reference says %v", f, tp, got, want)
		}
		if got {
			matches++
		}
	}
	require.Greater(t, matches, 5000, "the random pairs should match often")
}

// TestMatchTopicAllocs checks that matching does not allocate.
func TestMatchTopicAllocs(t *testing.T) {
	require.Zero(t, testing.AllocsPerRun(100, func() {
		packet.MatchTopic("$share/g/sensors/+/floor-3/#", "sensors/b/floor-3/room/t")
	}))
}
