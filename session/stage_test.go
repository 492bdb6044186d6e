package session

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
	"github.com/stretchr/testify/require"
)

func stage(h *harness, qos packet.QoS, payload string) uint64 {
	h.t.Helper()
	seq, err := h.s.Stage(Message{Topic: "t", Payload: []byte(payload), QoS: qos})
	require.NoError(h.t, err)
	return seq
}

func publishStaged(seq uint64, qos packet.QoS, payload string) func(*harness, time.Time) error {
	return func(h *harness, now time.Time) error {
		id, err := h.s.Publish(now, Message{Topic: "t", Payload: []byte(payload), QoS: qos, Seq: seq})
		if err == nil {
			h.ids[payload] = id
		}
		return err
	}
}

// TestCrashStagedNotPublished checks that a message staged on the
// publisher's goroutine but never handed to Publish (the process died in
// between) is in the store, restored as a buffered message and sent once,
// in sequence order.
func TestCrashStagedNotPublished(t *testing.T) {
	for _, qos := range []packet.QoS{0, 1, 2} {
		t.Run(fmt.Sprintf("qos=%d", qos), func(t *testing.T) {
			c := newCrashHarness(t, Options{})
			require.Equal(t, uint64(1), stage(c.harness, qos, "a"))
			require.Equal(t, uint64(2), stage(c.harness, qos, "b"))
			require.Equal(t, []string{"sb-1", "sb-2"}, c.storeKeys())
			c.crashAndRestart(t)
			require.Equal(t, 2, c.s.Buffered())
			if qos == 0 {
				runSteps(t, c.harness, []step{{at: 1, do: connack(false, false), want: []string{
					"> PUBLISH q0 id=0 dup=0 t a", "! done 1", "> PUBLISH q0 id=0 dup=0 t b", "! done 2",
				}}})
				require.Empty(t, c.storeKeys())
				return
			}
			runSteps(t, c.harness, []step{
				{at: 1, do: connack(false, false), want: []string{
					fmt.Sprintf("> PUBLISH q%d id=1 dup=0 t a", qos), fmt.Sprintf("> PUBLISH q%d id=2 dup=0 t b", qos),
				}},
			})
			require.Equal(t, []string{"s-1", "s-2"}, c.storeKeys())
		})
	}
}

// TestStagedPublish checks what Publish does with a staged record: takes
// it over when it admits the message at once (s-<id> written, sb- gone,
// one record), keeps it while the message waits or is buffered, removes it
// when a QoS 0 message is handed out, and removes it when it refuses the
// message, so that nothing refused comes back after a restart.
func TestStagedPublish(t *testing.T) {
	t.Run("admitted at once", func(t *testing.T) {
		h := newHarness(t, Options{})
		require.NoError(t, h.s.OnConnack(at(0), false, false))
		seq := stage(h, 1, "a")
		runSteps(t, h, []step{{at: 1, do: publishStaged(seq, 1, "a"), want: []string{"> PUBLISH q1 id=1 dup=0 t a"}}})
		require.Equal(t, []string{"s-1"}, h.storeKeys())
		runSteps(t, h, []step{{at: 2, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1"}}})
		require.Empty(t, h.storeKeys())
	})
	t.Run("waits for the window", func(t *testing.T) {
		h := newHarness(t, Options{MaxInFlight: 1})
		runSteps(t, h, []step{
			{at: 0, do: connack(false, false)},
			{at: 1, do: publish(1, "a"), want: []string{"> PUBLISH q1 id=1 dup=0 t a"}},
		})
		seq := stage(h, 2, "b")
		runSteps(t, h, []step{{at: 2, do: publishStaged(seq, 2, "b")}})
		require.Equal(t, []string{"s-1", "sb-1"}, h.storeKeys(), "no second record")
		runSteps(t, h, []step{{at: 3, do: recv(&packet.Puback{PacketID: 1}), want: []string{"! done 1", "> PUBLISH q2 id=2 dup=0 t b"}}})
		require.Equal(t, []string{"s-2"}, h.storeKeys())
	})
	t.Run("QoS 0 sent at once", func(t *testing.T) {
		h := newHarness(t, Options{})
		require.NoError(t, h.s.OnConnack(at(0), false, false))
		seq := stage(h, 0, "a")
		require.NoError(t, publishStaged(seq, 0, "a")(h, at(1)))
		require.Equal(t, []string{"sb-1"}, h.storeKeys(), "until it is handed out")
		h.drain(at(1))
		require.Equal(t, []string{"> PUBLISH q0 id=0 dup=0 t a", "! done 1"}, h.take())
		require.Empty(t, h.storeKeys())
	})
	t.Run("buffered", func(t *testing.T) {
		h := newHarness(t, Options{Buffer: BufferOptions{Enabled: true}})
		seq := stage(h, 0, "a")
		runSteps(t, h, []step{{at: 1, do: publishStaged(seq, 0, "a")}})
		require.Equal(t, []string{"sb-1"}, h.storeKeys())
		runSteps(t, h, []step{{at: 2, do: connack(false, false), want: []string{"> PUBLISH q0 id=0 dup=0 t a", "! done 1"}}})
		require.Empty(t, h.storeKeys())
	})
	refused := []struct {
		name string
		opts Options
		msg  Message
		err  error
	}{
		{"not connected", Options{}, Message{Topic: "t", QoS: 1}, ErrNotConnected},
		{"buffer full", Options{Buffer: BufferOptions{Enabled: true, Size: 1}}, Message{Topic: "t", QoS: 1}, ErrBufferFull},
		{"invalid", Options{}, Message{Topic: "t/+", QoS: 1}, ErrInvalidMessage},
	}
	for _, tc := range refused {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			if tc.err == ErrBufferFull {
				runSteps(t, h, []step{{at: 0, do: publish(1, "full")}})
			}
			before := h.storeKeys()
			seq, err := h.s.Stage(Message{Topic: "t", QoS: 1})
			require.NoError(t, err)
			msg := tc.msg
			msg.Seq = seq
			_, err = h.s.Publish(at(1), msg)
			require.ErrorIs(t, err, tc.err)
			require.Equal(t, before, h.storeKeys(), "the staged record is gone")
		})
	}
	t.Run("admit fails", func(t *testing.T) {
		h := newHarness(t, Options{})
		require.NoError(t, h.s.OnConnack(at(0), false, false))
		seq := stage(h, 1, "a")
		h.s.store = failPutStore{Persistence: h.st, prefix: "s-"}
		_, err := h.s.Publish(at(1), Message{Topic: "t", Payload: []byte("a"), QoS: 1, Seq: seq})
		require.Error(t, err)
		require.Empty(t, h.storeKeys())
	})
}

var errDiskFull = errors.New("disk full")

// failPutStore refuses to write keys with a prefix.
type failPutStore struct {
	store.Persistence
	prefix string
}

func (f failPutStore) Put(k string, b []byte) error {
	if strings.HasPrefix(k, f.prefix) {
		return errDiskFull
	}
	return f.Persistence.Put(k, b)
}

// TestStageInvalid checks that Stage refuses what Publish refuses, and
// writes nothing.
func TestStageInvalid(t *testing.T) {
	h := newHarness(t, Options{})
	for _, msg := range []Message{{Topic: "a/#", QoS: 1}, {Topic: "", QoS: 0}, {Topic: "t", QoS: 3}} {
		_, err := h.s.Stage(msg)
		require.ErrorIs(t, err, ErrInvalidMessage)
	}
	_, err := h.s.Stage(Message{Topic: "t", Payload: make([]byte, packet.MaxRemainingLength), QoS: 1})
	require.ErrorIs(t, err, ErrInvalidMessage)
	h.s.store = failPutStore{Persistence: h.st, prefix: "sb-"}
	_, err = h.s.Stage(Message{Topic: "t", QoS: 1})
	require.Error(t, err)
	require.Empty(t, h.storeKeys())
}

// TestUnstage checks that Unstage removes a staged record, so that a
// message the client could not hand over does not come back.
func TestUnstage(t *testing.T) {
	c := newCrashHarness(t, Options{})
	seq := stage(c.harness, 1, "a")
	require.NoError(t, c.s.Unstage(seq))
	require.NoError(t, c.s.Unstage(0))
	c.crashAndRestart(t)
	require.Zero(t, c.s.Buffered())
}

// TestCrashStagedBetweenAdmitAndRemove checks the window between admit
// writing s-<id> for a staged message and removing its sb- record: after
// the crash it is sent once, with its identifier and DUP=1.
func TestCrashStagedBetweenAdmitAndRemove(t *testing.T) {
	c := newCrashHarness(t, Options{})
	require.NoError(t, c.s.OnConnack(at(0), false, false))
	seq := stage(c.harness, 2, "a")
	c.s.store = failRemoveStore{Persistence: c.st, key: bufKey(seq)}
	runSteps(t, c.harness, []step{{at: 1, do: publishStaged(seq, 2, "a"), want: []string{"> PUBLISH q2 id=1 dup=0 t a"}}})
	require.Equal(t, []string{"sb-1", "s-1"}, c.storeKeys(), "both copies are on disk")
	c.crashAndRestart(t)
	require.Zero(t, c.s.Buffered())
	runSteps(t, c.harness, []step{
		{at: 2, do: connack(true, false), want: []string{"> PUBLISH q2 id=1 dup=1 t a"}},
		{at: 3, do: recv(&packet.Pubrec{PacketID: 1}), want: []string{"> PUBREL 1"}},
		{at: 4, do: recv(&packet.Pubcomp{PacketID: 1}), want: []string{"! done 2"}}, // MsgID 1 went to the dropped copy
	})
	require.Empty(t, c.storeKeys())
}

// TestStageConcurrent checks that Stage from 8 goroutines, while the owner
// queues messages of its own, gives the store's keys in sequence order, and
// that a restart restores them in that order.
func TestStageConcurrent(t *testing.T) {
	c := newCrashHarness(t, Options{Buffer: BufferOptions{Enabled: true}})
	const per = 25
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if _, err := c.s.Stage(Message{Topic: "t", Payload: fmt.Appendf(nil, "g%d-%d", g, i), QoS: 1}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range per { // the owner, buffering while disconnected
		_, err := c.s.Publish(at(0), Message{Topic: "t", Payload: fmt.Appendf(nil, "own-%d", i), QoS: 2})
		require.NoError(t, err)
	}
	wg.Wait()
	keys := c.storeKeys()
	require.Len(t, keys, 9*per)
	for i, k := range keys {
		require.Equal(t, "sb-"+strconv.Itoa(i+1), k)
	}
	c.crashAndRestart(t)
	var seqs []uint64
	for r := c.s.buffer.head; r != nil; r = r.next {
		seqs = append(seqs, r.bufSeq)
	}
	require.Len(t, seqs, 9*per)
	for i, seq := range seqs {
		require.Equal(t, uint64(i+1), seq)
	}
}
