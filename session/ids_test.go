package session

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIDSetNeverZeroNeverInUse checks [MQTT-2.3.1-1] and [MQTT-2.3.1-2]:
// all 65535 identifiers come out once each, none is 0, none is handed out
// while in use, and the 65536th allocation fails with ErrNoPacketID.
func TestIDSetNeverZeroNeverInUse(t *testing.T) {
	s := newIDSet()
	seen := make(map[uint16]bool)
	for i := 0; i < MaxPacketIDs; i++ {
		id, err := s.Alloc()
		require.NoError(t, err)
		require.NotZero(t, id)
		require.False(t, seen[id], "id %d handed out twice", id)
		seen[id] = true
	}
	require.True(t, s.Full())
	_, err := s.Alloc()
	require.True(t, errors.Is(err, ErrNoPacketID), "got %v", err)
}

// TestIDSetReuseOnlyAfterFree checks [MQTT-2.3.1-3]: an identifier comes
// back only after it is freed (the final ack), and the rotating cursor hands
// out the freed one last; wrapping past 65535 skips 0.
func TestIDSetReuseOnlyAfterFree(t *testing.T) {
	tests := []struct {
		name    string
		reserve []uint16
		cursor  uint16
		free    []uint16
		want    []uint16
	}{
		{name: "fresh", want: []uint16{1, 2, 3}},
		{name: "wraps past 65535 to 1, never 0", cursor: 65534, want: []uint16{65535, 1, 2}},
		{name: "skips ids in use", reserve: []uint16{2, 3, 64, 65}, cursor: 1, want: []uint16{4, 5}},
		{name: "skips a whole used word", reserve: seq(64, 191), cursor: 63, want: []uint16{192}},
		{name: "a freed id comes back only after the others", reserve: seq(1, 65535), free: []uint16{7, 3}, cursor: 5, want: []uint16{7, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newIDSet()
			for _, id := range tc.reserve {
				require.NoError(t, s.Reserve(id))
			}
			for _, id := range tc.free {
				require.True(t, s.Free(id))
			}
			s.cursor = tc.cursor
			for _, w := range tc.want {
				got, err := s.Alloc()
				require.NoError(t, err)
				require.Equal(t, w, got)
			}
		})
	}
}

func seq(from, to int) []uint16 {
	var out []uint16
	for i := from; i <= to; i++ {
		out = append(out, uint16(i))
	}
	return out
}

// TestIDSetReserveFree checks the bookkeeping around restore: Reserve of 0
// or of an id in use fails, Free of a free id reports false.
func TestIDSetReserveFree(t *testing.T) {
	s := newIDSet()
	require.ErrorIs(t, s.Reserve(0), ErrPacketIDInUse)
	require.NoError(t, s.Reserve(9))
	require.ErrorIs(t, s.Reserve(9), ErrPacketIDInUse)
	require.Equal(t, 1, s.Len())
	require.True(t, s.Free(9))
	require.False(t, s.Free(9))
	require.False(t, s.Free(0))
	require.Equal(t, 0, s.Len())
	s.Reserve(1)
	s.Reset()
	require.Equal(t, 0, s.Len())
	require.True(t, s.InUse(0))
}

func BenchmarkIDSetAllocFree(b *testing.B) {
	s := newIDSet()
	var window ring[uint16] // 1000 in flight, the oldest acked first
	for i := 0; i < 1000; i++ {
		id, _ := s.Alloc()
		window.Push(id)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Free(window.Pop())
		id, _ := s.Alloc()
		window.Push(id)
	}
}

// chunksHeld returns how many bitmap chunks s holds, the spare included.
func chunksHeld(s *idSet) int {
	n := 0
	for _, c := range s.chunks {
		if c != nil {
			n++
		}
	}
	if s.spare != nil {
		n++
	}
	return n
}

// TestIDSetSparse checks that the bitmap costs nothing while no identifier
// is in use, stays small for a window that rotates through all 65535
// identifiers, and allocates nothing once warm.
func TestIDSetSparse(t *testing.T) {
	s := newIDSet()
	require.Zero(t, chunksHeld(s), "an idle set holds no chunk")
	require.True(t, s.InUse(0))
	require.False(t, s.InUse(1))
	require.False(t, s.Free(1))

	var window ring[uint16]
	for i := 0; i < 1000; i++ {
		id, err := s.Alloc()
		require.NoError(t, err)
		window.Push(id)
	}
	round := func() {
		if !s.Free(window.Pop()) {
			t.Fatal("an identifier in use was not freed")
		}
		id, err := s.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		window.Push(id)
	}
	for i := 0; i < 3*MaxPacketIDs; i++ { // the cursor wraps three times
		round()
		if n := chunksHeld(s); n > 3 {
			t.Fatalf("after %d rounds: %d chunks held", i, n)
		}
	}
	require.Zero(t, testing.AllocsPerRun(10000, round))
	for window.Len() > 0 {
		require.True(t, s.Free(window.Pop()))
	}
	require.Equal(t, 0, s.Len())
	require.LessOrEqual(t, chunksHeld(s), 1, "only the spare is left")

	require.NoError(t, s.Reserve(4096))
	require.NoError(t, s.Reserve(65535))
	s.Reset()
	require.Equal(t, 0, s.Len())
	require.LessOrEqual(t, chunksHeld(s), 1)
	require.False(t, s.InUse(4096))
	require.False(t, s.InUse(65535))
}
