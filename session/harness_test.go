package session

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/linnet-mqtt/linnet/internal/leaktest"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
	"github.com/stretchr/testify/require"
)

// The timer ping sender runs callbacks on timer goroutines.
func TestMain(m *testing.M) { leaktest.Main(m) }

// epoch is time 0 of the tests; steps give times in microseconds after it.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(us int64) time.Time { return epoch.Add(time.Duration(us) * time.Microsecond) }

// show formats a packet briefly for the tables.
func show(p packet.Packet) string {
	switch p := p.(type) {
	case *packet.Publish:
		d := 0
		if p.Dup {
			d = 1
		}
		return fmt.Sprintf("PUBLISH q%d id=%d dup=%d %s %s", p.QoS, p.PacketID, d, p.Topic, p.Payload)
	case *packet.Puback:
		return fmt.Sprintf("PUBACK %d", p.PacketID)
	case *packet.Pubrec:
		return fmt.Sprintf("PUBREC %d", p.PacketID)
	case *packet.Pubrel:
		return fmt.Sprintf("PUBREL %d", p.PacketID)
	case *packet.Pubcomp:
		return fmt.Sprintf("PUBCOMP %d", p.PacketID)
	case *packet.Subscribe:
		return fmt.Sprintf("SUBSCRIBE %d", p.PacketID)
	case *packet.Unsubscribe:
		return fmt.Sprintf("UNSUBSCRIBE %d", p.PacketID)
	case *packet.Pingreq:
		return "PINGREQ"
	}
	return p.String()
}

func showEvent(e Event) string {
	switch e.Kind {
	case EventDelivery:
		return fmt.Sprintf("deliver q%d id=%d %s %s ack=%d", e.Message.QoS, e.Message.PacketID, e.Message.Topic, e.Message.Payload, e.Ack)
	case EventCompletion:
		s := fmt.Sprintf("done %d", e.ID)
		if e.Err != nil {
			s += " err=" + e.Err.Error()
		}
		if e.Reply != nil {
			s += " reply=" + e.Reply.Type().String()
		}
		return s
	}
	return "?"
}

// harness drives one session and records what it sends and reports.
type harness struct {
	t     *testing.T
	s     *Session
	st    store.Persistence
	opts  Options
	ids   map[string]MsgID // name -> MsgID of publishes made by steps
	acks  map[string]AckID // payload -> AckID of deliveries
	trace []string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	if opts.Store == nil {
		m := store.NewMemory()
		require.NoError(t, m.Open("c", "tcp://x"))
		opts.Store = m
	}
	s, err := New(opts)
	require.NoError(t, err)
	return &harness{t: t, s: s, st: opts.Store, opts: opts, ids: map[string]MsgID{}, acks: map[string]AckID{}}
}

// drain takes every packet and event, appending them to the trace.
func (h *harness) drain(now time.Time) {
	h.events()
	for {
		p, _, ok := h.s.NextToSend(now)
		if !ok {
			break
		}
		h.trace = append(h.trace, "> "+show(p))
		h.events()
	}
}

func (h *harness) events() {
	for {
		e, ok := h.s.NextEvent()
		if !ok {
			return
		}
		if e.Kind == EventDelivery && e.Ack != 0 {
			h.acks[string(e.Message.Payload)] = e.Ack
		}
		h.trace = append(h.trace, "! "+showEvent(e))
	}
}

func (h *harness) take() []string {
	t := h.trace
	h.trace = nil
	return t
}

// step is one event of a table: at a time in microseconds, do something,
// then expect the packets handed out ("> ...") and events ("! ...") in
// order, or an error.
type step struct {
	at      int64
	do      func(h *harness, now time.Time) error
	want    []string
	wantErr error
}

func runSteps(t *testing.T, h *harness, steps []step) {
	t.Helper()
	for i, st := range steps {
		now := at(st.at)
		err := st.do(h, now)
		if st.wantErr != nil {
			require.ErrorIs(t, err, st.wantErr, "step %d", i)
		} else {
			require.NoError(t, err, "step %d", i)
		}
		h.drain(now)
		got := h.take()
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Fatalf("step %d (at %dµs): trace mismatch (-want +got):\n%s\ngot:\n  %s", i, st.at, diff, strings.Join(got, "\n  "))
		}
	}
}

// Steps.

func connack(present, clean bool) func(*harness, time.Time) error {
	return func(h *harness, now time.Time) error { return h.s.OnConnack(now, present, clean) }
}

func publish(qos packet.QoS, payload string) func(*harness, time.Time) error {
	return func(h *harness, now time.Time) error {
		id, err := h.s.Publish(now, Message{Topic: "t", Payload: []byte(payload), QoS: qos})
		if err == nil {
			h.ids[payload] = id
		}
		return err
	}
}

func recv(p packet.Packet) func(*harness, time.Time) error {
	return func(h *harness, now time.Time) error { return h.s.Received(now, p) }
}

func lost(cause error) func(*harness, time.Time) error {
	return func(h *harness, now time.Time) error { h.s.ConnectionLost(now, cause); return nil }
}

func tick(h *harness, now time.Time) error { return h.s.Tick(now) }

func nothing(*harness, time.Time) error { return nil }

func ack(payload string) func(*harness, time.Time) error {
	return func(h *harness, now time.Time) error { return h.s.Ack(now, h.acks[payload]) }
}

func inPub(qos packet.QoS, id uint16, payload string, dup bool) *packet.Publish {
	return &packet.Publish{Topic: "in", QoS: qos, PacketID: id, Payload: []byte(payload), Dup: dup}
}

// storeKeys lists the keys of the harness's store.
func (h *harness) storeKeys() []string {
	h.t.Helper()
	k, err := h.st.Keys()
	require.NoError(h.t, err)
	return k
}
