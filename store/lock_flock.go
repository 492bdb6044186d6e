//go:build linux || darwin || freebsd || netbsd || dragonfly

package store

import (
	"errors"
	"os"
	"syscall"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

// osLock takes an exclusive, non-blocking flock(2) on path.
func osLock(path string) (func() error, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, errwrap.Wrap("store: open lock", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		pid := parsePID(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: path, PID: pid}
		}
		return nil, errwrap.Wrap("store: lock "+path, &os.PathError{Op: "flock", Path: path, Err: err})
	}
	if err := writeLockPID(f); err != nil {
		f.Close()
		return nil, errwrap.Wrap("store: write lock", err)
	}
	// Closing the descriptor releases the flock.
	return f.Close, nil
}
