package store

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/transport"
)

// FileOptions configure a File store. The zero value is ready to use. The
// options are copied by NewFile.
type FileOptions struct {
	// Dir is the base directory. Each client id and server URI pair gets its
	// own directory Dir/<client id>/<server URI>, both escaped, the URI
	// without its password (see the package documentation). "" means
	// DefaultDir(). Missing directories are created with permissions 0700.
	Dir string
	// Logger receives a warning for every record put into quarantine and a
	// note for every leftover temporary file removed and every migration.
	// nil discards them.
	Logger *Logger
	// NoSync turns syncing off: Sync returns at once and nothing the store
	// writes after Open is fsynced, Close included. The store then gives the
	// process-crash level only: a change whose Put or Remove returned
	// survives the death of the process (SIGKILL, a panic, os.Exit), but not
	// a power loss or a crash of the operating system. The zero value,
	// false, is syncing on: the power-loss level for every change that a
	// Sync covered.
	NoSync bool
}

// Quarantined describes damage the store found, moved aside and no longer
// counts as records: a bad stretch of a log file, or a record file of the
// earlier layout that failed its checks during migration.
type Quarantined struct {
	// Name is the name of the file in the store directory that held the
	// damage (a log file, or a record file of the earlier layout).
	Name string
	// Offset is where the damage starts in the log file Name; 0 for a
	// record file.
	Offset int64
	// Key is the key the damaged record names when that can be read, else
	// "". It is only a hint: the damage may be in the key itself.
	Key string
	// Path is where a copy of the damaged bytes (or the record file itself)
	// is now, in the quarantine subdirectory, or "" if it could not be
	// saved (Err then says why as well).
	Path string
	// Err says what was wrong. It matches ErrCorrupt.
	Err *CorruptError
}

// File is a Persistence that keeps the records of one client in an
// append-only log in its own directory, and the counterpart of Paho's
// MqttDefaultFilePersistence. Put and Remove append one record with
// write(2) and return without waiting for the disk: the change survives the
// death of the process once they return (the process-crash level). Sync
// (see Syncer) makes every change before it durable against a power loss
// too, sharing one fsync among all callers waiting at the same time (group
// commit). See the package documentation for the layout, the record format,
// the durability levels and recovery.
//
// File is safe for concurrent use. Put, Get, Remove and the other methods of
// Persistence are serialised; Sync waits for the disk without holding up
// any of them.
type File struct {
	base   string // FileOptions.Dir
	logger *Logger
	noSync bool

	mu          sync.Mutex
	open        bool
	dir         string   // the store directory of the current or last Open
	dirf        *os.File // dir, kept open to fsync it
	lock        *fileLock
	index       map[string]entry
	seq         uint64 // highest sequence number in use
	quarantined []Quarantined
	buf         []byte // record scratch

	gen         uint64     // generation of the active log
	log         *os.File   // the active log
	size        int64      // length of the active log: where the next record goes
	live        int64      // bytes of the active log's records that are live
	retired     []*os.File // older logs, kept until the active one is durable
	nextCompact int64      // no compaction is tried before size reaches this
	written     uint64     // changes made since NewFile: what a Sync must cover
	dirDirty    bool       // a log file was created since the directory was last synced
	werr        error      // a failed append that could not be undone

	smu     sync.Mutex // guards the fields below; never held with mu
	scond   *sync.Cond // signalled when a sync round ends
	syncing bool       // a sync round (or Close) is under way
	synced  uint64     // every change up to this count is durable
	syncErr error      // a failed fsync: every later Sync fails (see Sync)

	fsyncs atomic.Int64 // fsyncs done, for tests and benchmarks
}

// entry locates the live record of a key in the active log.
type entry struct {
	seq  uint64
	off  int64
	size int64
}

var (
	_ Persistence = (*File)(nil)
	_ Syncer      = (*File)(nil)
)

// Names inside a store directory. Log files are named logName(gen); record
// files of the earlier layout end in recordSuffix and temporary files in
// tempSuffix.
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
	f := &File{base: opts.Dir, logger: logger, noSync: opts.NoSync}
	f.scond = sync.NewCond(&f.smu)
	return f
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

// Quarantined returns the damage that the last Open, or a later Get, found
// and moved to the quarantine subdirectory.
func (f *File) Quarantined() []Quarantined {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.quarantined)
}

// Open locks and loads the store directory of clientID and serverURI,
// creating it if needed. The directory is named after serverURI with any
// password removed (transport.Redact); a directory an earlier version named
// after the URI with its password is renamed (see MigrationError). A store
// directory of the earlier one-file-per-record layout is migrated into a
// log. Damage is quarantined (see Quarantined), leftover temporary files are
// removed. A store already held by another store, in this process or
// another, gives a *LockedError.
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
	if err := mkdirDurable(base, clientDir); err != nil {
		return err
	}
	if err := checkDirName(clientDir, clientID); err != nil {
		return err
	}
	uri := transport.Redact(serverURI)
	dir := filepath.Join(clientDir, escapeName(uri))
	if uri != serverURI {
		if err := f.migrateUnredacted(clientDir, serverURI, uri, dir); err != nil {
			return err
		}
	}
	if err := mkdirDurable(clientDir, dir); err != nil {
		return err
	}
	if err := checkDirName(dir, uri); err != nil {
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
	f.index = make(map[string]entry)
	f.seq, f.quarantined, f.werr = 0, nil, nil
	f.log, f.retired, f.size, f.live, f.gen, f.nextCompact = nil, nil, 0, 0, 0, 0
	if err := f.load(); err != nil {
		if f.log != nil {
			_ = f.log.Close()
		}
		_ = dirf.Close()
		_ = lock.release()
		f.dirf, f.lock, f.index, f.log = nil, nil, nil, nil
		return err
	}
	f.smu.Lock()
	f.synced, f.syncErr = f.written, nil
	f.smu.Unlock()
	f.open = true
	return nil
}

// Close makes every change durable (unless syncing is off), closes the log
// and releases the lock. The records stay on disk for the next Open.
// Closing a closed store is not an error. An error means some changes may
// not have reached stable storage; the lock is released all the same.
func (f *File) Close() error {
	f.beginExclusiveSync()
	var synced bool
	var serr error
	defer func() { f.endExclusiveSync(synced, serr) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return nil
	}
	f.open = false
	var errs []error
	if sticky := f.stickySyncErr(); sticky != nil {
		errs = append(errs, sticky)
	} else if !f.noSync {
		serr = f.syncLocked()
		synced = serr == nil
		if serr != nil {
			errs = append(errs, serr)
		}
	}
	for _, r := range f.retired {
		_ = r.Close()
	}
	if err := f.log.Close(); err != nil {
		errs = append(errs, errwrap.Wrap("store: close", err))
	}
	if err := f.dirf.Close(); err != nil {
		errs = append(errs, errwrap.Wrap("store: close", err))
	}
	errs = append(errs, f.lock.release())
	f.dirf, f.lock, f.index, f.log, f.retired = nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

// syncLocked makes everything durable while f.mu is held and no sync round
// runs: used by Close.
func (f *File) syncLocked() error {
	for _, r := range f.retired {
		if err := f.fsync(r); err != nil {
			return errwrap.Wrap("store: sync", err)
		}
	}
	if err := f.fsync(f.log); err != nil {
		return errwrap.Wrap("store: sync", err)
	}
	if f.dirDirty {
		if err := f.fsyncDir(); err != nil {
			return errwrap.Wrap("store: sync "+f.dir, err)
		}
		f.dirDirty = false
	}
	f.dropRetired(len(f.retired))
	return nil
}
