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
