package store_test

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

const (
	testClient = "dev-1"
	testServer = "tcp://127.0.0.1:1883"
)

// openFile opens a file store over base; it is closed at the end of the test.
func openFile(t *testing.T, base string) *store.File {
	t.Helper()
	s := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, s.Open(testClient, testServer))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// threeRecords makes a store over base holding s-1, s-2 and s-3 (in that
// order), closes it and returns the store directory.
func threeRecords(t *testing.T, base string) string {
	t.Helper()
	s := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, s.Open(testClient, testServer))
	for _, k := range []string{"s-1", "s-2", "s-3"} {
		require.NoError(t, s.Put(k, value(k)))
	}
	require.NoError(t, s.Close())
	return s.Dir()
}

func value(key string) []byte {
	return []byte("PUBLISH payload of " + key + ", long enough to tear in many places")
}

func recordPath(dir, key string) string {
	return filepath.Join(dir, store.EscapeName(key)+store.RecordSuffix)
}

// reopenExpect opens a new store over base and checks it holds exactly keys,
// with their values.
func reopenExpect(t *testing.T, base string, keys ...string) *store.File {
	t.Helper()
	s := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, s.Open(testClient, testServer))
	got, err := s.Keys()
	require.NoError(t, err)
	if diff := cmp.Diff(keys, got); diff != "" {
		s.Close()
		t.Fatalf("keys after reopen (-want +got):\n%s", diff)
	}
	for _, k := range keys {
		v, err := s.Get(k)
		require.NoError(t, err)
		require.Equal(t, value(k), v)
	}
	return s
}

// TestFileUnreadable makes a record file of the earlier layout unreadable by
// permissions: the migration at Open quarantines it as corrupt (wrapping
// fs.ErrPermission) and keeps the other records. Root reads any file whatever its permissions, so when the test
// runs as root (as in CI) the store is opened by a child process running as
// the user nobody (see unreadable_linux_test.go).
func TestFileUnreadable(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permission bits do not make a file unreadable on Windows")
	}
	if os.Geteuid() == 0 {
		unreadableAsNobody(t)
		return
	}
	base := t.TempDir()
	dir := threeLegacyRecords(t, base)
	path := recordPath(dir, "s-1")
	require.NoError(t, os.Chmod(path, 0))
	checkUnreadableQuarantined(t, base)
}

// checkUnreadableQuarantined opens the store over base, whose record s-1
// the process cannot read: s-1 is quarantined as corrupt because of the
// permissions, s-2 and s-3 are intact.
func checkUnreadableQuarantined(t *testing.T, base string) {
	t.Helper()
	s := reopenExpect(t, base, "s-2", "s-3")
	defer s.Close()
	q := s.Quarantined()
	require.Len(t, q, 1)
	require.Equal(t, "s-1", q[0].Key)
	require.ErrorIs(t, q[0].Err, store.ErrCorrupt)
	require.ErrorIs(t, q[0].Err, fs.ErrPermission)
	require.Equal(t, filepath.Join(s.Dir(), store.QuarantineDir), filepath.Dir(q[0].Path))
	_, err := os.Lstat(recordPath(s.Dir(), "s-1"))
	require.ErrorIs(t, err, fs.ErrNotExist, "the unreadable record left the store directory")
}

// TestFileUnknownEntriesKept: files the store did not write are left alone.
func TestFileUnknownEntriesKept(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	notes := filepath.Join(dir, "README")
	require.NoError(t, os.WriteFile(notes, []byte("operator notes"), 0o600))
	s := reopenExpect(t, base, "s-1", "s-2", "s-3")
	defer s.Close()
	require.Empty(t, s.Quarantined())
	require.FileExists(t, notes)
}

func TestFileTooLarge(t *testing.T) {
	store.SetMaxDataLen(t, 16)
	for _, s := range []store.Persistence{store.NewMemory(), store.NewFile(store.FileOptions{Dir: t.TempDir()})} {
		require.NoError(t, s.Open(testClient, testServer))
		err := s.Put("s-1", make([]byte, 17))
		var se *store.SizeError
		require.ErrorAs(t, err, &se)
		require.ErrorIs(t, err, store.ErrTooLarge)
		require.Equal(t, 17, se.Size)
		require.NoError(t, s.Put("s-1", make([]byte, 16)))
		require.NoError(t, s.Close())
	}
}

// TestFileHostileIDs opens stores for client ids and server URIs that try to
// escape the base directory: every store directory is exactly two levels
// below the base, nothing is created outside it, and no two pairs share a
// directory, even on a case-insensitive file system.
func TestFileHostileIDs(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "base")
	ids := []string{
		"../../etc", "..", ".", "...", "/etc/passwd", `C:\Windows\System32`, `..\..\x`, "a\x00b", "\x00",
		"", "%", "%2E%2E", "con", "CON", "a", "A", "~", strings.Repeat("x", 10000), strings.Repeat("../", 1000),
		strings.Repeat("x", 10000) + "y", "line\nbreak", "ü/..", "client:1",
	}
	uris := []string{"tcp://127.0.0.1:1883", "../../", "unix:///var/run/mqtt.sock", "", "ws://h/p?q=../../x#frag"}
	seen := map[string]string{}
	for _, id := range ids {
		for _, uri := range uris {
			s := store.NewFile(store.FileOptions{Dir: base})
			require.NoError(t, s.Open(id, uri), "Open(%q, %q)", id, uri)
			require.NoError(t, s.Put("s-1", []byte(id+"|"+uri)))
			dir := s.Dir()
			require.NoError(t, s.Close())

			require.Equal(t, base, filepath.Dir(filepath.Dir(dir)), "Open(%q, %q) used %q", id, uri, dir)
			for _, name := range []string{filepath.Base(dir), filepath.Base(filepath.Dir(dir))} {
				require.LessOrEqual(t, len(name), 255)
				require.NotEqual(t, "", strings.Trim(name, "."))
			}
			folded := strings.ToLower(dir)
			if prev, dup := seen[folded]; dup {
				t.Fatalf("%q and %q share the directory %q", prev, id+"|"+uri, dir)
			}
			seen[folded] = id + "|" + uri
		}
	}
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the base directory exists in its parent")

	// Every pair still finds its own record.
	for _, id := range ids {
		s := store.NewFile(store.FileOptions{Dir: base})
		require.NoError(t, s.Open(id, uris[0]))
		v, err := s.Get("s-1")
		require.NoError(t, err)
		require.Equal(t, id+"|"+uris[0], string(v))
		require.NoError(t, s.Close())
	}
}

func TestFileOpenOverFile(t *testing.T) {
	base := t.TempDir()
	clientDir := filepath.Join(base, store.EscapeName(testClient))
	require.NoError(t, os.WriteFile(clientDir, nil, 0o600))
	s := store.NewFile(store.FileOptions{Dir: base})
	err := s.Open(testClient, testServer)
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe)
	// The text and the chain of a wrapped error, as fmt.Errorf("...: %w") made them.
	require.EqualError(t, err, "store: open: mkdir "+clientDir+": not a directory (or a symbolic link)")
	require.Equal(t, error(pe), errors.Unwrap(err))
	_, err = s.Keys()
	require.ErrorIs(t, err, store.ErrClosed)
}

func TestFileOpenThroughSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	base, elsewhere := t.TempDir(), t.TempDir()
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(base, store.EscapeName(testClient))))
	s := store.NewFile(store.FileOptions{Dir: base})
	err := s.Open(testClient, testServer)
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe, "a planted symbolic link is not followed out of the base directory")
	entries, err := os.ReadDir(elsewhere)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestDefaultDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the environment variables behind os.UserCacheDir differ by platform; checked on Linux")
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	d, err := store.DefaultDir()
	require.NoError(t, err)
	require.Equal(t, filepath.Join(cache, "linnet", "store"), d)

	s := store.NewFile(store.FileOptions{})
	require.NoError(t, s.Open(testClient, testServer))
	require.True(t, strings.HasPrefix(s.Dir(), d+string(filepath.Separator)), "store in %q", s.Dir())
	require.NoError(t, s.Close())

	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	_, err = store.DefaultDir()
	require.ErrorIs(t, err, store.ErrNoBaseDir)
	require.EqualError(t, err, "store: no base directory: set FileOptions.Dir (user cache directory: "+
		"neither $XDG_CACHE_HOME nor $HOME are defined; home directory: $HOME is not defined)")
	_, cacheErr := os.UserCacheDir()
	_, homeErr := os.UserHomeDir()
	require.Equal(t, []error{store.ErrNoBaseDir, cacheErr, homeErr}, err.(interface{ Unwrap() []error }).Unwrap())
	err = store.NewFile(store.FileOptions{}).Open(testClient, testServer)
	require.ErrorIs(t, err, store.ErrNoBaseDir)
	require.Contains(t, err.Error(), "FileOptions.Dir")
}

func TestLockedErrorText(t *testing.T) {
	tests := []struct {
		err  *store.LockedError
		want string
	}{
		{&store.LockedError{Path: "/b/c/s/lock", PID: 42}, "store: locked: /b/c/s/lock is held by process 42"},
		{&store.LockedError{Path: "/b/c/s/lock"}, "store: locked: /b/c/s/lock is held by another process (pid unknown)"},
		{&store.LockedError{Path: "/b/c/s/lock", PID: 7, InProcess: true}, "store: locked: /b/c/s/lock is held by another store in this process"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.err.Error())
		require.True(t, errors.Is(tt.err, store.ErrLocked))
	}
}

func TestSizeErrorText(t *testing.T) {
	err := &store.SizeError{Key: "s-1", Size: 20, Max: 16}
	require.Equal(t, `store: value of key "s-1" is 20 bytes, more than the limit of 16`, err.Error())
	long := &store.KeyError{Key: strings.Repeat("k", 1000), Reason: "longer than 64 bytes"}
	require.Less(t, len(long.Error()), 200, "a hostile key is cut in error text")
}

// TestFileHashedNameCollision forces every long name to hash alike and checks
// that the store refuses the second client id or server URI that lands on a
// hashed name instead of mixing its records with the first one's.
func TestFileHashedNameCollision(t *testing.T) {
	store.CollideHashedNames(t)
	base := t.TempDir()
	idA, idB := strings.Repeat("a", 200), strings.Repeat("a", 199)+"b"
	require.Equal(t, store.EscapeName(idA), store.EscapeName(idB), "the test hash collides")

	// Client ids.
	a := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, a.Open(idA, testServer))
	require.NoError(t, a.Put("s-1", value("s-1")))
	require.NoError(t, a.Close())
	b := store.NewFile(store.FileOptions{Dir: base})
	err := b.Open(idB, testServer)
	require.ErrorIs(t, err, store.ErrNameCollision)
	var ce *store.CollisionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, idB, ce.Name)
	require.Equal(t, idA, ce.Have)
	_, err = b.Keys()
	require.ErrorIs(t, err, store.ErrClosed, "a refused Open leaves the store closed")
	// The owner still opens, and its record is intact.
	s := reopenExpectFor(t, base, idA, testServer, "s-1")
	require.NoError(t, s.Close())

	// Server URIs under one client id.
	uriA, uriB := "tcp://"+strings.Repeat("h", 200)+":1", "tcp://"+strings.Repeat("h", 200)+":2"
	require.NoError(t, a.Open(testClient, uriA))
	require.NoError(t, a.Close())
	err = b.Open(testClient, uriB)
	require.ErrorIs(t, err, store.ErrNameCollision)

	// Keys are kept whole inside the log, never as file names, so long keys
	// that escape to one hashed name stay apart.
	keyA, keyB := strings.Repeat("A", store.MaxKeyLen-1)+"B", strings.Repeat("A", store.MaxKeyLen-1)+"C"
	require.Equal(t, store.EscapeName(keyA), store.EscapeName(keyB))
	s = openFile(t, base)
	require.NoError(t, s.Put(keyA, value(keyA)))
	require.NoError(t, s.Put(keyB, value(keyB)))
	require.NoError(t, s.Close())
	s = reopenExpect(t, base, keyA, keyB)
	require.NoError(t, s.Close())
}

// TestFileHashedDirName checks the name file of a directory with a hashed
// name: written on the first Open, kept out of the records, and a planted
// directory or a torn temporary copy in its place is handled.
func TestFileHashedDirName(t *testing.T) {
	base := t.TempDir()
	id := strings.Repeat("x", 300)
	s := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, s.Open(id, testServer))
	clientDir := filepath.Dir(s.Dir())
	got, err := os.ReadFile(filepath.Join(clientDir, store.NameFile))
	require.NoError(t, err)
	require.Equal(t, id, string(got))
	_, err = os.Lstat(filepath.Join(s.Dir(), store.NameFile))
	require.ErrorIs(t, err, fs.ErrNotExist, "short names need no name file")
	require.NoError(t, s.Close())

	// A leftover temporary name file from a crash is replaced.
	require.NoError(t, os.Remove(filepath.Join(clientDir, store.NameFile)))
	require.NoError(t, os.WriteFile(filepath.Join(clientDir, store.NameFile+store.TempSuffix), []byte("xx"), 0o600))
	require.NoError(t, s.Open(id, testServer))
	require.NoError(t, s.Close())
	got, err = os.ReadFile(filepath.Join(clientDir, store.NameFile))
	require.NoError(t, err)
	require.Equal(t, id, string(got))

	// A name file that is not a regular file is refused.
	require.NoError(t, os.Remove(filepath.Join(clientDir, store.NameFile)))
	require.NoError(t, os.Mkdir(filepath.Join(clientDir, store.NameFile), 0o700))
	var pe *fs.PathError
	require.ErrorAs(t, s.Open(id, testServer), &pe)

	// In a store directory with a hashed name, the name file is not a
	// record and not an unknown entry.
	uri := "tcp://" + strings.Repeat("h", 300) + ":1883"
	var logged bytes.Buffer
	s = store.NewFile(store.FileOptions{Dir: base, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	require.NoError(t, s.Open(testClient, uri))
	require.NoError(t, s.Close())
	require.NoError(t, s.Open(testClient, uri))
	keys, err := s.Keys()
	require.NoError(t, err)
	require.Empty(t, keys)
	require.Empty(t, s.Quarantined())
	require.NoError(t, s.Close())
	require.NotContains(t, logged.String(), store.NameFile)
}

// reopenExpectFor is reopenExpect for another client id and server URI.
func reopenExpectFor(t *testing.T, base, id, uri string, keys ...string) *store.File {
	t.Helper()
	s := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, s.Open(id, uri))
	got, err := s.Keys()
	require.NoError(t, err)
	require.Equal(t, keys, got)
	return s
}
