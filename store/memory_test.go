package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

// TestMemoryAllocations checks the allocation promises of the memory store in
// steady state: Put over an existing key, Put after Remove (the free list)
// and AppendValue into a buffer with room allocate nothing.
func TestMemoryAllocations(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	m := store.NewMemory()
	require.NoError(t, m.Open(testClient, testServer))
	defer m.Close()
	msg := make([]byte, 200)
	keys := []string{"s-1", "s-2", "s-3", "s-4"}
	for _, k := range keys {
		require.NoError(t, m.Put(k, msg))
	}
	for _, k := range keys {
		require.NoError(t, m.Remove(k))
	}

	allocs := testing.AllocsPerRun(1000, func() {
		for _, k := range keys {
			_ = m.Put(k, msg)
		}
		for _, k := range keys {
			_ = m.Remove(k)
		}
	})
	require.Zero(t, allocs, "Put+Remove in steady state")

	require.NoError(t, m.Put("r-9", msg))
	allocs = testing.AllocsPerRun(1000, func() { _ = m.Put("r-9", msg) })
	require.Zero(t, allocs, "Put over an existing key")

	buf := make([]byte, 0, 256)
	allocs = testing.AllocsPerRun(1000, func() { buf, _ = m.AppendValue(buf[:0], "r-9") })
	require.Zero(t, allocs, "AppendValue")
	require.Equal(t, msg, buf)

	allocs = testing.AllocsPerRun(1000, func() { _, _ = m.Contains("r-9") })
	require.Zero(t, allocs, "Contains")
}

func TestMemoryAppendValue(t *testing.T) {
	m := store.NewMemory()
	_, err := m.AppendValue(nil, "s-1")
	require.ErrorIs(t, err, store.ErrClosed)
	require.NoError(t, m.Open(testClient, testServer))
	defer m.Close()
	_, err = m.AppendValue(nil, "s-1")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = m.AppendValue(nil, "a/b")
	require.ErrorIs(t, err, store.ErrInvalidKey)
	require.NoError(t, m.Put("s-1", []byte("abc")))
	got, err := m.AppendValue([]byte("x:"), "s-1")
	require.NoError(t, err)
	require.Equal(t, "x:abc", string(got))
}

// TestMemoryReuseDoesNotAlias: a buffer given back by Remove and reused by a
// later Put must not change a value that Get already returned.
func TestMemoryReuseDoesNotAlias(t *testing.T) {
	m := store.NewMemory()
	require.NoError(t, m.Open(testClient, testServer))
	defer m.Close()
	require.NoError(t, m.Put("s-1", []byte("first")))
	got, err := m.Get("s-1")
	require.NoError(t, err)
	require.NoError(t, m.Remove("s-1"))
	require.NoError(t, m.Put("s-2", []byte("SECOND")))
	require.Equal(t, "first", string(got))
}
