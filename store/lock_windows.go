//go:build windows

package store

import (
	"errors"
	"os"
	"syscall"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

const errSharingViolation = syscall.Errno(32) // ERROR_SHARING_VIOLATION

// osLock opens path for writing while sharing it only for reading: a second
// opener for writing fails with a sharing violation until the handle is
// closed, which Windows does when the holder exits.
func osLock(path string) (func() error, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, errwrap.Wrap("store: lock", &os.PathError{Op: "open", Path: path, Err: err})
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ|syscall.GENERIC_WRITE, syscall.FILE_SHARE_READ,
		nil, syscall.OPEN_ALWAYS, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		if errors.Is(err, errSharingViolation) {
			return nil, &LockedError{Path: path, PID: readLockPIDFile(path)}
		}
		return nil, errwrap.Wrap("store: lock", &os.PathError{Op: "open", Path: path, Err: err})
	}
	f := os.NewFile(uintptr(h), path)
	if err := writeLockPID(f); err != nil {
		f.Close()
		return nil, errwrap.Wrap("store: write lock", err)
	}
	return f.Close, nil
}
