package store

import (
	"os"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

// Group commit. Every Put, Remove and Clear bumps f.written under f.mu. A
// Sync notes the count when it is called (its target) and waits until
// f.synced reaches it. One caller at a time runs a sync round, the leader:
// it reads f.written afresh (covering every change made so far, its own and
// those of callers that arrived since), fsyncs the log without holding f.mu,
// so that Put and Remove go on meanwhile, and then raises f.synced. Callers
// that arrived during a round wait for its end; if it did not cover them,
// one of them leads the next round for all of them.

// Sync makes every Put, Remove and Clear that returned before it was called
// durable against a power loss: it returns once the log (and, when a new
// log file was made, the directory) is fsynced. Callers that arrive while a
// sync runs share the next one. With FileOptions.NoSync it returns nil at
// once. Sync of a store that is not open returns ErrClosed.
//
// A failed fsync is returned by that Sync and by every later one until the
// store is closed and opened again: after a failed fsync the operating
// system may have dropped the data it could not write, and a later fsync
// that succeeds does not bring it back. Puts go on working meanwhile, at the
// process-crash level. Reopening reads back what the file holds.
func (f *File) Sync() error {
	f.mu.Lock()
	if !f.open {
		f.mu.Unlock()
		return ErrClosed
	}
	target := f.written
	f.mu.Unlock()
	if f.noSync {
		return nil
	}
	f.smu.Lock()
	for {
		switch {
		case f.syncErr != nil:
			err := f.syncErr
			f.smu.Unlock()
			return err
		case f.synced >= target:
			f.smu.Unlock()
			return nil
		case !f.syncing:
			f.syncing = true
			f.smu.Unlock()
			upto, err := f.syncRound()
			f.smu.Lock()
			f.syncing = false
			if err == nil {
				f.synced = max(f.synced, upto)
			} else if err != ErrClosed {
				f.syncErr = err
			}
			f.scond.Broadcast()
			f.smu.Unlock()
			return err
		}
		if syncWaitHook != nil {
			syncWaitHook()
		}
		f.scond.Wait()
	}
}

// syncRound is the work of a leader: fsync the retired logs, the active one
// and, if needed, the directory, then drop the retired logs. It returns the
// count of changes it covered.
func (f *File) syncRound() (uint64, error) {
	f.mu.Lock()
	if !f.open {
		f.mu.Unlock()
		return 0, ErrClosed
	}
	upto := f.written
	log := f.log
	retired := len(f.retired)
	old := f.retired[:retired:retired]
	dirty := f.dirDirty
	f.dirDirty = false
	f.mu.Unlock()

	// The files stay open: only a leader or Close (which waits for the
	// leader) closes them, and a compaction does not start while retired
	// logs wait.
	err := func() error {
		for _, r := range old {
			if err := f.fsync(r); err != nil {
				return errwrap.Wrap("store: sync", err)
			}
		}
		if err := f.fsync(log); err != nil {
			return errwrap.Wrap("store: sync", err)
		}
		if dirty {
			if err := f.fsyncDir(); err != nil {
				return errwrap.Wrap("store: sync "+f.dir, err)
			}
		}
		return nil
	}()
	if err != nil {
		if dirty {
			f.mu.Lock()
			f.dirDirty = true
			f.mu.Unlock()
		}
		return 0, err
	}
	if retired > 0 {
		f.mu.Lock()
		f.dropRetired(retired)
		f.mu.Unlock()
	}
	return upto, nil
}

// dropRetired closes and removes the first n retired logs, now that the
// active log holding their live records is durable. Their removal need not
// be durable: a retired log that comes back after a power loss is replayed
// before the newer one, which overrides it. f.mu is held.
func (f *File) dropRetired(n int) {
	for _, r := range f.retired[:n] {
		_ = r.Close()
		if err := os.Remove(r.Name()); err != nil {
			f.logger.Warn("store: cannot remove an old log", "path", r.Name(), "err", err)
		}
		compactStep("retired-removed")
	}
	f.retired = append(f.retired[:0], f.retired[n:]...)
}

// beginExclusiveSync waits until no sync round runs and keeps others out,
// for Close.
func (f *File) beginExclusiveSync() {
	f.smu.Lock()
	for f.syncing {
		f.scond.Wait()
	}
	f.syncing = true
	f.smu.Unlock()
}

// endExclusiveSync ends what beginExclusiveSync began. When synced, every
// change so far is durable.
func (f *File) endExclusiveSync(synced bool, err error) {
	f.mu.Lock()
	written := f.written
	f.mu.Unlock()
	f.smu.Lock()
	f.syncing = false
	if synced {
		f.synced = max(f.synced, written)
	}
	if err != nil && f.syncErr == nil {
		f.syncErr = err
	}
	f.scond.Broadcast()
	f.smu.Unlock()
}

// stickySyncErr returns the error of a failed fsync, if any.
func (f *File) stickySyncErr() error {
	f.smu.Lock()
	defer f.smu.Unlock()
	return f.syncErr
}

// syncFile is syncData; tests replace it to make an fsync fail.
var syncFile = syncData

// syncWaitHook, when set by a test, is called by a Sync that is about to
// wait for a sync round run by another caller.
var syncWaitHook func()

// fsync flushes a log file and counts it.
func (f *File) fsync(file *os.File) error {
	f.fsyncs.Add(1)
	return syncFile(file)
}

// fsyncDir flushes the store directory and counts it.
func (f *File) fsyncDir() error {
	f.fsyncs.Add(1)
	return syncDir(f.dirf)
}
