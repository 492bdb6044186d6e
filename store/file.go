package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

// FileOptions configure a File store. The zero value is ready to use. The
// options are copied by NewFile.
type FileOptions struct {
	// Dir is the base directory. Each client id and server URI pair gets its
	// own directory Dir/<client id>/<server URI>, both escaped (see the
	// package documentation). "" means DefaultDir(). Missing directories are
	// created with permissions 0700.
	Dir string
	// Logger receives a warning for every record put into quarantine and a
	// note for every leftover temporary file removed. nil discards them.
	Logger *Logger
}

// Quarantined describes a record that failed its checks, was moved out of
// the store and is no longer one of its keys.
type Quarantined struct {
	// Name is the file name the record had in the store directory.
	Name string
	// Key is the key the file name stands for, or "" if it stands for none.
	Key string
	// Path is where the file is now, in the quarantine subdirectory, or "" if
	// it could not be moved (Err then says why as well).
	Path string
	// Err says what was wrong. It matches ErrCorrupt.
	Err *CorruptError
}

// File is a Persistence that keeps each record in its own file, durably:
// Put and Remove return only after the change has reached stable storage.
// It is the counterpart of Paho's MqttDefaultFilePersistence. See the
// package documentation for the layout, the record format and recovery.
//
// File is safe for concurrent use; operations are serialised.
type File struct {
	base   string // FileOptions.Dir
	logger *Logger

	mu          sync.Mutex
	open        bool
	dir         string   // the store directory of the current or last Open
	dirf        *os.File // dir, kept open to fsync it
	lock        *fileLock
	index       map[string]uint64 // key -> sequence number
	hashed      map[string]string // hashed record file name -> its key (see escapeName)
	seq         uint64            // highest sequence number in use
	quarantined []Quarantined
	buf         []byte // record header scratch
}

var _ Persistence = (*File)(nil)

// Names inside a store directory. Record files end in recordSuffix and
// temporary files in tempSuffix, so neither can be one of these.
const quarantineName = "quarantine"

// nameFile, inside a directory whose name is hashed, holds the client id or
// server URI the directory belongs to. Escaped names never contain 'N' or
// 'M', so no client, server or record name can be nameFile.
const nameFile = "NAME"

// NewFile returns a file store. Open it before use.
func NewFile(opts FileOptions) *File {
	logger := opts.Logger
	if logger == nil {
		logger = discardLogger
	}
	return &File{base: opts.Dir, logger: logger}
}

// DefaultDir returns the base directory used when FileOptions.Dir is empty:
// "linnet/store" inside os.UserCacheDir(), or else ".linnet/store" inside
// os.UserHomeDir(). When neither is known it returns an error matching
// ErrNoBaseDir. It never falls back to the working directory.
//
// On devices, set FileOptions.Dir to a directory on persistent storage: some
// systems clear cache directories.
func DefaultDir() (string, error) {
	cache, err1 := os.UserCacheDir()
	if err1 == nil {
		return filepath.Join(cache, "linnet", "store"), nil
	}
	home, err2 := os.UserHomeDir()
	if err2 == nil {
		return filepath.Join(home, ".linnet", "store"), nil
	}
	return "", &noBaseDirError{cache: err1, home: err2}
}

// noBaseDirError is the error of DefaultDir. It matches ErrNoBaseDir and both
// causes.
type noBaseDirError struct{ cache, home error }

func (e *noBaseDirError) Error() string {
	return ErrNoBaseDir.Error() + ": set FileOptions.Dir (user cache directory: " + e.cache.Error() +
		"; home directory: " + e.home.Error() + ")"
}

func (e *noBaseDirError) Unwrap() []error { return []error{ErrNoBaseDir, e.cache, e.home} }

// Dir returns the store directory of the current or last Open, or "" before
// the first successful Open.
func (f *File) Dir() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dir
}

// Quarantined returns the records that the last Open, or a later Get, found
// corrupt and moved to the quarantine subdirectory.
func (f *File) Quarantined() []Quarantined {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.quarantined)
}

// errNotDir is the cause when a path that should be a directory is not one.
var errNotDir = errors.New("not a directory (or a symbolic link)")

// errNotRegular is the cause when a path that should be a file is not one.
var errNotRegular = errors.New("not a regular file")

// Open locks and loads the store directory of clientID and serverURI,
// creating it if needed. Records that fail their checks are quarantined (see
// Quarantined), leftover temporary files are removed. A store already held by
// another store, in this process or another, gives a *LockedError.
func (f *File) Open(clientID, serverURI string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open {
		return ErrAlreadyOpen
	}
	base := f.base
	if base == "" {
		var err error
		if base, err = DefaultDir(); err != nil {
			return err
		}
	}
	base, err := filepath.Abs(base)
	if err != nil {
		return errwrap.Wrap("store: open", err)
	}
	if err := mkdirAllDurable(base); err != nil {
		return err
	}
	clientDir := filepath.Join(base, escapeName(clientID))
	dir := filepath.Join(clientDir, escapeName(serverURI))
	if err := mkdirDurable(base, clientDir); err != nil {
		return err
	}
	if err := checkDirName(clientDir, clientID); err != nil {
		return err
	}
	if err := mkdirDurable(clientDir, dir); err != nil {
		return err
	}
	if err := checkDirName(dir, serverURI); err != nil {
		return err
	}
	lock, err := acquireLock(filepath.Join(dir, lockName))
	if err != nil {
		return err
	}
	dirf, err := os.Open(dir)
	if err != nil {
		_ = lock.release()
		return errwrap.Wrap("store: open", err)
	}
	f.dir, f.dirf, f.lock = dir, dirf, lock
	f.index = make(map[string]uint64)
	f.hashed = make(map[string]string)
	f.seq = 0
	f.quarantined = nil
	if err := f.load(); err != nil {
		_ = dirf.Close()
		_ = lock.release()
		f.dirf, f.lock, f.index, f.hashed = nil, nil, nil, nil
		return err
	}
	f.open = true
	return nil
}

// checkDirName guards the directory dir, named after name, against hash
// collisions when that name is hashed (escapeName): the first Open writes
// name into dir/nameFile, durably; every later Open compares, and a different
// name is a *CollisionError. Directories with short names need no guard, as
// their names decode back to name.
func checkDirName(dir, name string) error {
	if !hashedName(filepath.Base(dir)) {
		return nil
	}
	path := filepath.Join(dir, nameFile)
	fi, err := os.Lstat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return errwrap.Wrap("store: open", &fs.PathError{Op: "open", Path: path, Err: errNotRegular})
	case err == nil:
		have, err := os.ReadFile(path)
		if err != nil {
			return errwrap.Wrap("store: open", err)
		}
		if string(have) != name {
			return &CollisionError{Path: dir, Name: name, Have: string(have)}
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return errwrap.Wrap("store: open", err)
	}
	// Written aside and renamed, so that a crash never leaves a torn name
	// that would refuse its own owner.
	if err := writeFileSync(path+tempSuffix, []byte(name), nil); err != nil {
		return errwrap.Wrap("store: open", err)
	}
	if err := os.Rename(path+tempSuffix, path); err != nil {
		_ = os.Remove(path + tempSuffix)
		return errwrap.Wrap("store: open", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return errwrap.Wrap("store: open", err)
	}
	err = syncDir(d)
	d.Close()
	if err != nil {
		return errwrap.Wrap("store: open: sync "+dir, err)
	}
	return nil
}

// mkdirAllDurable creates dir and any missing parents with permissions 0700,
// and makes each new entry durable.
func mkdirAllDurable(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return errwrap.Wrap("store: open", &fs.PathError{Op: "mkdir", Path: dir, Err: errNotDir})
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllDurable(parent); err != nil {
			return err
		}
	}
	return mkdirDurable(parent, dir)
}

// mkdirDurable creates dir (a child of parent) with permissions 0700 if it
// does not exist, and makes its entry durable. An existing dir must be a real
// directory, not a file or a symbolic link.
func mkdirDurable(parent, dir string) error {
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		p, err := os.Open(parent)
		if err != nil {
			return errwrap.Wrap("store: open", err)
		}
		err = syncDir(p)
		p.Close()
		if err != nil {
			return errwrap.Wrap("store: open: sync "+parent, err)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return errwrap.Wrap("store: open", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return errwrap.Wrap("store: open", err)
	}
	if !fi.IsDir() {
		return errwrap.Wrap("store: open", &fs.PathError{Op: "mkdir", Path: dir, Err: errNotDir})
	}
	return nil
}

// load scans the store directory: records into the index, temporary files
// removed, bad records quarantined. Only an error listing the directory or
// syncing it fails Open; a bad record never does.
func (f *File) load() error {
	entries, err := f.dirf.ReadDir(-1)
	if err != nil {
		return errwrap.Wrap("store: open: list "+f.dir, err)
	}
	changed := false
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == lockName || name == quarantineName || name == nameFile:
		case strings.HasSuffix(name, tempSuffix):
			changed = true
			if e.Type().IsRegular() {
				if err := os.Remove(filepath.Join(f.dir, name)); err != nil {
					// Harmless: the next Put of that key truncates it.
					f.logger.Warn("store: cannot remove leftover temporary file", "dir", f.dir, "name", name, "err", err)
				} else {
					f.logger.Info("store: removed leftover temporary file", "dir", f.dir, "name", name)
				}
				break
			}
			f.quarantine(name, &CorruptError{Reason: "temporary entry is not a regular file"})
		case strings.HasSuffix(name, recordSuffix):
			if cerr := f.loadRecord(name); cerr != nil {
				changed = true
				f.quarantine(name, cerr)
			}
		default:
			f.logger.Warn("store: ignoring unknown entry", "dir", f.dir, "name", name)
		}
	}
	if changed {
		if err := syncDir(f.dirf); err != nil {
			return errwrap.Wrap("store: open: sync "+f.dir, err)
		}
	}
	return nil
}

// maxRecordFile bounds the size of a record file that load reads.
func maxRecordFile() int64 { return recordHeaderSize + MaxKeyLen + int64(maxDataLen) }

// loadRecord checks one record file and adds it to the index.
func (f *File) loadRecord(name string) *CorruptError {
	path := filepath.Join(f.dir, name)
	fi, err := os.Lstat(path)
	if err != nil {
		return &CorruptError{Reason: "cannot stat", Err: err}
	}
	if !fi.Mode().IsRegular() {
		return &CorruptError{Reason: "not a regular file (" + fi.Mode().Type().String() + ")"}
	}
	if fi.Size() > maxRecordFile() {
		return &CorruptError{Reason: "larger than any record (" + strconv.FormatInt(fi.Size(), 10) + " bytes)"}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return &CorruptError{Reason: "unreadable", Err: err}
	}
	key, seq, _, reason := decodeRecord(b)
	if reason != "" {
		return &CorruptError{Reason: reason}
	}
	if escapeName(key)+recordSuffix != name {
		return &CorruptError{Key: key, Reason: "key " + quoteShort(key) + " does not match the file name"}
	}
	f.index[key] = seq
	if hashedName(name) {
		f.hashed[name] = key
	}
	f.seq = max(f.seq, seq)
	return nil
}

// forget drops key from the index.
func (f *File) forget(key string) {
	delete(f.index, key)
	if name := escapeName(key) + recordSuffix; hashedName(name) && f.hashed[name] == key {
		delete(f.hashed, name)
	}
}

// quarantine moves the entry name out of the store directory into its
// quarantine subdirectory, under a name not yet used there, and reports it.
// A failure to move it is reported, not returned: the entry is not in the
// index either way.
func (f *File) quarantine(name string, cerr *CorruptError) {
	cerr.Path = filepath.Join(f.dir, name)
	q := Quarantined{Name: name, Err: cerr}
	if key, ok := unescapeName(strings.TrimSuffix(name, recordSuffix)); ok && strings.HasSuffix(name, recordSuffix) {
		q.Key = key
		if cerr.Key == "" {
			cerr.Key = key
		}
	}
	target, err := f.moveToQuarantine(name)
	if err != nil {
		cerr.Err = errors.Join(cerr.Err, errwrap.Wrap("could not quarantine", err))
		f.logger.Error("store: corrupt record could not be quarantined", "path", cerr.Path, "reason", cerr.Reason, "err", err)
	} else {
		q.Path = target
		f.logger.Warn("store: quarantined corrupt record", "path", cerr.Path, "to", target, "reason", cerr.Reason, "err", cerr.Err)
	}
	f.quarantined = append(f.quarantined, q)
}

func (f *File) moveToQuarantine(name string) (string, error) {
	qdir := filepath.Join(f.dir, quarantineName)
	if err := mkdirDurable(f.dir, qdir); err != nil {
		return "", err
	}
	target := filepath.Join(qdir, name)
	for i := 1; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return "", err
		}
		target = filepath.Join(qdir, name+"."+strconv.Itoa(i))
	}
	if err := os.Rename(filepath.Join(f.dir, name), target); err != nil {
		return "", err
	}
	q, err := os.Open(qdir)
	if err != nil {
		return target, nil // moved; only the sync is lost
	}
	defer q.Close()
	_ = syncDir(q)
	return target, nil
}

func (f *File) recordPath(key string) string {
	return filepath.Join(f.dir, escapeName(key)+recordSuffix)
}

// Put stores data under key. It returns once the record file and the
// directory entry are fsynced: a record Put has returned for survives a crash
// or power loss, and a crash during Put leaves either the old value or the
// new one, never a mix.
func (f *File) Put(key string, data []byte) error {
	if err := checkPut(key, data); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return ErrClosed
	}
	seq, exists := f.index[key]
	path := f.recordPath(key)
	name := filepath.Base(path)
	if !exists {
		seq = f.seq + 1
		if have, taken := f.hashed[name]; taken && have != key {
			return &CollisionError{Path: path, Name: key, Have: have}
		}
	}
	f.buf = appendRecordHeader(f.buf[:0], key, seq, data)
	if err := writeFileSync(path+tempSuffix, f.buf, data); err != nil {
		return errwrap.Wrap("store: put "+quoteShort(key), err)
	}
	if err := os.Rename(path+tempSuffix, path); err != nil {
		_ = os.Remove(path + tempSuffix)
		return errwrap.Wrap("store: put "+quoteShort(key), err)
	}
	// The record is visible now, so the index follows even if the directory
	// sync fails; the error tells the caller it may not survive a crash.
	f.index[key] = seq
	if hashedName(name) {
		f.hashed[name] = key
	}
	f.seq = max(f.seq, seq)
	if err := syncDir(f.dirf); err != nil {
		return errwrap.Wrap("store: put "+quoteShort(key)+": sync "+f.dir, err)
	}
	return nil
}

// writeFileSync writes head and then body to a new file at path (replacing a
// leftover one), fsyncs and closes it. On failure it removes the file.
func writeFileSync(path string, head, body []byte) error {
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = w.Write(head)
	if err == nil {
		_, err = w.Write(body)
	}
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// Get reads the record of key. A record that fails its checks is quarantined
// and reported as a *CorruptError (ErrCorrupt); the key is then gone.
func (f *File) Get(key string) ([]byte, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return nil, ErrClosed
	}
	if _, ok := f.index[key]; !ok {
		return nil, ErrNotFound
	}
	path := f.recordPath(key)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// Removed behind our back: report it, and forget the key.
		f.forget(key)
		return nil, &CorruptError{Path: path, Key: key, Reason: "record file disappeared", Err: err}
	}
	if err != nil {
		return nil, errwrap.Wrap("store: get "+quoteShort(key), err)
	}
	k, _, data, reason := decodeRecord(b)
	if reason == "" && k != key {
		reason = "key " + quoteShort(k) + " does not match the file name"
	}
	if reason != "" {
		f.forget(key)
		cerr := &CorruptError{Key: key, Reason: reason}
		f.quarantine(filepath.Base(path), cerr)
		_ = syncDir(f.dirf)
		return nil, cerr
	}
	return data[:len(data):len(data)], nil
}

// Remove deletes the record of key, durably. Removing an absent key is not
// an error.
func (f *File) Remove(key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return ErrClosed
	}
	if _, ok := f.index[key]; !ok {
		return nil
	}
	if err := f.remove(key); err != nil {
		return err
	}
	if err := syncDir(f.dirf); err != nil {
		return errwrap.Wrap("store: remove "+quoteShort(key)+": sync "+f.dir, err)
	}
	return nil
}

func (f *File) remove(key string) error {
	if err := os.Remove(f.recordPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errwrap.Wrap("store: remove "+quoteShort(key), err)
	}
	f.forget(key)
	return nil
}

// Keys returns the keys in insertion order.
func (f *File) Keys() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return nil, ErrClosed
	}
	keys := make([]string, 0, len(f.index))
	for k := range f.index {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		sa, sb := f.index[a], f.index[b]
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return strings.Compare(a, b)
	})
	return keys, nil
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

// Clear removes every record, durably. The quarantine subdirectory is kept.
func (f *File) Clear() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return ErrClosed
	}
	var errs []error
	for key := range f.index {
		if err := f.remove(key); err != nil {
			errs = append(errs, err)
		}
	}
	if err := syncDir(f.dirf); err != nil {
		errs = append(errs, errwrap.Wrap("store: clear: sync "+f.dir, err))
	}
	return errors.Join(errs...)
}

// Close releases the lock. The records stay on disk for the next Open.
// Closing a closed store is not an error.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return nil
	}
	f.open = false
	derr := f.dirf.Close()
	lerr := f.lock.release()
	f.dirf, f.lock, f.index, f.hashed = nil, nil, nil, nil
	if derr != nil {
		derr = errwrap.Wrap("store: close", derr)
	}
	return errors.Join(derr, lerr)
}
