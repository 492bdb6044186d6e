package session

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/stretchr/testify/require"
)

// TestOutboundQoS1 checks [MQTT-4.3.2-1], [MQTT-2.3.1-1] and [MQTT-2.3.1-3]:
// a QoS 1 publish gets a non-zero identifier, is persisted under s-<id>
// before it is handed out, stays unacknowledged until its PUBACK, and only
// then completes, leaves the store and frees its identifier.
func TestOutboundQoS1(t *testing.T) {
	h := newHarness(t, Options{})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 10, do: func(h *harness, now time.Time) error {
			if err := publish(1, "a")(h, now); err != nil {
				return err
			}
			require.Equal(t, []string{"s-1"}, h.storeKeys(), "persisted before it is handed out")
			return nil
		}, want: []string{"> PUBLISH q1 id=1 dup=0 t a"}},
		{at: 20, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1"}},
	})
	require.Empty(t, h.storeKeys())
	require.Equal(t, 0, h.s.ids.Len())
	require.Equal(t, 0, h.s.InFlight())
}

// TestOutboundQoS2 checks [MQTT-4.3.3-1] and [MQTT-4.6.0-4]: PUBREC turns
// the s- record into an sc- record and queues PUBREL, PUBRELs go out in the
// order the PUBRECs arrived, the PUBLISH is never sent again after PUBREL,
// and completion waits for PUBCOMP.
func TestOutboundQoS2(t *testing.T) {
	h := newHarness(t, Options{})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(2, "a"), want: []string{"> PUBLISH q2 id=1 dup=0 t a"}},
		{at: 2, do: publish(2, "b"), want: []string{"> PUBLISH q2 id=2 dup=0 t b"}},
		{at: 3, do: recv(&packet.Pubrec{PacketID: 2}), want: []string{"> PUBREL 2"}},
		{at: 4, do: func(h *harness, now time.Time) error {
			require.Equal(t, []string{"s-1", "sc-2"}, h.storeKeys())
			return recv(&packet.Pubrec{PacketID: 1})(h, now)
		}, want: []string{"> PUBREL 1"}},
		{at: 5, do: recv(&packet.Pubrec{PacketID: 1}), want: []string{"> PUBREL 1"}}, // duplicate PUBREC: PUBREL again, no PUBLISH
		{at: 6, do: recv(&packet.Pubcomp{PacketID: 1}), want: []string{"! done 1"}},
		{at: 7, do: recv(&packet.Pubcomp{PacketID: 2}), want: []string{"! done 2"}},
	})
	require.Empty(t, h.storeKeys())
	require.Equal(t, 0, h.s.ids.Len())
}

// TestUnknownAcks checks that acks for identifiers the session does not
// hold leave its state alone, as Paho does: PUBACK and PUBCOMP are ignored,
// PUBREC is answered with PUBREL and PUBREL with PUBCOMP ([MQTT-4.3.3-2]: the
// receiver answers every PUBREL with PUBCOMP). An ack of the wrong kind for
// an identifier in use does not complete it either.
func TestUnknownAcks(t *testing.T) {
	h := newHarness(t, Options{})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(1, "one"), want: []string{"> PUBLISH q1 id=1 dup=0 t one"}},
		{at: 2, do: publish(2, "two"), want: []string{"> PUBLISH q2 id=2 dup=0 t two"}},
		{at: 3, do: recv(&packet.Puback{PacketID: 9})},
		{at: 4, do: recv(&packet.Pubcomp{PacketID: 9})},
		{at: 5, do: recv(&packet.Pubrec{PacketID: 9}), want: []string{"> PUBREL 9"}},
		{at: 6, do: recv(&packet.Pubrel{PacketID: 9}), want: []string{"> PUBCOMP 9"}},
		{at: 7, do: recv(&packet.Puback{PacketID: 2})},  // PUBACK for a QoS 2 message
		{at: 8, do: recv(&packet.Pubcomp{PacketID: 2})}, // PUBCOMP before PUBREC
		{at: 9, do: recv(&packet.Pubrec{PacketID: 1})},  // PUBREC for a QoS 1 message
		{at: 10, do: recv(&packet.Suback{PacketID: 1, ReturnCodes: []packet.SubackCode{0}})},
		{at: 11, do: recv(&packet.Unsuback{PacketID: 2})},
		{at: 12, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1"}},
		{at: 13, do: recv(&packet.Puback{PacketID: 1})}, // duplicate: already complete
		{at: 14, do: recv(&packet.Pubrec{PacketID: 2}), want: []string{"> PUBREL 2"}},
		{at: 15, do: recv(&packet.Pubcomp{PacketID: 2}), want: []string{"! done 2"}},
	})
	require.Equal(t, 0, h.s.ids.Len())
	require.Empty(t, h.storeKeys())
}

// TestInboundQoS2 checks [MQTT-4.3.3-2], [MQTT-3.3.4-1] and
// [MQTT-4.6.0-3]: an inbound QoS 2 PUBLISH is persisted under r-<id> and
// answered with PUBREC in arrival order, a re-sent duplicate is answered
// again but not delivered, the message is delivered once on PUBREL, the
// record goes and PUBCOMP follows, and after that the identifier is new.
func TestInboundQoS2(t *testing.T) {
	h := newHarness(t, Options{})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: recv(inPub(2, 5, "x", false)), want: []string{"> PUBREC 5"}},
		{at: 2, do: recv(inPub(2, 3, "y", false)), want: []string{"> PUBREC 3"}},
		{at: 3, do: func(h *harness, now time.Time) error {
			require.Equal(t, []string{"r-5", "r-3"}, h.storeKeys())
			return recv(inPub(2, 5, "x", true))(h, now)
		}, want: []string{"> PUBREC 5"}},
		{at: 4, do: recv(&packet.Pubrel{PacketID: 5}), want: []string{"! deliver q2 id=5 in x ack=0", "> PUBCOMP 5"}},
		{at: 5, do: recv(&packet.Pubrel{PacketID: 5}), want: []string{"> PUBCOMP 5"}}, // re-sent PUBREL: no second delivery
		{at: 6, do: recv(inPub(2, 5, "z", false)), want: []string{"> PUBREC 5"}},      // id 5 is new again
		{at: 7, do: recv(&packet.Pubrel{PacketID: 5}), want: []string{"! deliver q2 id=5 in z ack=0", "> PUBCOMP 5"}},
		{at: 8, do: recv(&packet.Pubrel{PacketID: 3}), want: []string{"! deliver q2 id=3 in y ack=0", "> PUBCOMP 3"}},
	})
	require.Empty(t, h.storeKeys())
}

// TestInboundQoS01 checks [MQTT-3.3.4-1], [MQTT-4.3.2-2] and [MQTT-4.6.0-2]:
// QoS 0 is delivered without a reply, QoS 1 is delivered and PUBACKed in
// arrival order, and a DUP re-send of QoS 1 is a new publication.
func TestInboundQoS01(t *testing.T) {
	h := newHarness(t, Options{})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: recv(inPub(0, 0, "a", false)), want: []string{"! deliver q0 id=0 in a ack=0"}},
		{at: 2, do: recv(inPub(1, 7, "b", false)), want: []string{"! deliver q1 id=7 in b ack=0", "> PUBACK 7"}},
		{at: 3, do: recv(inPub(1, 7, "b", true)), want: []string{"! deliver q1 id=7 in b ack=0", "> PUBACK 7"}},
	})
}

// TestManualAcksInOrder checks [MQTT-4.6.0-2] and [MQTT-4.6.0-3] with
// manual acks: deliveries wait for Ack, an ack for a later message waits for
// the earlier ones, PUBRECs are not held back, and for QoS 2 the r- record
// stays until the ack (and goes at the ack, before its PUBCOMP's turn).
func TestManualAcksInOrder(t *testing.T) {
	h := newHarness(t, Options{ManualAcks: true})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: recv(inPub(1, 1, "a", false)), want: []string{"! deliver q1 id=1 in a ack=1"}},
		{at: 2, do: recv(inPub(2, 2, "b", false)), want: []string{"> PUBREC 2"}},
		{at: 3, do: recv(inPub(1, 3, "c", false)), want: []string{"! deliver q1 id=3 in c ack=2"}},
		{at: 4, do: recv(&packet.Pubrel{PacketID: 2}), want: []string{"! deliver q2 id=2 in b ack=3"}},
		{at: 5, do: ack("c")},
		{at: 6, do: func(h *harness, now time.Time) error {
			require.Equal(t, []string{"r-2"}, h.storeKeys(), "the r- record waits for the ack")
			if err := recv(&packet.Pubrel{PacketID: 2})(h, now); err != nil { // re-sent PUBREL while waiting: nothing
				return err
			}
			return ack("b")(h, now)
		}},
		{at: 7, do: func(h *harness, now time.Time) error {
			require.Empty(t, h.storeKeys(), "Ack removes the r- record at once; its PUBCOMP waits its turn")
			return nil
		}},
		{at: 8, do: ack("a"), want: []string{"> PUBACK 1", "> PUBACK 3", "> PUBCOMP 2"}},
		{at: 9, do: ack("a")}, // twice: nothing
		{at: 10, do: func(h *harness, now time.Time) error { return h.s.Ack(now, 999) }},
	})
	require.Empty(t, h.storeKeys())
}

// TestInflightWindowQueues checks that a full in-flight window queues
// publishes instead of failing, admits them in order as acks make room, and
// that each gets its identifier (and s- record) only when it is admitted
// [MQTT-2.3.1-2]; until then it is held under sb-<seq>, which goes when
// s-<id> is written.
func TestInflightWindowQueues(t *testing.T) {
	h := newHarness(t, Options{MaxInFlight: 2})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(1, "a"), want: []string{"> PUBLISH q1 id=1 dup=0 t a"}},
		{at: 2, do: publish(2, "b"), want: []string{"> PUBLISH q2 id=2 dup=0 t b"}},
		{at: 3, do: publish(1, "c")},
		{at: 4, do: publish(0, "d"), want: []string{"> PUBLISH q0 id=0 dup=0 t d", "! done 4"}},
		{at: 5, do: func(h *harness, now time.Time) error {
			require.Equal(t, 1, h.s.Waiting())
			require.Equal(t, []string{"s-1", "s-2", "sb-1"}, h.storeKeys())
			return recv(&packet.Pubrec{PacketID: 2})(h, now)
		}, want: []string{"> PUBREL 2"}},
		{at: 6, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1", "> PUBLISH q1 id=3 dup=0 t c"}},
		{at: 6, do: func(h *harness, now time.Time) error {
			require.Equal(t, []string{"sc-2", "s-3"}, h.storeKeys())
			return nil
		}},
		{at: 7, do: recv(&packet.Pubcomp{PacketID: 2}), want: []string{"! done 2"}},
		{at: 8, do: recv(&packet.Puback{PacketID: 3}), want: []string{"! done 3"}},
	})
}

// TestReconnectResends checks [MQTT-4.4.0-1], [MQTT-4.6.0-1],
// [MQTT-3.3.1-1] and [MQTT-3.1.2-4]: after a reconnect without clean
// session, PUBRELs go out again for messages whose PUBREC was seen, then
// every unacknowledged PUBLISH with DUP=1 and its original identifier, in
// the original order; a message never handed out keeps DUP=0.
func TestReconnectResends(t *testing.T) {
	h := newHarness(t, Options{})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(1, "a"), want: []string{"> PUBLISH q1 id=1 dup=0 t a"}},
		{at: 2, do: publish(2, "b"), want: []string{"> PUBLISH q2 id=2 dup=0 t b"}},
		{at: 3, do: publish(2, "c"), want: []string{"> PUBLISH q2 id=3 dup=0 t c"}},
		{at: 4, do: recv(&packet.Pubrec{PacketID: 3}), want: []string{"> PUBREL 3"}},
		{at: 5, do: func(h *harness, now time.Time) error {
			_ = publish(1, "d")(h, now) // queued, lost before it is handed out
			h.s.ConnectionLost(now, errors.New("reset"))
			return nil
		}},
		{at: 6, do: connack(true, false), want: []string{
			"> PUBREL 3",
			"> PUBLISH q1 id=1 dup=1 t a",
			"> PUBLISH q2 id=2 dup=1 t b",
			"> PUBLISH q1 id=4 dup=0 t d",
		}},
		{at: 7, do: recv(&packet.Pubcomp{PacketID: 3}), want: []string{"! done 3"}},
	})
}

// TestCleanSessionClears checks [MQTT-3.1.2-6]: connecting with clean
// session discards every in-flight message (completed with
// ErrSessionCleared) and inbound QoS 2 state, in memory and in the store,
// while offline-buffered messages, never sent, are kept and sent.
func TestCleanSessionClears(t *testing.T) {
	h := newHarness(t, Options{Buffer: BufferOptions{Enabled: true, Persist: true}})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(1, "a"), want: []string{"> PUBLISH q1 id=1 dup=0 t a"}},
		{at: 2, do: publish(2, "b"), want: []string{"> PUBLISH q2 id=2 dup=0 t b"}},
		{at: 3, do: recv(&packet.Pubrec{PacketID: 2}), want: []string{"> PUBREL 2"}},
		{at: 4, do: recv(inPub(2, 9, "x", false)), want: []string{"> PUBREC 9"}},
		{at: 5, do: lost(nil)},
		{at: 6, do: publish(1, "buffered")},
		{at: 7, do: func(h *harness, now time.Time) error {
			require.Equal(t, []string{"s-1", "sc-2", "r-9", "sb-1"}, h.storeKeys())
			return h.s.OnConnack(now, false, true)
		}, want: []string{
			"! done 1 err=" + ErrSessionCleared.Error(),
			"! done 2 err=" + ErrSessionCleared.Error(),
			"> PUBLISH q1 id=3 dup=0 t buffered",
		}},
		{at: 8, do: recv(&packet.Pubrel{PacketID: 9}), want: []string{"> PUBCOMP 9"}}, // forgotten: not delivered
	})
	require.Equal(t, []string{"s-3"}, h.storeKeys())
	require.Equal(t, 0, h.s.InboundPending())
}

// TestOfflineBuffer checks the offline buffer: refused without one,
// ErrBufferFull or drop-oldest when full, drained in order after CONNACK
// through the in-flight window.
func TestOfflineBuffer(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		h := newHarness(t, Options{})
		_, err := h.s.Publish(at(0), Message{Topic: "t", QoS: 1})
		require.ErrorIs(t, err, ErrNotConnected)
		_, err = h.s.Subscribe(at(0), []packet.Subscription{{Filter: "a"}}, nil)
		require.ErrorIs(t, err, ErrNotConnected)
	})
	t.Run("refuse when full", func(t *testing.T) {
		h := newHarness(t, Options{MaxInFlight: 1, Buffer: BufferOptions{Enabled: true, Size: 2}})
		runSteps(t, h, []step{
			{at: 1, do: publish(1, "a")},
			{at: 2, do: publish(0, "b")},
			{at: 3, do: publish(2, "c"), wantErr: ErrBufferFull},
			// The QoS 0 message needs no room in the window.
			{at: 4, do: connack(false, false), want: []string{"> PUBLISH q1 id=1 dup=0 t a", "> PUBLISH q0 id=0 dup=0 t b", "! done 2"}},
			{at: 5, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1"}},
		})
	})
	t.Run("drop oldest", func(t *testing.T) {
		h := newHarness(t, Options{Buffer: BufferOptions{Enabled: true, Size: 2, DropOldest: true, Persist: true}})
		runSteps(t, h, []step{
			{at: 1, do: publish(1, "a")},
			{at: 2, do: publish(1, "b")},
			{at: 3, do: publish(2, "c"), want: []string{"! done 1 err=" + ErrBufferDropped.Error()}},
			{at: 4, do: func(h *harness, now time.Time) error {
				require.Equal(t, []string{"sb-2", "sb-3"}, h.storeKeys())
				return h.s.OnConnack(now, false, false)
			}, want: []string{"> PUBLISH q1 id=1 dup=0 t b", "> PUBLISH q2 id=2 dup=0 t c"}},
		})
		require.Equal(t, []string{"s-1", "s-2"}, h.storeKeys(), "sb- records give way to s- records")
	})
	t.Run("cancel", func(t *testing.T) {
		h := newHarness(t, Options{Buffer: BufferOptions{Enabled: true, Persist: true}})
		runSteps(t, h, []step{{at: 1, do: publish(1, "a")}, {at: 2, do: publish(1, "b")}})
		require.True(t, h.s.Cancel(h.ids["a"]))
		require.False(t, h.s.Cancel(h.ids["a"]))
		require.Equal(t, []string{"sb-2"}, h.storeKeys())
		require.Equal(t, 1, h.s.Buffered())
	})
}

// TestKeepAlive checks [MQTT-3.1.2-23] and Paho's checkForActivity: a
// PINGREQ when nothing was sent (or received) for the keep-alive period,
// NextDeadline at the exact time of the next check, and the connection
// declared lost with a timeout net.Error when nothing arrives within the
// ping timeout after the PINGREQ.
func TestKeepAlive(t *testing.T) {
	const s10 = 10_000_000 // 10 s in µs
	h := newHarness(t, Options{KeepAlive: 10 * time.Second, PingTimeout: 5 * time.Second})
	deadline := func(us int64) func(*harness, time.Time) error {
		return func(h *harness, now time.Time) error {
			require.Equal(t, at(us), h.s.NextDeadline())
			return nil
		}
	}
	require.True(t, h.s.NextDeadline().IsZero())
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 0, do: deadline(s10)},
		{at: 3_000_000, do: publish(1, "a"), want: []string{"> PUBLISH q1 id=1 dup=0 t a"}},
		{at: 3_000_000, do: deadline(s10)}, // nothing received since 0
		{at: 4_000_000, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1"}},
		{at: 4_000_000, do: deadline(3_000_000 + s10)},
		{at: 12_999_999, do: tick},
		{at: 13_000_000, do: tick, want: []string{"> PINGREQ"}},
		{at: 13_000_000, do: deadline(18_000_000)},
		{at: 14_000_000, do: recv(&packet.Pingresp{})},
		{at: 14_000_000, do: deadline(13_000_000 + s10)},
		{at: 23_000_000, do: tick, want: []string{"> PINGREQ"}},
		{at: 27_999_999, do: tick},
		{at: 28_000_000, do: func(h *harness, now time.Time) error {
			err := h.s.Tick(now)
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			require.True(t, ne.Timeout())
			require.ErrorIs(t, err, net.ErrClosed)
			return err
		}, wantErr: ErrKeepAliveTimeout},
		{at: 28_000_000, do: lost(nil)},
	})
	require.True(t, h.s.NextDeadline().IsZero())
}

// TestKeepAliveInboundOnly checks that a client that keeps sending still
// pings when nothing is received for the keep-alive period, as Paho does,
// and that any packet (not only PINGRESP) answers a PINGREQ.
func TestKeepAliveInboundOnly(t *testing.T) {
	h := newHarness(t, Options{KeepAlive: time.Second})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 500_000, do: publish(0, "a"), want: []string{"> PUBLISH q0 id=0 dup=0 t a", "! done 1"}},
		{at: 1_000_000, do: tick, want: []string{"> PINGREQ"}},
		{at: 1_500_000, do: recv(inPub(0, 0, "x", false)), want: []string{"! deliver q0 id=0 in x ack=0"}},
		{at: 1_999_999, do: tick},
		// Nothing sent since the PINGREQ at 1 s.
		{at: 2_000_000, do: tick, want: []string{"> PINGREQ"}},
	})
	require.Equal(t, at(3_000_000), h.s.NextDeadline())
}

// TestSubscribe checks [MQTT-2.3.1-1], [MQTT-2.3.1-2] and [MQTT-2.3.1-3]
// for SUBSCRIBE and UNSUBSCRIBE: they take identifiers, go out before
// queued publishes, complete with their ack as Reply, free the identifier
// only then, and fail with the cause when the connection is lost.
func TestSubscribe(t *testing.T) {
	h := newHarness(t, Options{})
	sub := func(filter string) func(*harness, time.Time) error {
		return func(h *harness, now time.Time) error {
			_, err := h.s.Subscribe(now, []packet.Subscription{{Filter: filter, QoS: 1}}, nil)
			return err
		}
	}
	cause := errors.New("cable cut")
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: func(h *harness, now time.Time) error {
			if err := publish(1, "a")(h, now); err != nil {
				return err
			}
			return sub("x/#")(h, now)
		}, want: []string{"> SUBSCRIBE 2", "> PUBLISH q1 id=1 dup=0 t a"}},
		{at: 2, do: recv(&packet.Suback{PacketID: 2, ReturnCodes: []packet.SubackCode{1}}), want: []string{"! done 2 reply=SUBACK"}},
		{at: 3, do: func(h *harness, now time.Time) error {
			_, err := h.s.Unsubscribe(now, []string{"x/#"}, nil)
			return err
		}, want: []string{"> UNSUBSCRIBE 3"}},
		{at: 4, do: recv(&packet.Unsuback{PacketID: 3}), want: []string{"! done 3 reply=UNSUBACK"}},
		{at: 5, do: sub("y"), want: []string{"> SUBSCRIBE 4"}},
		{at: 6, do: recv(&packet.Suback{PacketID: 4, ReturnCodes: []packet.SubackCode{1, 1}}),
			want: []string{"! done 4 err=" + ErrSubackCount.Error() + " reply=SUBACK"}},
		{at: 7, do: sub("z"), want: []string{"> SUBSCRIBE 5"}},
		{at: 8, do: lost(cause), want: []string{"! done 5 err=cable cut"}},
	})
	require.Equal(t, 1, h.s.ids.Len(), "only the QoS 1 publish holds an identifier")
	_, err := h.s.Subscribe(at(9), nil, nil)
	require.ErrorIs(t, err, ErrNotConnected)
}

// TestInvalidInput checks that bad messages and unexpected packets give
// typed errors and leave the session as it was.
func TestInvalidInput(t *testing.T) {
	h := newHarness(t, Options{})
	require.NoError(t, h.s.OnConnack(at(0), false, false))
	_, err := h.s.Publish(at(1), Message{Topic: "a/#", QoS: 1})
	require.ErrorIs(t, err, ErrInvalidMessage)
	require.ErrorIs(t, err, packet.ErrInvalidTopic)
	_, err = h.s.Publish(at(1), Message{Topic: "a", QoS: 3})
	require.ErrorIs(t, err, ErrInvalidMessage)
	_, err = h.s.Subscribe(at(1), []packet.Subscription{{Filter: "a/#/b"}}, nil)
	require.ErrorIs(t, err, ErrInvalidMessage)
	_, err = h.s.Unsubscribe(at(1), []string{""}, nil)
	require.ErrorIs(t, err, ErrInvalidMessage)
	for _, p := range []packet.Packet{&packet.Connack{}, &packet.Pingreq{}, &packet.Disconnect{},
		&packet.Subscribe{PacketID: 1}, &packet.Unsubscribe{PacketID: 1}, &packet.Connect{}} {
		err := h.s.Received(at(2), p)
		var ue *UnexpectedPacketError
		require.ErrorAs(t, err, &ue, "%v", p.Type())
		require.ErrorIs(t, err, ErrUnexpectedPacket)
	}
	_, err = New(Options{MaxInFlight: 70000})
	require.Error(t, err)
	require.Equal(t, 0, h.s.ids.Len())
	require.False(t, h.s.Pending())
}
