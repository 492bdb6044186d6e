package store_test

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

// TestFileSyncFsyncs counts fsyncs: a Sync after changes costs one (two
// when a new log file needs its directory entry synced), a Sync without
// changes none, and Put and Remove none at all.
func TestFileSyncFsyncs(t *testing.T) {
	s := openFile(t, t.TempDir())
	n := s.Fsyncs()
	for i := range 50 {
		k := "s-" + strconv.Itoa(i)
		require.NoError(t, s.Put(k, value(k)))
		require.NoError(t, s.Remove(k))
	}
	require.Equal(t, n, s.Fsyncs(), "Put and Remove do not fsync")
	require.NoError(t, s.Sync())
	require.Equal(t, n+2, s.Fsyncs(), "the log and, once, the directory of a new log")
	require.NoError(t, s.Sync())
	require.Equal(t, n+2, s.Fsyncs(), "nothing to sync")
	require.NoError(t, s.Put("s-1", value("s-1")))
	require.NoError(t, s.Sync())
	require.Equal(t, n+3, s.Fsyncs())

	ns := store.NewFile(store.FileOptions{Dir: t.TempDir(), NoSync: true})
	require.NoError(t, ns.Open(testClient, testServer))
	require.NoError(t, ns.Put("s-1", value("s-1")))
	require.NoError(t, ns.Sync())
	require.NoError(t, ns.Close())
	require.Zero(t, ns.Fsyncs(), "NoSync: nothing fsynced after Open")
	require.ErrorIs(t, ns.Sync(), store.ErrClosed)
}

// TestFileGroupCommit holds the first fsync while other goroutines Put and
// Sync: they all wait, and one more fsync covers every one of them.
func TestFileGroupCommit(t *testing.T) {
	s := openFile(t, t.TempDir())
	require.NoError(t, s.Put("s-0", value("s-0")))
	require.NoError(t, s.Sync()) // the directory entry of the new log
	const callers = 8
	waiting := make(chan struct{}, callers)
	store.OnSyncWait(t, func() { waiting <- struct{}{} })
	started, release := store.HoldFsync(t)

	require.NoError(t, s.Put("s-first", value("s-first")))
	var wg sync.WaitGroup
	wg.Go(func() { require.NoError(t, s.Sync()) })
	<-started
	before := s.Fsyncs()
	errs := make(chan error, callers)
	for i := range callers {
		k := "s-" + strconv.Itoa(i+1)
		require.NoError(t, s.Put(k, value(k)), "Put goes on while an fsync runs")
		wg.Go(func() { errs <- s.Sync() })
	}
	for range callers {
		<-waiting
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, before+1, s.Fsyncs(), "one fsync for all the callers that waited")
}

// TestFileSyncErrorSticky: after a failed fsync every Sync fails, Puts go
// on, and a reopen starts afresh with the records in the file.
func TestFileSyncErrorSticky(t *testing.T) {
	base := t.TempDir()
	s := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, s.Open(testClient, testServer))
	require.NoError(t, s.Put("s-1", value("s-1")))
	eio := errors.New("input/output error")
	restore := store.FailFsync(t, eio)
	require.ErrorIs(t, s.Sync(), eio)
	restore()
	require.NoError(t, s.Put("s-2", value("s-2")))
	require.ErrorIs(t, s.Sync(), eio, "a later fsync that works does not bring back what the failed one lost")
	require.ErrorIs(t, s.Close(), eio)
	s = reopenExpect(t, base, "s-1", "s-2")
	require.NoError(t, s.Sync())
	require.NoError(t, s.Close())
}

// TestFileCloseSyncs: Close fsyncs what no Sync covered (syncing on), and
// fsyncs nothing with NoSync.
func TestFileCloseSyncs(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		s := store.NewFile(store.FileOptions{Dir: t.TempDir(), NoSync: noSync})
		require.NoError(t, s.Open(testClient, testServer))
		n := s.Fsyncs()
		require.NoError(t, s.Put("s-1", value("s-1")))
		require.NoError(t, s.Close())
		if noSync {
			require.Equal(t, n, s.Fsyncs())
		} else {
			require.Equal(t, n+2, s.Fsyncs(), "the log and the directory entry of the new log")
		}
	}
}
