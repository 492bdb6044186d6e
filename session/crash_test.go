package session

import (
	"errors"
	"fmt"
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
	"github.com/stretchr/testify/require"
)

// crashHarness runs a session over a file store in dir. crash drops the
// session without any shutdown (no ConnectionLost, no acks) and closes the
// store handle, as a dead process would leave it; restart opens the store
// again and restores a new session.
type crashHarness struct {
	*harness
	dir  string
	opts Options
}

func newCrashHarness(t *testing.T, opts Options) *crashHarness {
	dir := t.TempDir()
	c := &crashHarness{dir: dir, opts: opts}
	c.harness = c.open(t)
	return c
}

func (c *crashHarness) open(t *testing.T) *harness {
	t.Helper()
	f := store.NewFile(store.FileOptions{Dir: c.dir})
	require.NoError(t, f.Open("client-1", "tcp://127.0.0.1:1883"))
	t.Cleanup(func() { f.Close() })
	opts := c.opts
	opts.Store = f
	return newHarness(t, opts)
}

func (c *crashHarness) crashAndRestart(t *testing.T) {
	t.Helper()
	require.NoError(t, c.harness.st.Close())
	c.harness = c.open(t)
}

// TestCrashAfterPersistBeforeSend checks [MQTT-4.4.0-1] and [MQTT-3.3.1-1]
// with the file store: a process that dies after Publish persisted s-<id>
// but before the packet was written re-sends the message after restart,
// with its identifier and DUP=1 (the session cannot know it was not sent).
func TestCrashAfterPersistBeforeSend(t *testing.T) {
	c := newCrashHarness(t, Options{})
	require.NoError(t, c.s.OnConnack(at(0), false, false))
	_, err := c.s.Publish(at(1), Message{Topic: "t", Payload: []byte("a"), QoS: 1})
	require.NoError(t, err)
	c.crashAndRestart(t) // NextToSend never called
	runSteps(t, c.harness, []step{
		{at: 2, do: connack(true, false), want: []string{"> PUBLISH q1 id=1 dup=1 t a"}},
		{at: 3, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1"}},
	})
	require.Empty(t, c.storeKeys())
}

// TestCrashAfterPubrec checks [MQTT-4.3.3-1], [MQTT-4.4.0-1] and
// [MQTT-4.6.0-4] with the file store: a process that dies after PUBREC
// arrived (sc- written, s- removed) but before PUBREL was written re-sends
// PUBREL after restart and never the PUBLISH.
func TestCrashAfterPubrec(t *testing.T) {
	c := newCrashHarness(t, Options{})
	runSteps(t, c.harness, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(2, "a"), want: []string{"> PUBLISH q2 id=1 dup=0 t a"}},
		{at: 2, do: publish(2, "b"), want: []string{"> PUBLISH q2 id=2 dup=0 t b"}},
	})
	require.NoError(t, c.s.Received(at(3), &packet.Pubrec{PacketID: 2}))
	require.NoError(t, c.s.Received(at(3), &packet.Pubrec{PacketID: 1}))
	c.crashAndRestart(t) // the PUBRELs were never handed out
	runSteps(t, c.harness, []step{
		{at: 4, do: connack(true, false), want: []string{"> PUBREL 2", "> PUBREL 1"}},
		{at: 5, do: recv(&packet.Pubcomp{PacketID: 1}), want: []string{"! done 2"}},
		{at: 6, do: recv(&packet.Pubcomp{PacketID: 2}), want: []string{"! done 1"}},
	})
	require.Empty(t, c.storeKeys())
}

// TestCrashBetweenScAndRemove checks [MQTT-4.3.3-1]: a crash after sc-<id>
// was written but before s-<id> was removed leaves both; restore lets the
// sc- record win, so PUBREL, not PUBLISH, is re-sent.
func TestCrashBetweenScAndRemove(t *testing.T) {
	c := newCrashHarness(t, Options{})
	runSteps(t, c.harness, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(2, "a"), want: []string{"> PUBLISH q2 id=1 dup=0 t a"}},
	})
	require.NoError(t, c.st.Put("sc-1", mustAppend(t, &packet.Pubrel{PacketID: 1}))) // what receivePubrec writes first
	c.crashAndRestart(t)
	runSteps(t, c.harness, []step{
		{at: 2, do: connack(true, false), want: []string{"> PUBREL 1"}},
	})
	require.Equal(t, []string{"sc-1"}, c.storeKeys())
}

// TestResentPubrelTwoPubcomps checks that a PUBREL re-sent on a resumed
// session may bring two PUBCOMPs without the second being an unknown ack:
// one the server re-sends from before the crash (mochi does, when the
// process died while it wrote it) and its answer to the re-sent PUBREL.
// With strict acks the second once ended the connection [MQTT-4.8.0-1].
func TestResentPubrelTwoPubcomps(t *testing.T) {
	c := newCrashHarness(t, Options{StrictAcks: true})
	runSteps(t, c.harness, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(2, "a"), want: []string{"> PUBLISH q2 id=1 dup=0 t a"}},
		{at: 2, do: recv(&packet.Pubrec{PacketID: 1}), want: []string{"> PUBREL 1"}},
	})
	c.crashAndRestart(t)
	runSteps(t, c.harness, []step{
		{at: 3, do: connack(true, false), want: []string{"> PUBREL 1"}},
		{at: 4, do: recv(&packet.Pubcomp{PacketID: 1}), want: []string{"! done 1"}},
		{at: 5, do: recv(&packet.Pubcomp{PacketID: 1})}, // no error, nothing done
	})
	require.Empty(t, c.storeKeys())
}

// TestCrashInboundQoS2 checks [MQTT-4.3.3-2] and [MQTT-4.4.0-1] with the
// file store, in the windows of an inbound QoS 2 message:
//
//   - dies after PUBLISH was persisted, PUBREC maybe not sent: after
//     restart, the re-sent PUBLISH is answered but not delivered, and the
//     PUBREL delivers it once;
//   - dies after PUBREL arrived and the delivery was handed to the
//     application but before Ack (ManualAcks): the r- record is still there,
//     so after restart the re-sent PUBREL delivers it again: at least once,
//     never lost (the documented window);
//   - dies after Ack removed the record but before PUBCOMP was written: the
//     re-sent PUBREL is answered with PUBCOMP and nothing is delivered.
func TestCrashInboundQoS2(t *testing.T) {
	t.Run("before PUBREC", func(t *testing.T) {
		c := newCrashHarness(t, Options{ManualAcks: true})
		require.NoError(t, c.s.OnConnack(at(0), false, false))
		require.NoError(t, c.s.Received(at(1), inPub(2, 7, "x", false)))
		c.crashAndRestart(t)
		runSteps(t, c.harness, []step{
			{at: 2, do: connack(true, false)},
			{at: 3, do: recv(inPub(2, 7, "x", true)), want: []string{"> PUBREC 7"}},
			{at: 4, do: recv(&packet.Pubrel{PacketID: 7}), want: []string{"! deliver q2 id=7 in x ack=1"}},
			{at: 5, do: ack("x"), want: []string{"> PUBCOMP 7"}},
		})
		require.Empty(t, c.storeKeys())
	})
	t.Run("after delivery before ack", func(t *testing.T) {
		c := newCrashHarness(t, Options{ManualAcks: true})
		runSteps(t, c.harness, []step{
			{at: 0, do: connack(false, false)},
			{at: 1, do: recv(inPub(2, 7, "x", false)), want: []string{"> PUBREC 7"}},
			{at: 2, do: recv(&packet.Pubrel{PacketID: 7}), want: []string{"! deliver q2 id=7 in x ack=1"}},
		})
		c.crashAndRestart(t)
		runSteps(t, c.harness, []step{
			{at: 3, do: connack(true, false)},
			{at: 4, do: recv(&packet.Pubrel{PacketID: 7}), want: []string{"! deliver q2 id=7 in x ack=1"}},
			{at: 5, do: ack("x"), want: []string{"> PUBCOMP 7"}},
		})
	})
	t.Run("after ack before PUBCOMP", func(t *testing.T) {
		c := newCrashHarness(t, Options{ManualAcks: true})
		runSteps(t, c.harness, []step{
			{at: 0, do: connack(false, false)},
			{at: 1, do: recv(inPub(2, 7, "x", false)), want: []string{"> PUBREC 7"}},
			{at: 2, do: recv(&packet.Pubrel{PacketID: 7}), want: []string{"! deliver q2 id=7 in x ack=1"}},
		})
		require.NoError(t, c.s.Ack(at(3), 1)) // PUBCOMP queued, never written
		c.crashAndRestart(t)
		runSteps(t, c.harness, []step{
			{at: 4, do: connack(true, false)},
			{at: 5, do: recv(&packet.Pubrel{PacketID: 7}), want: []string{"> PUBCOMP 7"}},
		})
	})
}

// TestCrashOfflineBuffer checks that a persisted offline buffer survives a
// crash and is sent in order after the next CONNACK.
func TestCrashOfflineBuffer(t *testing.T) {
	c := newCrashHarness(t, Options{Buffer: BufferOptions{Enabled: true, Persist: true}})
	runSteps(t, c.harness, []step{{at: 1, do: publish(1, "a")}, {at: 2, do: publish(2, "b")}})
	c.crashAndRestart(t)
	runSteps(t, c.harness, []step{
		{at: 3, do: connack(false, false), want: []string{"> PUBLISH q1 id=1 dup=0 t a", "> PUBLISH q2 id=2 dup=0 t b"}},
	})
	require.Equal(t, []string{"s-1", "s-2"}, c.storeKeys())
}

// TestCrashWaitingForWindow checks [MQTT-4.4.0-1] with the file store: QoS
// 1 and 2 messages that Publish accepted while the in-flight window was full
// are on disk (sb-<seq>) before Publish returns, and after a crash they are
// sent, in order, behind the re-sent in-flight message.
func TestCrashWaitingForWindow(t *testing.T) {
	c := newCrashHarness(t, Options{MaxInFlight: 1})
	runSteps(t, c.harness, []step{
		{at: 0, do: connack(false, false)},
		{at: 1, do: publish(1, "a"), want: []string{"> PUBLISH q1 id=1 dup=0 t a"}},
		{at: 2, do: publish(2, "b")},
		{at: 3, do: publish(1, "c")},
	})
	require.Equal(t, []string{"s-1", "sb-1", "sb-2"}, c.storeKeys())
	c.crashAndRestart(t)
	runSteps(t, c.harness, []step{
		{at: 4, do: connack(true, false), want: []string{"> PUBLISH q1 id=1 dup=1 t a"}},
		{at: 5, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1", "> PUBLISH q2 id=1 dup=0 t b"}},
		{at: 6, do: recv(&packet.Pubrec{PacketID: 1}), want: []string{"> PUBREL 1"}},
		{at: 7, do: recv(&packet.Pubcomp{PacketID: 1}), want: []string{"! done 2", "> PUBLISH q1 id=2 dup=0 t c"}},
		{at: 8, do: recv(&packet.Puback{PacketID: 2}), want: []string{"! done 3"}},
	})
	require.Empty(t, c.storeKeys())
}

var errDied = errors.New("the process died here")

// failRemoveStore refuses to remove one key, leaving the store as a crash
// right before that Remove would.
type failRemoveStore struct {
	store.Persistence
	key string
}

func (f failRemoveStore) Remove(k string) error {
	if k == f.key {
		return errDied
	}
	return f.Persistence.Remove(k)
}

// TestCrashBetweenAdmitAndQueuedRemove checks [MQTT-4.4.0-1] and
// [MQTT-4.3.3-1] in the window between admit writing s-<id> and removing
// sb-<seq> of a message that waited: both records are on disk after the
// crash, and restore keeps only the s- record (which carries the sequence),
// so the message is re-sent once, with its identifier and DUP=1, and not a
// second time under a new identifier.
func TestCrashBetweenAdmitAndQueuedRemove(t *testing.T) {
	for _, qos := range []packet.QoS{1, 2} {
		t.Run(fmt.Sprintf("qos=%d", qos), func(t *testing.T) {
			c := newCrashHarness(t, Options{MaxInFlight: 1})
			c.s.store = failRemoveStore{Persistence: c.st, key: "sb-1"}
			runSteps(t, c.harness, []step{
				{at: 0, do: connack(false, false)},
				{at: 1, do: publish(1, "a"), want: []string{"> PUBLISH q1 id=1 dup=0 t a"}},
				{at: 2, do: publish(qos, "b")},
				{at: 3, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1", fmt.Sprintf("> PUBLISH q%d id=2 dup=0 t b", qos)}},
			})
			require.Equal(t, []string{"sb-1", "s-2"}, c.storeKeys(), "both copies are on disk")
			c.crashAndRestart(t)
			require.Equal(t, 1, c.s.InFlight())
			require.Zero(t, c.s.Buffered(), "the queued copy is dropped")
			require.Equal(t, []string{"s-2"}, c.storeKeys())
			ack := recv(&packet.Puback{PacketID: 2})
			if qos == 2 {
				ack = recv(&packet.Pubrec{PacketID: 2})
			}
			want := "! done 2" // MsgID 1 went to the dropped queued copy
			if qos == 2 {
				want = "> PUBREL 2"
			}
			runSteps(t, c.harness, []step{
				{at: 4, do: connack(true, false), want: []string{fmt.Sprintf("> PUBLISH q%d id=2 dup=1 t b", qos)}},
				{at: 5, do: ack, want: []string{want}},
			})
			// A new message queued after the restart must not reuse sequence 1:
			// the s-2 record would make restore drop it.
			if qos == 1 {
				return
			}
			_, err := c.s.Publish(at(6), Message{Topic: "t", Payload: []byte("c"), QoS: 1})
			require.NoError(t, err)
			require.Equal(t, []string{"sc-2", "sb-2"}, c.storeKeys())
		})
	}
}
