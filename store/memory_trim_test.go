package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMemoryTrim checks that Trim keeps every record, in order, and that
// the store works on after it.
func TestMemoryTrim(t *testing.T) {
	m := NewMemory()
	require.NoError(t, m.Open("c", "s"))
	require.NoError(t, m.Put("s-1", []byte("one")))
	require.NoError(t, m.Put("s-2", []byte("two")))
	require.NoError(t, m.Remove("s-1"))
	require.NotEmpty(t, m.free)
	m.Trim()
	require.Empty(t, m.free)
	keys, err := m.Keys()
	require.NoError(t, err)
	require.Equal(t, []string{"s-2"}, keys)
	require.NoError(t, m.Remove("s-2"))
	m.Trim()
	require.NoError(t, m.Put("s-3", []byte("three")))
	got, err := m.Get("s-3")
	require.NoError(t, err)
	require.Equal(t, []byte("three"), got)
}
