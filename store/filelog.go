package store

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

// Compaction: when the active log is at least compactMin bytes long and its
// live records fill less than 1/compactRatio of it, the live records are
// copied, in insertion order, into a new log of the next generation, and
// appends go there. With syncing on, the old log stays (as a retired log)
// until the next sync has made the new one durable; Open replays every log
// in generation order, so a crash at any step finds either the old log
// alone, or the old one and a prefix of the new one, which repeats records
// the old one has. With syncing off the old log is removed at once: the new
// one is complete in the operating system's cache, which is all the
// process-crash level asks.
var (
	compactMin   int64 = 1 << 20
	compactRatio int64 = 4
)

// compactStep is called at each step of a compaction, a migration and the
// rewrite at Open; tests replace it to copy the directory at that moment,
// which is what a crash there would leave.
var compactStep = func(step string) {}

// maxBufferedData is the largest value that Put copies into its scratch
// buffer to write the record with one write(2); larger values are written
// after their header with a second one.
const maxBufferedData = 64 << 10

// logName is the file name of the log of generation gen.
func logName(gen uint64) string {
	s := strconv.FormatUint(gen, 16)
	return strings.Repeat("0", 16-len(s)) + s + ".log"
}

// parseLogName returns the generation of a log file name.
func parseLogName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, ".log")
	if !ok || len(hex) != 16 || strings.ToLower(hex) != hex {
		return 0, false
	}
	gen, err := strconv.ParseUint(hex, 16, 64)
	return gen, err == nil && gen > 0
}

// appendRecord appends one record to the active log and returns where it
// went. A failed write is cut off again, so that the log never holds half
// a record followed by good ones; if even that fails, the store refuses
// further writes (f.werr) until it is reopened. f.mu is held.
func (f *File) appendRecord(kind byte, key string, seq uint64, data []byte) (entry, error) {
	if f.werr != nil {
		return entry{}, f.werr
	}
	f.buf = appendLogHeader(f.buf[:0], kind, key, seq, data)
	size := int64(len(f.buf) + len(data))
	var err error
	if len(data) <= maxBufferedData {
		f.buf = append(f.buf, data...)
		_, err = f.log.WriteAt(f.buf, f.size)
	} else if _, err = f.log.WriteAt(f.buf, f.size); err == nil {
		_, err = f.log.WriteAt(data, f.size+int64(len(f.buf)))
	}
	if cap(f.buf) > maxBufferedData+logHeaderSize+MaxKeyLen {
		f.buf = nil
	}
	if err != nil {
		if terr := f.log.Truncate(f.size); terr != nil {
			f.werr = errwrap.Wrap("store: log "+f.log.Name()+" holds a partial record and cannot be cut back; reopen the store", terr)
		}
		return entry{}, err
	}
	e := entry{seq: seq, off: f.size, size: size}
	f.size += size
	f.written++
	return e, nil
}

// Put stores data under key: it appends a record to the log with write(2)
// and returns without fsync. Once it returns, the record survives the death
// of the process; call Sync to make it survive a power loss too.
func (f *File) Put(key string, data []byte) error {
	if err := checkPut(key, data); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return ErrClosed
	}
	old, exists := f.index[key]
	seq := old.seq
	if !exists {
		seq = f.seq + 1
	}
	e, err := f.appendRecord(kindPut, key, seq, data)
	if err != nil {
		return errwrap.Wrap("store: put "+quoteShort(key), err)
	}
	if exists {
		f.live -= old.size
	}
	f.index[key] = e
	f.live += e.size
	f.seq = max(f.seq, seq)
	f.maybeCompact()
	return nil
}

// Get reads the record of key from the log. A record that fails its checks
// is reported as a *CorruptError (ErrCorrupt) and listed by Quarantined; the
// key is then gone.
func (f *File) Get(key string) ([]byte, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return nil, ErrClosed
	}
	e, ok := f.index[key]
	if !ok {
		return nil, ErrNotFound
	}
	b := make([]byte, e.size)
	r, cerr, err := readEntry(f.log, key, e, b)
	if err != nil {
		return nil, errwrap.Wrap("store: get "+quoteShort(key), err)
	}
	if cerr != nil {
		f.damaged(key, e, b, cerr)
		return nil, cerr
	}
	return r.data[:len(r.data):len(r.data)], nil
}

// readEntry reads the record e of key from log into b (len(b) == e.size)
// and checks it. err is an I/O error, cerr damage.
func readEntry(log *os.File, key string, e entry, b []byte) (r logRecord, cerr *CorruptError, err error) {
	if _, err := log.ReadAt(b, e.off); err != nil {
		return r, nil, err
	}
	r, reason := decodeLogRecord(b)
	switch {
	case reason != "":
	case r.kind != kindPut || r.key != key || r.seq != e.seq:
		reason = "not the record the index expects"
	default:
		return r, nil, nil
	}
	return logRecord{}, &CorruptError{Path: log.Name(), Key: key, Reason: reason}, nil
}

// damaged handles a record found bad after Open: a copy goes to quarantine,
// the key is forgotten and a remove record follows, so that an older record
// of the key is not brought back by the next Open. f.mu is held.
func (f *File) damaged(key string, e entry, b []byte, cerr *CorruptError) {
	delete(f.index, key)
	f.live -= e.size
	f.quarantineBytes(filepath.Base(f.log.Name()), e.off, key, b, cerr)
	if _, err := f.appendRecord(kindRemove, key, 0, nil); err != nil {
		f.logger.Warn("store: cannot log the removal of a damaged record", "key", key, "err", err)
	}
}

// Remove deletes the record of key by appending a remove record, without
// fsync: once it returns, the record stays removed across the death of the
// process; a power loss before the next Sync may bring it back (session/
// copes with that: a message is then resent as a duplicate). Removing an
// absent key is not an error.
func (f *File) Remove(key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return ErrClosed
	}
	old, ok := f.index[key]
	if !ok {
		return nil
	}
	if _, err := f.appendRecord(kindRemove, key, 0, nil); err != nil {
		return errwrap.Wrap("store: remove "+quoteShort(key), err)
	}
	delete(f.index, key)
	f.live -= old.size
	f.maybeCompact()
	return nil
}

// sortedKeys returns the keys in insertion order. f.mu is held.
func (f *File) sortedKeys() []string {
	keys := make([]string, 0, len(f.index))
	for k := range f.index {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		sa, sb := f.index[a].seq, f.index[b].seq
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return strings.Compare(a, b)
	})
	return keys
}

// Keys returns the keys in insertion order.
func (f *File) Keys() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return nil, ErrClosed
	}
	return f.sortedKeys(), nil
}

// Contains reports whether key is stored.
func (f *File) Contains(key string) (bool, error) {
	if err := ValidKey(key); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return false, ErrClosed
	}
	_, ok := f.index[key]
	return ok, nil
}

// Clear removes every record, like a Remove of each key. The quarantine
// subdirectory is kept.
func (f *File) Clear() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return ErrClosed
	}
	for _, key := range f.sortedKeys() {
		if _, err := f.appendRecord(kindRemove, key, 0, nil); err != nil {
			return errwrap.Wrap("store: clear", err)
		}
		f.live -= f.index[key].size
		delete(f.index, key)
	}
	f.maybeCompact()
	return nil
}

// maybeCompact compacts the active log when it is due. A failure is logged,
// not returned: the change that triggered it is already in the log. f.mu is
// held.
func (f *File) maybeCompact() {
	if f.size < compactMin || f.size < f.nextCompact || f.live*compactRatio > f.size || len(f.retired) > 0 {
		return
	}
	if err := f.compact(); err != nil {
		f.nextCompact = f.size + compactMin
		f.logger.Warn("store: compaction failed; the log keeps growing until it succeeds", "dir", f.dir, "err", err)
	}
}

// compact copies the live records into a log of the next generation and
// makes it the active log. f.mu is held.
func (f *File) compact() error {
	keys := f.sortedKeys()
	items := make([]genItem, len(keys))
	for i, k := range keys {
		e := f.index[k]
		items[i] = genItem{key: k, seq: e.seq, file: f.log, off: e.off, size: e.size}
	}
	log, index, size, err := f.writeGen(f.gen+1, items)
	if err != nil {
		return err
	}
	old := f.log
	f.log, f.index, f.size, f.live, f.gen = log, index, size, size, f.gen+1
	f.written++
	f.dirDirty = true
	compactStep("switched")
	if f.noSync {
		_ = old.Close()
		if err := os.Remove(old.Name()); err != nil {
			f.logger.Warn("store: cannot remove an old log", "path", old.Name(), "err", err)
		}
		compactStep("retired-removed")
	} else {
		f.retired = append(f.retired, old)
	}
	return nil
}

// genItem is a live record to copy into a new log: from file at off, or
// encoded from data when file is nil (a record of the earlier layout).
type genItem struct {
	key  string
	seq  uint64
	file *os.File
	off  int64
	size int64
	data []byte
}

// writeGen writes items, in order, into a new log of generation gen and
// returns it open, with its index and length. Each copied record is checked
// first; a bad one is quarantined and left out. The new log is not synced.
// f.mu is held (or f is being opened).
func (f *File) writeGen(gen uint64, items []genItem) (*os.File, map[string]entry, int64, error) {
	path := filepath.Join(f.dir, logName(gen))
	log, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, 0, errwrap.Wrap("store: new log", err)
	}
	compactStep("created")
	fail := func(err error) (*os.File, map[string]entry, int64, error) {
		_ = log.Close()
		_ = os.Remove(path)
		return nil, nil, 0, errwrap.Wrap("store: write "+path, err)
	}
	w := bufio.NewWriterSize(log, 256<<10)
	index := make(map[string]entry, len(items))
	var off int64
	var b []byte
	for _, it := range items {
		if it.file == nil {
			b = append(appendLogHeader(b[:0], kindPut, it.key, it.seq, it.data), it.data...)
		} else {
			b = slices.Grow(b[:0], int(it.size))[:it.size]
			_, cerr, err := readEntry(it.file, it.key, entry{seq: it.seq, off: it.off, size: it.size}, b)
			if err != nil {
				return fail(err)
			}
			if cerr != nil {
				f.quarantineBytes(filepath.Base(it.file.Name()), it.off, it.key, b, cerr)
				continue
			}
		}
		if _, err := w.Write(b); err != nil {
			return fail(err)
		}
		index[it.key] = entry{seq: it.seq, off: off, size: int64(len(b))}
		off += int64(len(b))
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	compactStep("written")
	return log, index, off, nil
}
