package store_test

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

// openNoSync opens a store over base with syncing off (the damage tests
// reopen many times; fsyncs would only slow them down).
func openNoSync(t *testing.T, base string) *store.File {
	t.Helper()
	s := store.NewFile(store.FileOptions{Dir: base, NoSync: true})
	require.NoError(t, s.Open(testClient, testServer))
	return s
}

// logOf returns the path of the only log in the store directory dir.
func logOf(t *testing.T, dir string) string {
	t.Helper()
	logs := logFiles(t, dir)
	require.Len(t, logs, 1, "one log in %s", dir)
	return filepath.Join(dir, logs[0])
}

// resetLog makes content the only log of dir and empties the quarantine.
func resetLog(t *testing.T, dir string, content []byte) {
	t.Helper()
	for _, l := range logFiles(t, dir) {
		require.NoError(t, os.Remove(filepath.Join(dir, l)))
	}
	require.NoError(t, os.RemoveAll(filepath.Join(dir, store.QuarantineDir)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, store.LogName(1)), content, 0o600))
}

// requireRecords checks that s holds exactly keys, with value(key) each.
func requireRecords(t *testing.T, s *store.File, keys ...string) {
	t.Helper()
	got, err := s.Keys()
	require.NoError(t, err)
	if keys == nil {
		keys = []string{}
	}
	require.Equal(t, keys, got)
	for _, k := range keys {
		v, err := s.Get(k)
		require.NoError(t, err)
		require.Equal(t, value(k), v)
	}
}

// TestFileLogLayout checks what Puts and Removes leave on disk: one log of
// records in the documented format, owner-only permissions.
func TestFileLogLayout(t *testing.T) {
	base := filepath.Join(t.TempDir(), "new", "base")
	s := openFile(t, base)
	require.NoError(t, s.Put("s-12", []byte{0x32, 0x01, 0x02}))
	require.NoError(t, s.Put("s-13", []byte{0x34}))
	require.NoError(t, s.Put("s-12", []byte{0x3a, 0x01, 0x02}))
	require.NoError(t, s.Remove("s-13"))

	entries, err := os.ReadDir(s.Dir())
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"0000000000000001.log", store.LockName}, names)
	b, err := os.ReadFile(filepath.Join(s.Dir(), names[0]))
	require.NoError(t, err)
	want := store.AppendLogRecord(nil, store.KindPut, "s-12", 1, []byte{0x32, 0x01, 0x02})
	want = store.AppendLogRecord(want, store.KindPut, "s-13", 2, []byte{0x34})
	want = store.AppendLogRecord(want, store.KindPut, "s-12", 1, []byte{0x3a, 0x01, 0x02})
	want = store.AppendLogRecord(want, store.KindRemove, "s-13", 0, nil)
	require.Equal(t, want, b, "Put and Remove wrote through to the file when they returned")

	if runtime.GOOS == "windows" {
		return
	}
	for _, d := range []string{base, filepath.Dir(s.Dir()), s.Dir()} {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o700), fi.Mode().Perm(), d)
	}
	for _, f := range names {
		fi, err := os.Stat(filepath.Join(s.Dir(), f))
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), f)
	}
}

// TestFileTornTail cuts the log at every byte offset: each reopen keeps
// every record that lies wholly before the cut, reports the torn rest with
// its offset and saves it in quarantine.
func TestFileTornTail(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	orig, err := os.ReadFile(logOf(t, dir))
	require.NoError(t, err)
	recs, bad := store.ScanLog(orig)
	require.Empty(t, bad)
	require.Len(t, recs, 3)

	for n := 0; n <= len(orig); n++ {
		resetLog(t, dir, orig[:n])
		var keep []string
		torn := int64(-1)
		for _, r := range recs {
			if r.Off+r.Size <= int64(n) {
				keep = append(keep, r.Key)
			} else if r.Off < int64(n) {
				torn = r.Off
			}
		}
		s := openNoSync(t, base)
		requireRecords(t, s, keep...)
		q := s.Quarantined()
		if torn < 0 {
			require.Empty(t, q, "cut at %d", n)
		} else {
			require.Len(t, q, 1, "cut at %d", n)
			require.Equal(t, torn, q[0].Offset)
			require.ErrorIs(t, q[0].Err, store.ErrCorrupt)
			got, err := os.ReadFile(q[0].Path)
			require.NoError(t, err)
			require.Equal(t, orig[torn:n], got, "the torn bytes are kept as they were")
		}
		require.NoError(t, s.Close())
	}
}

// TestFileBitFlips flips bits all over the log: every bit of it through the
// scanner that Open uses, and one bit of every byte through a real reopen.
// Each time every record but the one holding the flipped bit is kept, and
// that one is reported at its offset.
func TestFileBitFlips(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	orig, err := os.ReadFile(logOf(t, dir))
	require.NoError(t, err)
	recs, _ := store.ScanLog(orig)
	for i := range orig {
		var keep []string
		hit := recs[0]
		for _, r := range recs {
			if int64(i) >= r.Off && int64(i) < r.Off+r.Size {
				hit = r
			} else {
				keep = append(keep, r.Key)
			}
		}
		for bit := range 8 {
			flipped := bytes.Clone(orig)
			flipped[i] ^= 1 << bit
			got, bad := store.ScanLog(flipped)
			var keys []string
			for _, r := range got {
				keys = append(keys, r.Key)
			}
			require.Equal(t, keep, keys, "byte %d bit %d", i, bit)
			require.Len(t, bad, 1)
			require.Equal(t, hit.Off, bad[0].Off)
			require.Equal(t, hit.Off+hit.Size, bad[0].End)
			if bit != i%8 {
				continue
			}
			resetLog(t, dir, flipped)
			s := openNoSync(t, base)
			requireRecords(t, s, keep...)
			q := s.Quarantined()
			require.Len(t, q, 1, "byte %d bit %d", i, bit)
			require.Equal(t, hit.Off, q[0].Offset)
			require.ErrorIs(t, q[0].Err, store.ErrCorrupt)
			require.NoError(t, s.Close())
		}
	}
}

// TestFileGarbageBetweenRecords: junk inside the log, even junk that starts
// with the record magic, costs no good record around it.
func TestFileGarbageBetweenRecords(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	orig, err := os.ReadFile(logOf(t, dir))
	require.NoError(t, err)
	recs, _ := store.ScanLog(orig)
	mid := recs[1].Off
	junk := append([]byte("LNTL"), bytes.Repeat([]byte{0xff}, 100)...)
	resetLog(t, dir, append(append(bytes.Clone(orig[:mid]), junk...), orig[mid:]...))
	s := openNoSync(t, base)
	defer s.Close()
	requireRecords(t, s, "s-1", "s-2", "s-3")
	q := s.Quarantined()
	require.Len(t, q, 1)
	require.Equal(t, mid, q[0].Offset)
	require.Equal(t, "unknown version", q[0].Err.Reason)
}

// TestFileCorruptAfterOpen damages a record while the store is open: Get
// reports it, quarantines a copy and forgets the key, and an older record of
// the key does not come back at the next Open.
func TestFileCorruptAfterOpen(t *testing.T) {
	base := t.TempDir()
	s := openFile(t, base)
	require.NoError(t, s.Put("r-5", []byte("old value")))
	require.NoError(t, s.Put("r-6", value("r-6")))
	st, err := os.Stat(s.LogPath())
	require.NoError(t, err)
	require.NoError(t, s.Put("r-5", value("r-5")))
	b, err := os.ReadFile(s.LogPath())
	require.NoError(t, err)
	b[len(b)-1] ^= 0x80
	require.NoError(t, os.WriteFile(s.LogPath(), b, 0o600))

	_, err = s.Get("r-5")
	var ce *store.CorruptError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.Equal(t, "r-5", ce.Key)
	require.Equal(t, "checksum mismatch", ce.Reason)
	q := s.Quarantined()
	require.Len(t, q, 1)
	require.Equal(t, st.Size(), q[0].Offset)
	got, err := os.ReadFile(q[0].Path)
	require.NoError(t, err)
	require.Equal(t, b[st.Size():], got)
	ok, err := s.Contains("r-5")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = s.Get("r-5")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.Close())

	s = reopenExpect(t, base, "r-6")
	require.Len(t, s.Quarantined(), 1, "the damaged record is found again and reported")
	require.NoError(t, s.Close())
}

// TestFileRemoveThenCrash: a Remove that returned stays done after the death
// of the process, with or without a Sync; a removed key put again comes
// back with its new value and place.
func TestFileRemoveThenCrash(t *testing.T) {
	base := t.TempDir()
	s := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, s.Open(testClient, testServer))
	for _, k := range []string{"s-1", "s-2", "s-3"} {
		require.NoError(t, s.Put(k, value(k)))
	}
	require.NoError(t, s.Sync())
	require.NoError(t, s.Remove("s-1"))
	require.NoError(t, s.Remove("s-3"))
	require.NoError(t, s.Put("s-3", value("s-3")))
	s.CrashClose()
	s = reopenExpect(t, base, "s-2", "s-3")
	require.NoError(t, s.Close())
}

// TestFileCompaction drives a stream of Puts and Removes through many
// compactions: the store keeps one log (after each Sync), bounded in size,
// and the records and their order survive Close and Open.
func TestFileCompaction(t *testing.T) {
	store.SetCompaction(t, 4<<10, 4)
	for _, noSync := range []bool{false, true} {
		base := t.TempDir()
		s := store.NewFile(store.FileOptions{Dir: base, NoSync: noSync})
		require.NoError(t, s.Open(testClient, testServer))
		var want []string
		for i := range 2000 {
			k := "s-" + strconv.Itoa(i)
			require.NoError(t, s.Put(k, value(k)))
			want = append(want, k)
			if i%10 != 0 { // keep one in ten
				require.NoError(t, s.Remove(want[len(want)-1]))
				want = want[:len(want)-1]
			}
			if i%100 == 99 {
				require.NoError(t, s.Sync())
				require.Len(t, logFiles(t, s.Dir()), 1)
			}
		}
		requireRecords(t, s, want...)
		st, err := os.Stat(s.LogPath())
		require.NoError(t, err)
		require.Less(t, st.Size(), int64(64<<10), "compaction bounds the log")
		require.NotEqual(t, store.LogName(1), filepath.Base(s.LogPath()), "compacted at least once")
		require.NoError(t, s.Close())
		s = reopenExpect(t, base, want...)
		require.NoError(t, s.Close())
	}
}

// TestFileCompactionCrash copies the store directory at every step of
// compactions (as the death of the process there would leave it), and
// checks that each copy opens to the records the store held at that moment.
// It also cuts the new log short at every length, as a power loss before it
// was synced may: the old log alone still gives the records.
func TestFileCompactionCrash(t *testing.T) {
	store.SetCompaction(t, 2<<10, 2)
	base := t.TempDir()
	s := store.NewFile(store.FileOptions{Dir: base})
	require.NoError(t, s.Open(testClient, testServer))
	defer s.Close()
	var model []string // the keys, in order, after the current operation
	type snap struct {
		step string
		base string
		keys []string
	}
	var snaps []snap
	dir := s.Dir()
	store.OnStep(t, func(step string) {
		snaps = append(snaps, snap{step, snapshotStore(t, dir), append([]string(nil), model...)})
	})
	for i := range 120 {
		k := "s-" + strconv.Itoa(i)
		model = append(model, k)
		require.NoError(t, s.Put(k, value(k)))
		if i%3 != 0 {
			model = model[:len(model)-1]
			require.NoError(t, s.Remove(k))
		}
		if i%40 == 39 {
			require.NoError(t, s.Sync())
		}
	}
	store.OnStep(t, func(string) {})
	// A power loss after the switch, before the new log was synced.
	for _, sn := range snaps {
		if sn.step != "switched" {
			continue
		}
		dir := filepath.Join(sn.base, store.EscapeName(testClient), store.EscapeName(testServer))
		logs := logFiles(t, dir)
		require.Len(t, logs, 2)
		newest := filepath.Join(dir, logs[1])
		full, err := os.ReadFile(newest)
		require.NoError(t, err)
		for n := 0; n < len(full); n += 1 + n%11 { // lengths all over, not all of them
			require.NoError(t, os.WriteFile(newest, full[:n], 0o600))
			old, err := os.ReadFile(filepath.Join(dir, logs[0]))
			require.NoError(t, err)
			r := reopenExpect(t, sn.base, sn.keys...)
			require.NoError(t, r.Close())
			// Put the two logs back as they were for the next length.
			for _, l := range logFiles(t, dir) {
				require.NoError(t, os.Remove(filepath.Join(dir, l)))
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, logs[0]), old, 0o600))
		}
		break
	}
	steps := map[string]bool{}
	for _, sn := range snaps {
		steps[sn.step] = true
		r := reopenExpect(t, sn.base, sn.keys...)
		require.Empty(t, r.Quarantined(), "after %s", sn.step)
		require.NoError(t, r.Close())
	}
	for _, step := range []string{"created", "written", "switched", "retired-removed"} {
		require.True(t, steps[step], "no compaction reached %s", step)
	}

}

// TestFileLogNotRegular: a log name taken by a directory is quarantined as
// it is, and the store opens empty.
func TestFileLogNotRegular(t *testing.T) {
	base := t.TempDir()
	dir := threeRecords(t, base)
	require.NoError(t, os.Remove(logOf(t, dir)))
	require.NoError(t, os.Mkdir(filepath.Join(dir, store.LogName(7)), 0o700))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "x"+store.TempSuffix), 0o700))
	var logs bytes.Buffer
	s := store.NewFile(store.FileOptions{Dir: base, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, s.Open(testClient, testServer))
	defer s.Close()
	requireRecords(t, s)
	require.Len(t, s.Quarantined(), 2)
	require.Contains(t, logs.String(), "quarantined damage")
	require.NoError(t, s.Put("s-1", value("s-1")))
}

// TestFileDamagedRemoveOrRePut: a damaged remove record brings its key back
// with its last value; a damaged put over an earlier one leaves the earlier
// value; and once Open has rewritten the log, the damage is not found again.
func TestFileDamagedRemoveOrRePut(t *testing.T) {
	base := t.TempDir()
	s := openNoSync(t, base)
	dir := s.Dir()
	require.NoError(t, s.Put("s-1", value("s-1")))
	require.NoError(t, s.Put("s-2", []byte("first")))
	require.NoError(t, s.Remove("s-1"))
	require.NoError(t, s.Put("s-2", value("s-2")))
	require.NoError(t, s.Close())
	orig, err := os.ReadFile(logOf(t, dir))
	require.NoError(t, err)
	recs, _ := store.ScanLog(orig)
	require.Len(t, recs, 4)

	flip := func(r store.LogRecord) {
		b := bytes.Clone(orig)
		b[r.Off+r.Size-1] ^= 1
		resetLog(t, dir, b)
	}
	flip(recs[2]) // the remove of s-1
	s = openNoSync(t, base)
	requireRecords(t, s, "s-1", "s-2")
	require.Len(t, s.Quarantined(), 1)
	require.NoError(t, s.Close())
	s = openNoSync(t, base)
	require.Empty(t, s.Quarantined(), "the rewritten log holds no damage")
	require.NoError(t, s.Close())

	flip(recs[3]) // the second put of s-2
	s = openNoSync(t, base)
	defer s.Close()
	v, err := s.Get("s-2")
	require.NoError(t, err)
	require.Equal(t, []byte("first"), v)
	require.Len(t, s.Quarantined(), 1)
}
