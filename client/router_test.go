package client

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

// routed returns the names of the routes that match topic, in order.
func routed(r *router, topic string) []string {
	var names []string
	for _, h := range r.match(nil, topic) {
		m := &Message{Topic: topic}
		h(m)
		names = append(names, string(m.Payload))
	}
	return names
}

func named(name string) Handler { return func(m *Message) { m.Payload = []byte(name) } }

// TestRouterMatches checks routing against packet.MatchTopic on a table of
// filters and topics: exact, '+', '#', "a/#" matching "a", several routes
// for one topic in the order they were added, shared filters on their
// filter part, and '$' topics not matched by a leading wildcard
// [MQTT-4.7.2-1].
func TestRouterMatches(t *testing.T) {
	filters := []string{"a/b", "a/+", "a/#", "#", "+/b", "+", "+/+", "$SYS/#", "$SYS/+/x", "$share/g/a/b",
		"$share/g2/s/#", "a/b/c", "/", "+/", "a//b", "a/+/c"}
	topics := []string{"a/b", "a", "a/b/c", "b", "$SYS/x", "$SYS/y/x", "$SYS", "/", "a//b", "s/1", "x/b", "a/q/c", "$share/g/a/b"}
	r := newRouter()
	for _, f := range filters {
		r.add(f, named(f))
	}
	for _, topic := range topics {
		var want []string
		for _, f := range filters {
			if packet.MatchTopic(f, topic) {
				want = append(want, f)
			}
		}
		if diff := cmp.Diff(want, routed(r, topic)); diff != "" {
			t.Errorf("topic %q (-want +got):\n%s", topic, diff)
		}
	}
	require.Empty(t, routed(r, "$other"), "no route starting with a wildcard takes a $ topic")
	require.Equal(t, []string{"$SYS/#"}, routed(r, "$SYS/x"))
}

// TestRouterRemove checks that removing routes prunes them and leaves the
// others, and that re-adding a filter replaces its handler in place.
func TestRouterRemove(t *testing.T) {
	r := newRouter()
	r.add("a/+/c", named("1"))
	r.add("a/#", named("2"))
	r.add("a/b/c", named("3"))
	r.add("a/+/c", named("1b"))
	require.Equal(t, []string{"1b", "2", "3"}, routed(r, "a/b/c"))
	r.remove("a/+/c")
	require.Equal(t, []string{"2", "3"}, routed(r, "a/b/c"))
	r.remove("a/b/c")
	r.remove("a/#")
	r.remove("never")
	require.Empty(t, routed(r, "a/b/c"))
	require.Empty(t, r.tree.children, "empty nodes are pruned")
	require.Empty(t, r.exact)
	require.False(t, r.has("a/#"))
}

// BenchmarkRouterMatch measures routing a topic among 1,000 exact and 100
// wildcard routes.
func BenchmarkRouterMatch(b *testing.B) {
	r := newRouter()
	for i := 0; i < 1000; i++ {
		r.add("dev/"+string(rune('a'+i%26))+"/"+string(rune('a'+i/26)), named(""))
	}
	for i := 0; i < 100; i++ {
		r.add("dev/+/"+string(rune('a'+i%26))+"/#", named(""))
	}
	var hs []Handler
	b.ReportAllocs()
	for b.Loop() {
		hs = r.match(hs[:0], "dev/c/b")
	}
}
