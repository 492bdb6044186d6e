package store

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

// The lock of a store directory is the file "lock" inside it. How it is held
// depends on the platform (see osLock in lock_*.go):
//   - Linux, macOS, FreeBSD, NetBSD, DragonFly: flock(2) on the lock file. The
//     kernel releases it when the holder exits or crashes, so a stale lock
//     cannot exist; the file itself stays and holds the PID of the last holder.
//   - Windows: the lock file is opened without write sharing; Windows closes
//     the handle, and so releases the lock, when the holder exits.
//   - elsewhere: the lock file is created with O_EXCL and holds the PID of
//     the holder; a lock file whose PID is not running (or is our own PID, left
//     from before a reboot) is stale and replaced. See pidFileLock.
//
// On top of that, a process-wide table of held lock paths makes a second store
// in the same process fail fast with a LockedError whose InProcess is true.

const lockName = "lock"

var heldLocks = struct {
	sync.Mutex
	paths map[string]bool
}{paths: make(map[string]bool)}

type fileLock struct {
	path   string
	unlock func() error
}

// acquireLock takes the lock file at path, which must be absolute and clean.
func acquireLock(path string) (*fileLock, error) {
	heldLocks.Lock()
	defer heldLocks.Unlock()
	if heldLocks.paths[path] {
		return nil, &LockedError{Path: path, PID: os.Getpid(), InProcess: true}
	}
	unlock, err := osLock(path)
	if err != nil {
		return nil, err
	}
	heldLocks.paths[path] = true
	return &fileLock{path: path, unlock: unlock}, nil
}

func (l *fileLock) release() error {
	err := l.unlock()
	heldLocks.Lock()
	delete(heldLocks.paths, l.path)
	heldLocks.Unlock()
	if err != nil {
		return errwrap.Wrap("store: release lock "+l.path, err)
	}
	return nil
}

// pidContent is what a holder writes into its lock file.
func pidContent() []byte {
	return []byte(strconv.Itoa(os.Getpid()) + "\n")
}

// writeLockPID replaces the content of an open lock file with our PID.
func writeLockPID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt(pidContent(), 0)
	return err
}

// parsePID reads a PID written by pidContent; 0 when there is none or it
// is out of range (a negative PID would mean a process group to kill(2)).
func parsePID(r io.Reader) int {
	var buf [32]byte
	n, _ := io.ReadFull(r, buf[:])
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 || pid > math.MaxInt32 {
		return 0
	}
	return pid
}

func readLockPIDFile(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	return parsePID(f)
}

// pidFileLock is the portable lock: an O_EXCL lock file holding the PID of
// its holder. alive reports whether a process is running.
//
// A lock file whose PID is not running is stale and is replaced. Its own PID
// counts as stale too: acquireLock has already ruled out a holder in this
// process, so the file is left from an earlier process that had the same PID
// (common on devices that boot the same way every time). A lock file without a
// readable PID (a holder that crashed between creating and writing it) is not
// taken over: the LockedError then has PID 0 and the file must be removed by
// hand.
//
// Two processes that find the same stale lock at the same moment can race:
// both remove it and one may remove the other's fresh lock. flock and the
// Windows share mode, used where available, do not have this race.
func pidFileLock(path string, alive func(pid int) bool) (func() error, error) {
	self := os.Getpid()
	for range 2 {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.Write(pidContent())
			serr := f.Sync()
			cerr := f.Close()
			if err := errors.Join(werr, serr, cerr); err != nil {
				_ = os.Remove(path)
				return nil, errwrap.Wrap("store: write lock "+path, err)
			}
			return func() error { return os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, errwrap.Wrap("store: create lock", err)
		}
		pid := readLockPIDFile(path)
		if pid == 0 || (pid != self && alive(pid)) {
			return nil, &LockedError{Path: path, PID: pid}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, errwrap.Wrap("store: remove stale lock", err)
		}
	}
	return nil, &LockedError{Path: path, PID: readLockPIDFile(path)}
}
