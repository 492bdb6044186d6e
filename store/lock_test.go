package store_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

// The lock tests start this test binary again as a second process. The
// environment tells TestHelperProcess what to do.
const (
	helperEnv    = "LINNET_STORE_HELPER" // "try" or "hold"
	helperDirEnv = "LINNET_STORE_HELPER_DIR"
)

// TestHelperProcess is not a test: it is the second process of the lock
// tests, and skips unless started by one.
//
//   - try: open the store, print "opened", "locked <pid>" or "error <err>",
//     and exit.
//   - hold: open the store, put s-1, s-2, s-3, print "ready", wait until
//     stdin is closed and exit without closing the store, as a crash would.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process of the lock tests; runs only when they start it")
	}
	s := store.NewFile(store.FileOptions{Dir: os.Getenv(helperDirEnv)})
	err := s.Open(testClient, testServer)
	switch mode {
	case "try":
		var le *store.LockedError
		switch {
		case errors.As(err, &le):
			fmt.Printf("locked %d %s\n", le.PID, le.Path)
		case err != nil:
			fmt.Printf("error %v\n", err)
		default:
			fmt.Println("opened")
			s.Close()
		}
	case "hold":
		if err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(1)
		}
		for _, k := range []string{"s-1", "s-2", "s-3"} {
			if err := s.Put(k, value(k)); err != nil {
				fmt.Printf("error %v\n", err)
				os.Exit(1)
			}
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
	os.Exit(0) // without Close
}

func helperCmd(mode, base string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDirEnv+"="+base)
	cmd.Stderr = os.Stderr
	return cmd
}

// tryOpenInChild runs a second process that tries to open the store.
func tryOpenInChild(t *testing.T, base string) string {
	t.Helper()
	out, err := helperCmd("try", base).Output()
	require.NoError(t, err)
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

func TestFileLockSameProcess(t *testing.T) {
	base := t.TempDir()
	first := openFile(t, base)

	second := store.NewFile(store.FileOptions{Dir: base})
	err := second.Open(testClient, testServer)
	require.ErrorIs(t, err, store.ErrLocked)
	var le *store.LockedError
	require.ErrorAs(t, err, &le)
	require.Equal(t, filepath.Join(first.Dir(), store.LockName), le.Path)
	require.True(t, le.InProcess)
	require.Equal(t, os.Getpid(), le.PID)
	_, err = second.Keys()
	require.ErrorIs(t, err, store.ErrClosed, "a store that failed to open stays closed")
	require.NoError(t, second.Close())

	// Another client id or server URI is another directory and another lock.
	other := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, other.Open(testClient, "ssl://127.0.0.1:8883"))
	require.NoError(t, other.Close())

	require.NoError(t, first.Close())
	require.NoError(t, second.Open(testClient, testServer), "the lock is free after Close")
	require.NoError(t, second.Close())
}

// TestFileLockOtherProcess checks the lock across processes both ways, and
// that a holder that dies without Close (a crash) leaves a store that opens
// again with every record it had put.
func TestFileLockOtherProcess(t *testing.T) {
	base := t.TempDir()

	// We hold the store: a second process cannot open it and learns our PID.
	s := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, s.Open(testClient, testServer))
	lockPath := filepath.Join(s.Dir(), store.LockName)
	require.Equal(t, fmt.Sprintf("locked %d %s", os.Getpid(), lockPath), tryOpenInChild(t, base))
	require.NoError(t, s.Close())
	require.Equal(t, "opened", tryOpenInChild(t, base))

	// A child holds it.
	cmd := helperCmd("hold", base)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	childDone := false
	t.Cleanup(func() {
		if !childDone {
			stdin.Close()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)

	err = s.Open(testClient, testServer)
	var le *store.LockedError
	require.ErrorAs(t, err, &le)
	require.Equal(t, lockPath, le.Path)
	require.Equal(t, cmd.Process.Pid, le.PID)
	require.False(t, le.InProcess)
	require.Contains(t, err.Error(), "held by process "+strconv.Itoa(cmd.Process.Pid))

	// The child dies without closing its store.
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	childDone = true

	s2 := reopenExpect(t, base, "s-1", "s-2", "s-3")
	require.Empty(t, s2.Quarantined())
	b, err := os.ReadFile(lockPath)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(b), "the lock file names its holder")
	require.NoError(t, s2.Close())
}

// TestFileStaleLock leaves a lock file naming a process that has exited: the
// store opens.
func TestFileStaleLock(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	dead := store.DeadPID(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, store.LockName), []byte(strconv.Itoa(dead)+"\n"), 0o600))
	s := reopenExpect(t, base, "s-1", "s-2", "s-3")
	require.NoError(t, s.Close())
}

// TestPIDFileLock checks the portable lock used where neither flock nor the
// Windows share mode is available.
func TestPIDFileLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), store.LockName)
	write := func(s string) { require.NoError(t, os.WriteFile(path, []byte(s), 0o600)) }
	content := func() string {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return string(b)
	}
	self := strconv.Itoa(os.Getpid()) + "\n"

	unlock, err := store.PIDFileLock(path, store.ProcessAlive)
	require.NoError(t, err)
	require.Equal(t, self, content())
	require.NoError(t, unlock())
	require.NoFileExists(t, path, "released by removing the lock file")

	// A stale lock of a dead process is taken over.
	write(strconv.Itoa(store.DeadPID(t)) + "\n")
	unlock, err = store.PIDFileLock(path, store.ProcessAlive)
	require.NoError(t, err)
	require.Equal(t, self, content())
	require.NoError(t, unlock())

	// Our own PID in the file is left from an earlier process with our PID.
	write(self)
	unlock, err = store.PIDFileLock(path, store.ProcessAlive)
	require.NoError(t, err)
	require.NoError(t, unlock())

	// A live holder keeps it.
	live := os.Getppid()
	if !store.ProcessAlive(live) {
		t.Skip("cannot find a live process other than this one")
	}
	write(strconv.Itoa(live) + "\n")
	_, err = store.PIDFileLock(path, store.ProcessAlive)
	var le *store.LockedError
	require.ErrorAs(t, err, &le)
	require.Equal(t, live, le.PID)
	require.Equal(t, path, le.Path)

	// A lock file without a PID is not taken over.
	write("")
	_, err = store.PIDFileLock(path, func(int) bool { return false })
	require.ErrorAs(t, err, &le)
	require.Equal(t, 0, le.PID)
	require.Contains(t, le.Error(), "pid unknown")
}
