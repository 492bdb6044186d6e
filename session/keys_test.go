package session

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStoreKeys checks every key of every prefix against its plain
// spelling, built by several goroutines at once (the table is shared by
// all sessions), and that a key costs no allocation once its chunk exists.
func TestStoreKeys(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for kind := range keyPrefixes {
				for pid := 65535 - g; pid >= 0; pid -= 4 {
					if got, want := storeKey(kind, uint16(pid)), keyPrefixes[kind]+strconv.Itoa(pid); got != want {
						t.Errorf("storeKey(%d, %d) = %q, want %q", kind, pid, got, want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for kind := range keyPrefixes {
		for _, pid := range []uint16{0, 1, 9, 10, 255, 256, 999, 1000, 9999, 10000, 65535} {
			require.Equal(t, keyPrefixes[kind]+strconv.Itoa(int(pid)), storeKey(kind, pid))
		}
	}
	var sink string
	require.Zero(t, testing.AllocsPerRun(1000, func() { sink = storeKey(keySC, 54321) }))
	_ = sink
}
