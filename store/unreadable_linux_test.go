//go:build linux

package store_test

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

// unreadableChildEnv switches the test binary into the child of
// TestFileUnreadable: TestFileUnreadableChild runs only when this variable
// names the base directory to open, so it never runs by accident.
const unreadableChildEnv = "LINNET_STORE_TEST_UNREADABLE_CHILD_BASE"

// nobody is the uid and gid of the child: the conventional "nobody" of
// Linux distributions. It need not exist in /etc/passwd.
const nobody = 65534

// unreadableChildOK is the last line the child prints when every check
// passed, so that a child that skipped or died is not taken for a success.
const unreadableChildOK = "unreadable child: quarantined s-1, kept s-2 and s-3"

// unreadableAsNobody is TestFileUnreadable for root. It prepares, as root, a
// store that nobody owns except for record s-1, which belongs to root with
// mode 000, and runs a copy of this test binary as nobody to open it.
func unreadableAsNobody(t *testing.T) {
	// A directory nobody may traverse: t.TempDir and the go build cache
	// (where the test binary is) are 0700 and owned by root.
	root, err := os.MkdirTemp("", "linnet-unreadable-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	require.NoError(t, os.Chmod(root, 0o755))

	self, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(root, "store.test")
	copyFile(t, self, bin, 0o755)

	base := filepath.Join(root, "base")
	dir := threeLegacyRecords(t, base)
	require.NoError(t, filepath.WalkDir(base, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	}))
	bad := recordPath(dir, "s-1")
	badBytes, err := os.ReadFile(bad)
	require.NoError(t, err)
	require.NoError(t, os.Chown(bad, 0, 0))
	require.NoError(t, os.Chmod(bad, 0))

	cmd := exec.Command(bin, "-test.run=^TestFileUnreadableChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), unreadableChildEnv+"="+base)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if cmd.ProcessState == nil { // never started: setuid refused (EPERM in a user namespace without the mapping)
			t.Skipf("cannot start a child as uid %d (needs CAP_SETUID and a mapped uid %d): %v", nobody, nobody, err)
		}
		t.Fatalf("child as nobody failed: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), unreadableChildOK) {
		t.Fatalf("child as nobody did not run its checks:\n%s", out.String())
	}

	// Back as root: the unreadable file is in quarantine as it was, the good
	// records are where they were.
	q, err := filepath.Glob(filepath.Join(dir, store.QuarantineDir, "*"))
	require.NoError(t, err)
	require.Len(t, q, 1)
	require.Equal(t, filepath.Base(bad), filepath.Base(q[0]))
	got, err := os.ReadFile(q[0])
	require.NoError(t, err)
	require.Equal(t, badBytes, got, "the quarantined record is kept as it was")
	fi, err := os.Stat(q[0])
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0), fi.Mode().Perm())
	require.Equal(t, uint32(0), fi.Sys().(*syscall.Stat_t).Uid, "still root's file")
	s := reopenExpect(t, base, "s-2", "s-3")
	require.NoError(t, s.Close())
}

// TestFileUnreadableChild is not a test on its own: it is the child of
// TestFileUnreadable when that runs as root, and skips unless
// LINNET_STORE_TEST_UNREADABLE_CHILD_BASE is set.
func TestFileUnreadableChild(t *testing.T) {
	base := os.Getenv(unreadableChildEnv)
	if base == "" {
		t.Skip("child process of TestFileUnreadable; runs only when it starts it")
	}
	require.NotZero(t, os.Geteuid(), "the child must not run as root, which reads any file")
	checkUnreadableQuarantined(t, base)
	t.Log(unreadableChildOK)
}

func copyFile(t *testing.T, from, to string, perm fs.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}
