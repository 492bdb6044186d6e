package store_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

// writeLegacy writes a store directory in the earlier one-file-per-record
// layout (record files made with the old encoder, store.AppendRecord), as
// the previous version left it, and returns it. seqs gives each key's
// sequence number.
func writeLegacy(t *testing.T, base, client, uri string, keys []string, seqs []uint64) string {
	t.Helper()
	dir := filepath.Join(base, store.EscapeName(client), store.EscapeName(uri))
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, store.LockName), []byte("1\n"), 0o600))
	for i, k := range keys {
		require.NoError(t, os.WriteFile(recordPath(dir, k), store.AppendRecord(nil, k, seqs[i], value(k)), 0o600))
	}
	return dir
}

// threeLegacyRecords writes s-1, s-2 and s-3 in the earlier layout.
func threeLegacyRecords(t *testing.T, base string) string {
	return writeLegacy(t, base, testClient, testServer, []string{"s-1", "s-2", "s-3"}, []uint64{1, 2, 3})
}

func logFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// TestFileMigrateLegacy opens a store written in the earlier layout: the
// records come back in their order (by sequence number, not by name), bad
// record files and leftover temporary files are handled as before, and the
// record files are gone, replaced by one log.
func TestFileMigrateLegacy(t *testing.T) {
	base := t.TempDir()
	keys := []string{"s-65535", "s-1", "sc-7", "r-3", strings.Repeat("K", store.MaxKeyLen)}
	dir := writeLegacy(t, base, testClient, testServer, keys, []uint64{3, 9, 10, 12, 40})
	require.NoError(t, os.WriteFile(recordPath(dir, "s-9"), []byte("torn"), 0o600))
	require.NoError(t, os.WriteFile(recordPath(dir, "s-1")+store.TempSuffix, []byte("half a put"), 0o600))

	s := reopenExpect(t, base, keys...)
	q := s.Quarantined()
	require.Len(t, q, 1)
	require.Equal(t, "s-9", q[0].Key)
	require.ErrorIs(t, q[0].Err, store.ErrCorrupt)
	got, err := os.ReadFile(q[0].Path)
	require.NoError(t, err)
	require.Equal(t, []byte("torn"), got)
	require.NoError(t, s.Put("s-2", value("s-2")))
	require.NoError(t, s.Close())

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"0000000000000001.log", store.LockName, store.QuarantineDir}, names)
	s = reopenExpect(t, base, append(keys, "s-2")...)
	require.NoError(t, s.Close())
}

// TestFileMigrateLegacyCrash copies the store directory at every step of a
// migration, as a crash there would leave it: each copy opens to the same
// records in the same order, and a later Remove is not undone by a record
// file left behind.
func TestFileMigrateLegacyCrash(t *testing.T) {
	keys := []string{"s-3", "s-1", "s-2"}
	src := t.TempDir()
	dir := writeLegacy(t, src, testClient, testServer, keys, []uint64{1, 2, 3})
	var snaps []string
	store.OnStep(t, func(step string) { snaps = append(snaps, snapshotStore(t, dir)) })
	s := reopenExpect(t, src, keys...)
	require.NoError(t, s.Close())
	store.OnStep(t, func(string) {})
	require.GreaterOrEqual(t, len(snaps), 5, "created, written, synced and three record files removed")
	for i, snap := range snaps {
		s := reopenExpect(t, snap, keys...)
		require.Empty(t, s.Quarantined(), "snapshot %d", i)
		require.NoError(t, s.Remove("s-1"))
		require.NoError(t, s.Close())
		s = reopenExpect(t, snap, "s-3", "s-2")
		require.NoError(t, s.Close())
		require.Len(t, logFiles(t, filepath.Join(snap, store.EscapeName(testClient), store.EscapeName(testServer))), 1)
	}
}

// snapshotStore copies the store directory dir into a new base directory,
// at the same place under it, and returns that base.
func snapshotStore(t *testing.T, dir string) string {
	t.Helper()
	base := t.TempDir()
	to := filepath.Join(base, filepath.Base(filepath.Dir(dir)), filepath.Base(dir))
	require.NoError(t, os.MkdirAll(to, 0o700))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, e.Name()), b, 0o600))
	}
	return base
}

// TestFileUnredactedDir: a store directory that the earlier version named
// after the server URI with its password is renamed to the name without it,
// records kept; no name under the base directory holds the password
// afterwards.
func TestFileUnredactedDir(t *testing.T) {
	const secret = "s3cr3t-pw"
	for _, uri := range []string{
		"tcp://user:" + secret + "@127.0.0.1:1883",
		"tcp://user:" + secret + "@" + strings.Repeat("h", 200) + ":1883", // hashed names, with a name file
	} {
		base := t.TempDir()
		keys := []string{"s-2", "s-1"}
		writeLegacy(t, base, testClient, uri, keys, []uint64{1, 2})
		if long := store.EscapeName(uri); strings.Contains(long, "~") {
			dir := filepath.Join(base, store.EscapeName(testClient), long)
			require.NoError(t, os.WriteFile(filepath.Join(dir, store.NameFile), []byte(uri), 0o600))
		}
		s := reopenExpectFor(t, base, testClient, uri, keys...)
		require.NotContains(t, s.Dir(), secret)
		require.NoError(t, s.Close())
		requireNoSecret(t, base, secret)
		s = reopenExpectFor(t, base, testClient, uri, keys...)
		require.NoError(t, s.Close())
	}
}

func requireNoSecret(t *testing.T, base, secret string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		require.NotContains(t, p, secret)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NotContains(t, string(b), secret, p)
		}
		return nil
	}))
}

// TestFileUnredactedDirBothExist: when both names exist, Open refuses with a
// *MigrationError that does not show the password, and changes nothing.
func TestFileUnredactedDirBothExist(t *testing.T) {
	const secret = "s3cr3t-pw"
	uri := "tcp://user:" + secret + "@127.0.0.1:1883"
	base := t.TempDir()
	s := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, s.Open(testClient, uri))
	newDir := s.Dir()
	require.NoError(t, s.Close())
	old := writeLegacy(t, base, testClient, uri, []string{"s-1"}, []uint64{1})

	err := s.Open(testClient, uri)
	require.ErrorIs(t, err, store.ErrMigration)
	var me *store.MigrationError
	require.ErrorAs(t, err, &me)
	require.Equal(t, newDir, me.Dir)
	require.NotContains(t, err.Error(), secret)
	require.DirExists(t, old)
	_, err = s.Keys()
	require.ErrorIs(t, err, store.ErrClosed)

}

// TestFileUnredactedDirLocked: a directory under the old name that another
// store holds (an earlier version's process) is not renamed under it: Open
// is refused with a *MigrationError matching ErrLocked, without the
// password; once it is free, Open migrates it.
func TestFileUnredactedDirLocked(t *testing.T) {
	const secret = "s3cr3t-pw"
	uri := "tcp://user:" + secret + "@127.0.0.1:1883"
	base := t.TempDir()
	old := writeLegacy(t, base, testClient, uri, []string{"s-1"}, []uint64{1})
	release := store.HoldLock(t, filepath.Join(old, store.LockName))
	s := store.NewFile(store.FileOptions{Dir: base})
	err := s.Open(testClient, uri)
	require.ErrorIs(t, err, store.ErrMigration)
	require.ErrorIs(t, err, store.ErrLocked)
	require.NotContains(t, err.Error(), secret)
	require.DirExists(t, old)
	release()
	s = reopenExpectFor(t, base, testClient, uri, "s-1")
	require.NoError(t, s.Close())
	require.NoDirExists(t, old)
}
