package session

import (
	"fmt"
	"testing"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
	"github.com/stretchr/testify/require"
)

// windowServer answers what a session hands out as a server does, one
// answer at a time in the order the packets went out: PUBREC for a QoS 2
// PUBLISH, PUBCOMP for a PUBREL. It checks that no more than window
// messages are on the wire at once and records the order in which
// messages first went out on the connection.
type windowServer struct {
	t       *testing.T
	s       *Session
	window  int
	onWire  map[uint16]bool // packet ids sent and not completed
	answers []packet.Packet
	first   []string // "PUBREL 3", "PUBLISH 31 dup=1 m031"... as they first go out
}

func (w *windowServer) drain() []string {
	var out []string
	for p, _, ok := w.s.NextToSend(at(0)); ok; p, _, ok = w.s.NextToSend(at(0)) {
		switch p := p.(type) {
		case *packet.Publish:
			require.False(w.t, w.onWire[p.PacketID], "PUBLISH %d sent twice", p.PacketID)
			w.onWire[p.PacketID] = true
			d := 0
			if p.Dup {
				d = 1
			}
			out = append(out, fmt.Sprintf("PUBLISH %d dup=%d %s", p.PacketID, d, p.Payload))
			w.answers = append(w.answers, &packet.Pubrec{PacketID: p.PacketID})
		case *packet.Pubrel:
			if !w.onWire[p.PacketID] {
				out = append(out, fmt.Sprintf("PUBREL %d", p.PacketID))
				w.onWire[p.PacketID] = true
			}
			w.answers = append(w.answers, &packet.Pubcomp{PacketID: p.PacketID})
		default:
			w.t.Fatalf("unexpected %v", p)
		}
		require.LessOrEqual(w.t, len(w.onWire), w.window, "window exceeded")
	}
	for e, ok := w.s.NextEvent(); ok; e, ok = w.s.NextEvent() {
		require.Equal(w.t, EventCompletion, e.Kind)
		require.NoError(w.t, e.Err)
	}
	w.first = append(w.first, out...)
	return out
}

// answer sends the oldest answer due and returns what went out because of
// it.
func (w *windowServer) answer() (packet.Packet, []string) {
	a := w.answers[0]
	w.answers = w.answers[1:]
	require.NoError(w.t, w.s.Received(at(0), a))
	if c, ok := a.(*packet.Pubcomp); ok {
		delete(w.onWire, c.PacketID)
	}
	return a, w.drain()
}

// fillStore leaves in st what a session with a large window leaves when
// it dies: 200 QoS 2 messages sent, the first released ones past PUBREC.
func fillStore(t *testing.T, st store.Persistence, released int) {
	s, err := New(Options{Store: st, MaxInFlight: 200})
	require.NoError(t, err)
	require.NoError(t, s.OnConnack(at(0), false, false))
	for i := 1; i <= 200; i++ {
		_, err := s.Publish(at(0), Message{Topic: "t", Payload: fmt.Appendf(nil, "m%03d", i), QoS: 2})
		require.NoError(t, err)
	}
	for _, _, ok := s.NextToSend(at(0)); ok; _, _, ok = s.NextToSend(at(0)) {
	}
	for i := 1; i <= released; i++ {
		require.NoError(t, s.Received(at(0), &packet.Pubrec{PacketID: uint16(i)}))
	}
}

// wantResends is the order in which the 200 messages must go out again:
// the PUBRELs first, then the PUBLISHes with DUP=1, each in its order.
func wantResends(released, from int) []string {
	var want []string
	for i := from; i <= 200; i++ {
		if i <= released {
			want = append(want, fmt.Sprintf("PUBREL %d", i))
		} else {
			want = append(want, fmt.Sprintf("PUBLISH %d dup=1 m%03d", i, i))
		}
	}
	return want
}

// TestRestoredWindow checks that messages in flight that a restart
// restored are re-sent through the in-flight window [MQTT-4.4.0-1]: with
// 200 QoS 2 messages restored (30 released, 170 not) and a window of 20,
// OnConnack puts exactly 20 on the wire; each PUBCOMP lets exactly the next
// one out, a PUBREC only its PUBREL; all go out in their original order
// (PUBRELs first), and a publish made meanwhile waits until the last of
// them is out.
func TestRestoredWindow(t *testing.T) {
	for _, kind := range []string{"memory", "file"} {
		t.Run(kind, func(t *testing.T) {
			var st store.Persistence
			if kind == "memory" {
				m := store.NewMemory()
				require.NoError(t, m.Open("c", "tcp://x"))
				st = m
			} else {
				f := store.NewFile(store.FileOptions{Dir: t.TempDir()})
				require.NoError(t, f.Open("c", "tcp://x"))
				t.Cleanup(func() { f.Close() })
				st = f
			}
			const released = 30
			fillStore(t, st, released)

			s, err := New(Options{Store: st, MaxInFlight: 20})
			require.NoError(t, err)
			require.Equal(t, 200, s.InFlight())
			require.NoError(t, s.OnConnack(at(0), true, false))
			require.Equal(t, 200, s.InFlight())
			require.Equal(t, 180, s.Unsent())
			w := &windowServer{t: t, s: s, window: 20, onWire: map[uint16]bool{}}
			require.Equal(t, wantResends(released, 1)[:20], w.drain())

			_, err = s.Publish(at(0), Message{Topic: "t", Payload: []byte("new"), QoS: 2})
			require.NoError(t, err)
			require.Equal(t, 1, s.Waiting(), "a new publish waits behind the re-sends")

			for len(w.answers) > 0 {
				a, out := w.answer()
				switch a := a.(type) {
				case *packet.Pubrec:
					require.Empty(t, out, "PUBREC %d lets nothing new out (its PUBREL is not new)", a.PacketID)
				case *packet.Pubcomp:
					if s.Unsent() > 0 || len(out) > 0 {
						require.Len(t, out, 1, "a PUBCOMP lets exactly one out")
					}
				}
			}
			want := append(wantResends(released, 1), "PUBLISH 1 dup=0 new") // identifier 1 is free again by then
			require.Equal(t, want, w.first)
			require.Zero(t, s.InFlight())
			require.Zero(t, s.Unsent())
		})
	}
}

// TestReconnectWindow checks that a connection lost while re-sends are
// held back starts them over on the next, through the window again, in
// the original order, losing none.
func TestReconnectWindow(t *testing.T) {
	m := store.NewMemory()
	require.NoError(t, m.Open("c", "tcp://x"))
	const released = 10
	fillStore(t, m, released)
	s, err := New(Options{Store: m, MaxInFlight: 20})
	require.NoError(t, err)
	require.NoError(t, s.OnConnack(at(0), true, false))
	w := &windowServer{t: t, s: s, window: 20, onWire: map[uint16]bool{}}
	w.drain()
	done := 0
	for done < 50 {
		if _, ok := w.answers[0].(*packet.Pubcomp); ok {
			done++
		}
		w.answer()
	}
	s.ConnectionLost(at(0), nil)
	require.Equal(t, 150, s.InFlight())

	require.NoError(t, s.OnConnack(at(0), true, false))
	w = &windowServer{t: t, s: s, window: 20, onWire: map[uint16]bool{}}
	out := w.drain()
	require.Len(t, out, 20)
	for len(w.answers) > 0 {
		w.answer()
	}
	require.Zero(t, s.InFlight())
	// Each message goes out once more, in order: those released before the
	// loss as PUBRELs, the others as PUBLISH with DUP=1, or as PUBREL if
	// their PUBREC came on the first connection.
	require.Len(t, w.first, 150)
	for i, f := range w.first {
		id := 51 + i
		if f != fmt.Sprintf("PUBREL %d", id) {
			require.Equal(t, fmt.Sprintf("PUBLISH %d dup=1 m%03d", id, id), f)
		}
	}
}
