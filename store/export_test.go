package store

import (
	"os"
	"os/exec"
	"testing"
)

// Test seams. They are unexported API: only this package's tests see them.

var (
	EscapeName     = escapeName
	UnescapeName   = unescapeName
	DecodeRecord   = decodeRecord
	ProcessAlive   = processAlive
	PIDFileLock    = pidFileLock
	MaxNameLen     = maxNameLen
	LockName       = lockName
	RecordSuffix   = recordSuffix
	TempSuffix     = tempSuffix
	QuarantineDir  = quarantineName
	LogName        = logName
	LogHeaderSize  = logHeaderSize
	KindPut        = byte(kindPut)
	KindRemove     = byte(kindRemove)
	DecodeLogEntry = decodeLogRecord
)

// CollideHashedNames makes every long name hash alike for the rest of the
// test, so that collisions of hashed names can be tested.
func CollideHashedNames(t *testing.T) {
	old := hashName
	hashName = func(string) (sum [16]byte) { return sum }
	t.Cleanup(func() { hashName = old })
}

// NameFile is the file that holds the original name of a hashed directory.
const NameFile = nameFile

// AppendRecord encodes a whole record file of the earlier layout.
func AppendRecord(b []byte, key string, seq uint64, data []byte) []byte {
	return append(appendRecordHeader(b, key, seq, data), data...)
}

// AppendLogRecord encodes a whole log record.
func AppendLogRecord(b []byte, kind byte, key string, seq uint64, data []byte) []byte {
	return append(appendLogHeader(b, kind, key, seq, data), data...)
}

// LogRecord is a decoded log record, for tests.
type LogRecord struct {
	Kind byte
	Key  string
	Seq  uint64
	Data []byte
	Off  int64
	Size int64
}

// LogSpan is a damaged stretch of a log, for tests.
type LogSpan struct {
	Off, End int64
	Reason   string
}

// ScanLog scans a whole log held in b, as Open does.
func ScanLog(b []byte) (recs []LogRecord, bad []LogSpan) {
	s := logScanner{r: bytesReaderAt(b), size: int64(len(b))}
	for {
		r, off, span, ok := s.next()
		if span.end > span.off {
			bad = append(bad, LogSpan{span.off, span.end, span.reason})
		}
		if !ok {
			return recs, bad
		}
		recs = append(recs, LogRecord{r.kind, r.key, r.seq, append([]byte(nil), r.data...), off, r.size})
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, os.ErrClosed
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, os.ErrClosed
	}
	return n, nil
}

// SetMaxDataLen lowers the value size limit for the rest of the test.
func SetMaxDataLen(t *testing.T, n int) {
	old := maxDataLen
	maxDataLen = n
	t.Cleanup(func() { maxDataLen = old })
}

// SetCompaction changes when a log is compacted for the rest of the test.
func SetCompaction(t *testing.T, minSize, ratio int64) {
	oldMin, oldRatio := compactMin, compactRatio
	compactMin, compactRatio = minSize, ratio
	t.Cleanup(func() { compactMin, compactRatio = oldMin, oldRatio })
}

// OnStep calls fn at every step of a compaction, a migration or a rewrite
// at Open, for the rest of the test.
func OnStep(t *testing.T, fn func(step string)) {
	old := compactStep
	compactStep = fn
	t.Cleanup(func() { compactStep = old })
}

// FailFsync makes every fsync of a log fail with err for the rest of the
// test, or until the returned function is called.
func FailFsync(t *testing.T, err error) (restore func()) {
	old := syncFile
	syncFile = func(*os.File) error { return err }
	restore = func() { syncFile = old }
	t.Cleanup(restore)
	return restore
}

// HoldFsync makes the next fsync of a log wait: it returns a channel that
// receives once that fsync has started and a function that lets it go on.
func HoldFsync(t *testing.T) (started <-chan struct{}, release func()) {
	old := syncFile
	s, r := make(chan struct{}, 1), make(chan struct{})
	first := true
	syncFile = func(f *os.File) error {
		if first {
			first = false
			s <- struct{}{}
			<-r
		}
		return old(f)
	}
	t.Cleanup(func() { syncFile = old })
	return s, func() { close(r) }
}

// OnSyncWait calls fn whenever a Sync starts waiting for another caller's
// sync round, for the rest of the test.
func OnSyncWait(t *testing.T, fn func()) {
	syncWaitHook = fn
	t.Cleanup(func() { syncWaitHook = nil })
}

// HoldLock takes the lock at path as a store would, until the returned
// function is called or the test ends.
func HoldLock(t *testing.T, path string) (release func()) {
	l, err := acquireLock(path)
	if err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			_ = l.release()
		}
	}
	t.Cleanup(release)
	return release
}

// Fsyncs returns how many fsyncs the store has done since NewFile.
func (f *File) Fsyncs() int64 { return f.fsyncs.Load() }

// LogPath returns the path of the active log.
func (f *File) LogPath() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.Name()
}

// CrashClose leaves the store as the death of the process would: files
// closed and the lock released, nothing synced, compacted or cleaned up.
func (f *File) CrashClose() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return
	}
	f.open = false
	for _, r := range f.retired {
		_ = r.Close()
	}
	_ = f.log.Close()
	_ = f.dirf.Close()
	_ = f.lock.release()
	f.dirf, f.lock, f.index, f.log, f.retired = nil, nil, nil, nil, nil
}

// DeadPID returns the PID of a process that has exited and been reaped: the
// test binary run with no tests.
func DeadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LINNET_STORE_HELPER=")
	if err := cmd.Run(); err != nil {
		t.Fatalf("running a short-lived child: %v", err)
	}
	return cmd.ProcessState.Pid()
}
