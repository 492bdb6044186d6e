package store_test

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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

// requireQuarantined checks that the last Open quarantined exactly the file
// of key, holding content.
func requireQuarantined(t *testing.T, s *store.File, key string, content []byte) {
	t.Helper()
	q := s.Quarantined()
	require.Len(t, q, 1)
	require.Equal(t, store.EscapeName(key)+store.RecordSuffix, q[0].Name)
	require.Equal(t, key, q[0].Key)
	require.ErrorIs(t, q[0].Err, store.ErrCorrupt)
	require.NotEmpty(t, q[0].Path)
	require.Equal(t, filepath.Join(s.Dir(), store.QuarantineDir), filepath.Dir(q[0].Path))
	if content != nil {
		got, err := os.ReadFile(q[0].Path)
		require.NoError(t, err)
		require.Equal(t, content, got, "the quarantined file is kept as it was")
	}
	_, err := os.Lstat(recordPath(s.Dir(), key))
	require.ErrorIs(t, err, fs.ErrNotExist, "the bad record left the store directory")
}

// TestFileTornRecord truncates a record to every length, and also writes a
// torn temporary file of every length beside the good record: each reopen
// keeps all good records in order, quarantines the torn one and removes the
// temporary file.
func TestFileTornRecord(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	path := recordPath(dir, "s-2")
	orig, err := os.ReadFile(path)
	require.NoError(t, err)

	for n := 0; n <= len(orig)+1; n++ {
		var torn []byte
		switch {
		case n < len(orig):
			torn = orig[:n]
		case n == len(orig):
			continue // the whole record; checked below
		default:
			torn = append(bytes.Clone(orig), 0x00) // one byte too many
		}
		require.NoError(t, os.WriteFile(path, torn, 0o600))
		s := reopenExpect(t, base, "s-1", "s-3")
		requireQuarantined(t, s, "s-2", torn)
		require.NoError(t, s.Close())
		require.NoError(t, os.RemoveAll(filepath.Join(dir, store.QuarantineDir)))
	}

	// A torn temporary file (a crash in the middle of a Put over s-2) leaves
	// the old s-2 in place.
	require.NoError(t, os.WriteFile(path, orig, 0o600))
	for n := 0; n <= len(orig); n++ {
		require.NoError(t, os.WriteFile(path+store.TempSuffix, orig[:n], 0o600))
		s := reopenExpect(t, base, "s-1", "s-2", "s-3")
		require.Empty(t, s.Quarantined())
		require.NoError(t, s.Close())
		_, err := os.Lstat(path + store.TempSuffix)
		require.ErrorIs(t, err, fs.ErrNotExist, "leftover temporary file of %d bytes removed", n)
	}
}

// TestFileBitFlips flips every bit of a record: each flip is detected.
func TestFileBitFlips(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	path := recordPath(dir, "s-2")
	orig, err := os.ReadFile(path)
	require.NoError(t, err)
	for i := range orig {
		for bit := range 8 {
			flipped := bytes.Clone(orig)
			flipped[i] ^= 1 << bit
			require.NoError(t, os.WriteFile(path, flipped, 0o600))
			s := reopenExpect(t, base, "s-1", "s-3")
			requireQuarantined(t, s, "s-2", flipped)
			require.NoError(t, s.Close())
			require.NoError(t, os.RemoveAll(filepath.Join(dir, store.QuarantineDir)))
		}
	}
}

func TestFileZeroLength(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	require.NoError(t, os.Truncate(recordPath(dir, "s-3"), 0))
	s := reopenExpect(t, base, "s-1", "s-2")
	defer s.Close()
	requireQuarantined(t, s, "s-3", []byte{})
	// The key can be used again.
	require.NoError(t, s.Put("s-3", value("s-3")))
	keys, err := s.Keys()
	require.NoError(t, err)
	require.Equal(t, []string{"s-1", "s-2", "s-3"}, keys)
}

// TestFileDirectoryInsteadOfRecord puts a directory where a record file is
// expected, and one where a temporary file is expected.
func TestFileDirectoryInsteadOfRecord(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	require.NoError(t, os.Remove(recordPath(dir, "s-2")))
	require.NoError(t, os.Mkdir(recordPath(dir, "s-2"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(recordPath(dir, "s-2"), "inner"), []byte("x"), 0o600))
	require.NoError(t, os.Mkdir(recordPath(dir, "s-9")+store.TempSuffix, 0o700))

	s := reopenExpect(t, base, "s-1", "s-3")
	defer s.Close()
	q := s.Quarantined()
	require.Len(t, q, 2)
	names := []string{q[0].Name, q[1].Name}
	slices.Sort(names)
	require.Equal(t, []string{"s-2.rec", "s-9.rec.tmp"}, names)
	for _, e := range q {
		require.ErrorIs(t, e.Err, store.ErrCorrupt)
		fi, err := os.Lstat(e.Path)
		require.NoError(t, err)
		require.True(t, fi.IsDir(), "moved as it was")
	}
	// Both names are free again.
	require.NoError(t, s.Put("s-2", value("s-2")))
	require.NoError(t, s.Put("s-9", value("s-9")))
}

// TestFileUnreadable makes a record unreadable by permissions: Open
// quarantines it as corrupt (wrapping fs.ErrPermission) and keeps the other
// records. Root reads any file whatever its permissions, so when the test
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
	dir := threeRecords(t, base)
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

// TestFileRecordUnderWrongName copies a good record to the file name of
// another key: it is not taken for that key.
func TestFileRecordUnderWrongName(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	b, err := os.ReadFile(recordPath(dir, "s-1"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(recordPath(dir, "s-7"), b, 0o600))
	s := reopenExpect(t, base, "s-1", "s-2", "s-3")
	defer s.Close()
	requireQuarantined(t, s, "s-7", b)
	require.Contains(t, s.Quarantined()[0].Err.Error(), "does not match the file name")
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

func TestFileQuarantineKeepsEveryVersion(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	var paths []string
	for i := range 3 {
		bad := []byte{byte(i)}
		require.NoError(t, os.WriteFile(recordPath(dir, "s-2"), bad, 0o600))
		s := reopenExpect(t, base, "s-1", "s-3")
		requireQuarantined(t, s, "s-2", bad)
		paths = append(paths, s.Quarantined()[0].Path)
		require.NoError(t, s.Close())
	}
	require.Len(t, slices.Compact(slices.Sorted(slices.Values(paths))), 3, "no quarantined file overwritten: %q", paths)
}

// TestFileCorruptAfterOpen damages a record while the store is open: Get
// reports it, quarantines it and forgets the key.
func TestFileCorruptAfterOpen(t *testing.T) {
	base := t.TempDir()
	s := openFile(t, base)
	require.NoError(t, s.Put("r-5", value("r-5")))
	require.NoError(t, s.Put("r-6", value("r-6")))
	path := recordPath(s.Dir(), "r-5")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[len(b)-1] ^= 0x80
	require.NoError(t, os.WriteFile(path, b, 0o600))

	_, err = s.Get("r-5")
	var ce *store.CorruptError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.Equal(t, "r-5", ce.Key)
	require.Equal(t, "checksum mismatch", ce.Reason)
	requireQuarantined(t, s, "r-5", b)
	ok, err := s.Contains("r-5")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = s.Get("r-5")
	require.ErrorIs(t, err, store.ErrNotFound)

	// A record removed behind the store's back is reported as well.
	require.NoError(t, os.Remove(recordPath(s.Dir(), "r-6")))
	_, err = s.Get("r-6")
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorIs(t, err, fs.ErrNotExist)
	keys, err := s.Keys()
	require.NoError(t, err)
	require.Empty(t, keys)
}

// TestFileQuarantineLogged: every quarantined record is logged as a warning.
func TestFileQuarantineLogged(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	require.NoError(t, os.Truncate(recordPath(dir, "s-1"), 10))
	require.NoError(t, os.WriteFile(recordPath(dir, "s-4")+store.TempSuffix, []byte("half"), 0o600))
	var logs bytes.Buffer
	s := store.NewFile(store.FileOptions{Dir: base, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, s.Open(testClient, testServer))
	defer s.Close()
	out := logs.String()
	require.Contains(t, out, "level=WARN msg=\"store: quarantined corrupt record\"")
	require.Contains(t, out, "shorter than the header")
	require.Contains(t, out, "removed leftover temporary file")
}

// TestFileDurableLayout checks what a Put leaves on disk: one record file in
// the documented format, no temporary file, owner-only permissions.
func TestFileDurableLayout(t *testing.T) {
	base := filepath.Join(t.TempDir(), "new", "base")
	s := openFile(t, base)
	require.NoError(t, s.Put("s-12", []byte{0x32, 0x01, 0x02}))
	require.NoError(t, s.Put("s-13", []byte{0x34}))
	require.NoError(t, s.Put("s-12", []byte{0x3a, 0x01, 0x02}))

	entries, err := os.ReadDir(s.Dir())
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{store.LockName, "s-12.rec", "s-13.rec"}, names)

	b, err := os.ReadFile(recordPath(s.Dir(), "s-12"))
	require.NoError(t, err)
	key, seq, data, reason := store.DecodeRecord(b)
	require.Empty(t, reason)
	require.Equal(t, "s-12", key)
	require.Equal(t, uint64(1), seq, "a re-put keeps the sequence number")
	require.Equal(t, []byte{0x3a, 0x01, 0x02}, data)

	if runtime.GOOS == "windows" {
		return
	}
	for _, d := range []string{base, filepath.Dir(s.Dir()), s.Dir()} {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o700), fi.Mode().Perm(), d)
	}
	for _, f := range []string{"s-12.rec", "s-13.rec", store.LockName} {
		fi, err := os.Stat(filepath.Join(s.Dir(), f))
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), f)
	}
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

// TestFileQuarantineImpossible: when a bad record cannot be moved aside (here
// "quarantine" is a file), Open still succeeds, reports it and leaves the key
// out; a later Put of that key replaces the bad file.
func TestFileQuarantineImpossible(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	require.NoError(t, os.WriteFile(filepath.Join(dir, store.QuarantineDir), []byte("in the way"), 0o600))
	require.NoError(t, os.Truncate(recordPath(dir, "s-2"), 5))

	s := reopenExpect(t, base, "s-1", "s-3")
	defer s.Close()
	q := s.Quarantined()
	require.Len(t, q, 1)
	require.Empty(t, q[0].Path)
	require.ErrorIs(t, q[0].Err, store.ErrCorrupt)
	require.Contains(t, q[0].Err.Error(), "could not quarantine")
	require.FileExists(t, recordPath(dir, "s-2"), "left where it was")

	require.NoError(t, s.Put("s-2", value("s-2")))
	v, err := s.Get("s-2")
	require.NoError(t, err)
	require.Equal(t, value("s-2"), v)
}

func TestSizeErrorText(t *testing.T) {
	err := &store.SizeError{Key: "s-1", Size: 20, Max: 16}
	require.Equal(t, `store: value of key "s-1" is 20 bytes, more than the limit of 16`, err.Error())
	long := &store.KeyError{Key: strings.Repeat("k", 1000), Reason: "longer than 64 bytes"}
	require.Less(t, len(long.Error()), 200, "a hostile key is cut in error text")
}

// TestFileHashedNameCollision forces every long name to hash alike and checks
// that the store refuses the second client id, server URI or key that lands
// on a hashed name instead of mixing its records with the first one's.
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

	// Keys: at most MaxKeyLen bytes, but escaping can make them long.
	keyA, keyB := strings.Repeat("A", store.MaxKeyLen-1)+"B", strings.Repeat("A", store.MaxKeyLen-1)+"C"
	require.Equal(t, store.EscapeName(keyA), store.EscapeName(keyB))
	s = openFile(t, base)
	require.NoError(t, s.Put(keyA, value(keyA)))
	err = s.Put(keyB, value(keyB))
	require.ErrorIs(t, err, store.ErrNameCollision)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, keyA, ce.Have)
	got, err := s.Get(keyA)
	require.NoError(t, err)
	require.Equal(t, value(keyA), got, "the refused Put left the first key's record alone")
	ok, err := s.Contains(keyB)
	require.NoError(t, err)
	require.False(t, ok)
	// Once the first key is gone, the name is free again; the guard
	// survives a reopen.
	require.NoError(t, s.Remove(keyA))
	require.NoError(t, s.Put(keyB, value(keyB)))
	require.NoError(t, s.Close())
	s = reopenExpect(t, base, keyB)
	require.ErrorIs(t, s.Put(keyA, value(keyA)), store.ErrNameCollision)
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
