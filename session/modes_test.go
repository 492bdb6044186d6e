package session

import (
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/stretchr/testify/require"
)

// TestAutoAckStoreFailure checks the automatic acks (ManualAcks false) of
// an inbound QoS 2 message when its r- record cannot be removed: the
// message is delivered once, no PUBCOMP goes out while the record stays,
// and the server's re-sent PUBREL removes it and is answered without a
// second delivery.
func TestAutoAckStoreFailure(t *testing.T) {
	h := newHarness(t, Options{})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: recv(inPub(2, 7, "x", false)), want: []string{"> PUBREC 7"}},
	})
	h.s.store = failRemoveStore{Persistence: h.st, key: "r-7"}
	runSteps(t, h, []step{
		{at: 2, do: recv(&packet.Pubrel{PacketID: 7}), wantErr: errDied, want: []string{"! deliver q2 id=7 in x ack=0"}},
		{at: 3, do: recv(&packet.Pubrel{PacketID: 7}), wantErr: errDied}, // still failing: nothing
	})
	require.Equal(t, []string{"r-7"}, h.storeKeys())
	h.s.store = h.st
	runSteps(t, h, []step{
		{at: 4, do: recv(&packet.Pubrel{PacketID: 7}), want: []string{"> PUBCOMP 7"}},
	})
	require.Empty(t, h.storeKeys())
	require.Zero(t, h.s.InboundPending())
}

// TestManualAckStoreFailure checks Ack when the r- record cannot be
// removed: the error comes back, no PUBCOMP goes out, and a later Ack
// completes it.
func TestManualAckStoreFailure(t *testing.T) {
	h := newHarness(t, Options{ManualAcks: true})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: recv(inPub(2, 7, "x", false)), want: []string{"> PUBREC 7"}},
		{at: 2, do: recv(&packet.Pubrel{PacketID: 7}), want: []string{"! deliver q2 id=7 in x ack=1"}},
	})
	h.s.store = failRemoveStore{Persistence: h.st, key: "r-7"}
	runSteps(t, h, []step{{at: 3, do: ack("x"), wantErr: errDied}})
	h.s.store = h.st
	runSteps(t, h, []step{
		{at: 4, do: ack("x"), want: []string{"> PUBCOMP 7"}},
		{at: 5, do: ack("x")}, // already acknowledged: nothing
	})
	require.Empty(t, h.storeKeys())
}

// TestWaitingAdmitFailure checks that a waiting publish whose s- record
// cannot be written when the window frees completes with the error, and
// its sb- record goes, so that it does not come back after a restart.
func TestWaitingAdmitFailure(t *testing.T) {
	h := newHarness(t, Options{MaxInFlight: 1})
	runSteps(t, h, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(1, "a"), want: []string{"> PUBLISH q1 id=1 dup=0 t a"}},
		{at: 2, do: publish(1, "b")},
	})
	require.Equal(t, []string{"s-1", "sb-1"}, h.storeKeys())
	h.s.store = failPutStore{Persistence: h.st, prefix: "s-"}
	runSteps(t, h, []step{
		{at: 3, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1", "! done 2 err=session: persisting PUBLISH 2: disk full"}},
	})
	require.Empty(t, h.storeKeys())
}

// TestHeldResendAcked checks a server that acknowledges a message of the
// last connection before the session re-sent it (mochi re-sends its
// PUBRECs on a resumed session): the message moves on (PUBREL at once, or
// complete), it is not re-sent as a PUBLISH, and the window stays right.
func TestHeldResendAcked(t *testing.T) {
	h := newHarness(t, Options{MaxInFlight: 1})
	require.NoError(t, h.s.OnConnack(at(0), false, false))
	h.s.maxIn = 3 // fill the window of an earlier, larger session
	runSteps(t, h, []step{
		{at: 1, do: publish(2, "a"), want: []string{"> PUBLISH q2 id=1 dup=0 t a"}},
		{at: 1, do: publish(1, "b"), want: []string{"> PUBLISH q1 id=2 dup=0 t b"}},
		{at: 1, do: publish(2, "c"), want: []string{"> PUBLISH q2 id=3 dup=0 t c"}},
		{at: 2, do: lost(nil)},
	})
	h.s.maxIn = 1
	runSteps(t, h, []step{
		{at: 3, do: connack(true, false), want: []string{"> PUBLISH q2 id=1 dup=1 t a"}},
		{at: 4, do: recv(&packet.Pubrec{PacketID: 3}), want: []string{"> PUBREL 3"}}, // held c moves on
		{at: 5, do: recv(&packet.Puback{PacketID: 2}), want: []string{"! done 2"}},   // held b completes
	})
	require.Zero(t, h.s.Unsent())
	require.Equal(t, 2, h.s.InFlight())
	runSteps(t, h, []step{
		{at: 6, do: recv(&packet.Pubrec{PacketID: 1}), want: []string{"> PUBREL 1"}},
		{at: 7, do: recv(&packet.Pubcomp{PacketID: 3}), want: []string{"! done 3"}},
		{at: 8, do: recv(&packet.Pubcomp{PacketID: 1}), want: []string{"! done 1"}},
	})
	require.Zero(t, h.s.InFlight())
	require.Empty(t, h.storeKeys())
}
