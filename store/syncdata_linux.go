//go:build linux

package store

import (
	"os"
	"syscall"
)

// syncData flushes the data of a log file, and the metadata needed to read
// it back (its length), to stable storage: fdatasync(2), which skips the
// timestamps that fsync would also write.
func syncData(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				break
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
