package session

import (
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
	"github.com/stretchr/testify/require"
)

// reopen builds a new session over the harness's store, as a restarted
// process would (the memory store is kept, not closed).
func (h *harness) reopen(t *testing.T) *harness {
	t.Helper()
	opts := h.opts
	s, err := New(opts)
	require.NoError(t, err)
	return &harness{t: t, s: s, st: h.st, opts: opts, ids: map[string]MsgID{}, acks: map[string]AckID{}}
}

// TestRestoreOrderAcrossWrap checks [MQTT-4.6.0-1], [MQTT-4.4.0-1] and
// [MQTT-3.3.1-1] across packet-identifier wrap-around: messages published
// with identifiers 65534, 65535, 1, 2 are re-sent after a restart in the
// order they were published (the store's insertion order), not in
// identifier order, with DUP=1, and a PUBREL is re-sent in place of the
// PUBLISH whose PUBREC was seen.
func TestRestoreOrderAcrossWrap(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.ids.cursor = 65533
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(1, "a"), want: []string{"> PUBLISH q1 id=65534 dup=0 t a"}},
		{at: 2, do: publish(2, "b"), want: []string{"> PUBLISH q2 id=65535 dup=0 t b"}},
		{at: 3, do: publish(2, "c"), want: []string{"> PUBLISH q2 id=1 dup=0 t c"}},
		{at: 4, do: publish(1, "d"), want: []string{"> PUBLISH q1 id=2 dup=0 t d"}},
		{at: 5, do: recv(&packet.Pubrec{PacketID: 1}), want: []string{"> PUBREL 1"}},
		{at: 6, do: recv(&packet.Pubrec{PacketID: 65535}), want: []string{"> PUBREL 65535"}},
	})
	h2 := h.reopen(t)
	require.Equal(t, 4, h2.s.InFlight())
	runSteps(t, h2, []step{
		{at: 10, do: connack(true, false), want: []string{
			"> PUBREL 1", "> PUBREL 65535", // in PUBREC order [MQTT-4.6.0-4]
			"> PUBLISH q1 id=65534 dup=1 t a",
			"> PUBLISH q1 id=2 dup=1 t d",
		}},
		// New publishes skip the restored identifiers.
		{at: 11, do: publish(1, "e"), want: []string{"> PUBLISH q1 id=3 dup=0 t e"}},
		// Restored messages get MsgIDs in store order: a=1, d=2, PUBREL 1=3, PUBREL 65535=4.
		{at: 12, do: recv(&packet.Pubcomp{PacketID: 65535}), want: []string{"! done 4"}},
		{at: 13, do: recv(&packet.Puback{PacketID: 65534}), want: []string{"! done 1"}},
	})
	out := h2.s.Outstanding()
	require.Len(t, out, 3)
	require.True(t, out[0].Released)
	require.Equal(t, uint16(1), out[0].PacketID)
}

// TestRestoreSkipsBadRecords checks that restore survives what a store may
// hold after crashes and bugs: garbage, a record under the wrong key, an
// inbound record of the wrong QoS, an sc- with its s- (sc- wins), an sc-
// alone (fine: PUBREL is re-sent), and keys that are not the session's. Bad
// records are logged and removed, never a panic.
func TestRestoreSkipsBadRecords(t *testing.T) {
	m := store.NewMemory()
	require.NoError(t, m.Open("c", "u"))
	put := func(k string, p packet.Packet) {
		b, err := packet.AppendIllegal(nil, p)
		require.NoError(t, err)
		require.NoError(t, m.Put(k, b))
	}
	require.NoError(t, m.Put("s-3", []byte{0xff, 0x00, 0x01}))
	put("s-4", &packet.Publish{Topic: "t", QoS: 1, PacketID: 5})    // wrong key
	put("s-6", &packet.Publish{Topic: "t", QoS: 0})                 // QoS 0 is never stored
	put("r-7", &packet.Publish{Topic: "t", QoS: 1, PacketID: 7})    // inbound QoS 1 is never stored
	put("s-8", &packet.Publish{Topic: "t", QoS: 2, PacketID: 8})    // superseded by sc-8
	put("sc-8", &packet.Pubrel{PacketID: 8})                        //
	put("sc-9", &packet.Pubrel{PacketID: 9})                        // alone: fine
	put("s-10", &packet.Puback{PacketID: 10})                       // not a PUBLISH
	put("s-0", &packet.Publish{Topic: "t", QoS: 1, PacketID: 1})    // id 0 is not a key of ours
	put("s-011", &packet.Publish{Topic: "t", QoS: 1, PacketID: 11}) // not canonical
	put("r-12", &packet.Publish{Topic: "in", QoS: 2, PacketID: 12})
	put("sb-x", &packet.Publish{Topic: "t"})
	require.NoError(t, m.Put("s-13", append(mustAppend(t, &packet.Publish{Topic: "t", QoS: 1, PacketID: 13}), 0))) // trailing byte
	require.NoError(t, m.Put("other", []byte("x")))

	h := newHarness(t, Options{Store: m})
	require.ElementsMatch(t, []string{"sc-8", "sc-9", "r-12", "s-0", "s-011", "sb-x", "other"}, h.storeKeys())
	runSteps(t, h, []step{
		{at: 0, do: connack(true, false), want: []string{"> PUBREL 8", "> PUBREL 9"}},
		{at: 1, do: recv(&packet.Pubrel{PacketID: 12}), want: []string{"! deliver q2 id=12 in  ack=0", "> PUBCOMP 12"}},
		{at: 2, do: recv(&packet.Pubcomp{PacketID: 9}), want: []string{"! done 2"}},
	})
}

func mustAppend(t *testing.T, p packet.Packet) []byte {
	b, err := p.Append(nil)
	require.NoError(t, err)
	return b
}

// TestRestoreBuffer checks that a persisted offline buffer survives a
// restart in order, and that its sequence continues after the highest one
// restored, so sb- keys never collide.
func TestRestoreBuffer(t *testing.T) {
	opts := Options{Buffer: BufferOptions{Enabled: true, Persist: true}}
	h := newHarness(t, opts)
	runSteps(t, h, []step{{at: 1, do: publish(1, "a")}, {at: 2, do: publish(0, "b")}, {at: 3, do: publish(2, "c")}})
	require.True(t, h.s.Cancel(h.ids["a"]))
	h2 := h.reopen(t)
	require.Equal(t, 2, h2.s.Buffered())
	runSteps(t, h2, []step{{at: 4, do: publish(1, "d")}})
	require.Equal(t, []string{"sb-2", "sb-3", "sb-4"}, h2.storeKeys())
	runSteps(t, h2, []step{
		{at: 5, do: connack(false, false), want: []string{
			"> PUBLISH q0 id=0 dup=0 t b", "! done 1",
			"> PUBLISH q2 id=1 dup=0 t c",
			"> PUBLISH q1 id=2 dup=0 t d",
		}},
	})
	require.Equal(t, []string{"s-1", "s-2"}, h2.storeKeys())
}

// TestRestoreInboundQoS2 checks [MQTT-4.3.3-2] and [MQTT-4.4.0-1] across a
// restart: an r- record restored waits for the PUBREL the server re-sends,
// then the message is delivered once.
func TestRestoreInboundQoS2(t *testing.T) {
	h := newHarness(t, Options{})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: recv(inPub(2, 4, "x", false)), want: []string{"> PUBREC 4"}},
	})
	h2 := h.reopen(t)
	runSteps(t, h2, []step{
		{at: 2, do: connack(true, false)},
		{at: 3, do: recv(inPub(2, 4, "x", true)), want: []string{"> PUBREC 4"}},
		{at: 4, do: recv(&packet.Pubrel{PacketID: 4}), want: []string{"! deliver q2 id=4 in x ack=0", "> PUBCOMP 4"}},
		{at: 5, do: recv(&packet.Pubrel{PacketID: 4}), want: []string{"> PUBCOMP 4"}},
	})
}
