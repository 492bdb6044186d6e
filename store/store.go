package store

import (
	"errors"
	"strconv"
	"strings"
)

// Persistence stores the encoded packets of one client's in-flight state,
// keyed by short strings such as "s-12", "sc-12", "r-7" and "sb-1042".
//
// It mirrors Paho Java's MqttClientPersistence. Implementations in this
// package are safe for concurrent use.
type Persistence interface {
	// Open prepares the store for one client id and server URI. Called before any other method.
	Open(clientID, serverURI string) error
	Put(key string, data []byte) error // the store keeps its own copy of data
	Get(key string) ([]byte, error)    // ErrNotFound (errors.Is) when absent; returns a copy the caller owns
	Remove(key string) error           // removing an absent key is not an error
	Keys() ([]string, error)           // in insertion order: the order of each key's first Put since it was last absent (a Put over an existing key keeps its place); this order survives Close/Open
	Contains(key string) (bool, error)
	Clear() error // removes every record of this client/server
	Close() error // idempotent; releases the lock
}

// Syncer is implemented by stores whose changes reach stable storage at a
// sync, not at Put. File implements it; Memory, which keeps nothing across
// a crash, does not.
//
// Put and Remove of such a store hand the change to the operating system
// before they return (write(2) done), so it survives the death of the
// process (the process-crash level); Sync extends that to a power loss or a
// crash of the operating system (the power-loss level).
type Syncer interface {
	// Sync returns once every Put and Remove that returned before Sync was
	// called is on stable storage (or the store's sync is off). Concurrent
	// callers share fsyncs: a caller that arrives while a sync runs waits
	// for the next one, which covers all of them (group commit).
	Sync() error
}

// Limits on keys and values. They are the same for every store in this
// package, so a key or value the memory store accepts is accepted by the file
// store too.
const (
	// MaxKeyLen is the longest key, in bytes, that a store accepts.
	MaxKeyLen = 64
	// MaxDataLen is the largest value, in bytes, that a store accepts: the
	// largest MQTT 3.1.1 control packet (a 1-byte fixed header, a 4-byte
	// remaining length and 268,435,455 bytes of body).
	MaxDataLen = 1 + 4 + 268_435_455
)

// maxDataLen is MaxDataLen, a variable so that tests can lower it.
var maxDataLen = MaxDataLen

// Sentinel errors. Every error a store returns for one of these conditions
// matches the sentinel with errors.Is; most also carry a typed error with the
// details (see KeyError, SizeError, LockedError and CorruptError).
var (
	// ErrNotFound: Get of a key that is not in the store.
	ErrNotFound = errors.New("store: key not found")
	// ErrClosed: a method other than Open or Close was called on a store
	// that is not open (never opened, or closed).
	ErrClosed = errors.New("store: not open")
	// ErrAlreadyOpen: Open was called on a store that is already open.
	ErrAlreadyOpen = errors.New("store: already open")
	// ErrLocked: another store (in this process or another one) holds the
	// directory of this client id and server URI. See LockedError.
	ErrLocked = errors.New("store: locked by another store")
	// ErrCorrupt: a record failed its checks and was quarantined. See
	// CorruptError.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrInvalidKey: a key was rejected. See KeyError.
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrTooLarge: a value is larger than MaxDataLen. See SizeError.
	ErrTooLarge = errors.New("store: value too large")
	// ErrNoBaseDir: FileOptions.Dir is empty and no default base directory
	// could be determined.
	ErrNoBaseDir = errors.New("store: no base directory")
	// ErrNameCollision: two client ids, server URIs or keys too long to be
	// escaped in full share one hashed file name (see the package
	// documentation). See CollisionError.
	ErrNameCollision = errors.New("store: hashed name collision")
	// ErrMigration: Open could not bring a store directory written by an
	// earlier version into the current shape. See MigrationError.
	ErrMigration = errors.New("store: cannot migrate")
)

// MigrationError reports that Open found a store directory an earlier
// version named after the server URI with its password, and could not
// rename it to the name without it: most often because both exist. It
// matches ErrMigration, and ErrLocked when another process holds the old
// directory. Neither its text nor its fields name the old directory, whose
// name holds the password; it is in the parent of Dir.
type MigrationError struct {
	Dir    string // the store directory Open wanted, named after the redacted URI
	Reason string // what went wrong
	Err    error  // the cause without the old directory's path (an errno, ErrLocked), or nil
}

func (e *MigrationError) Error() string {
	s := "store: cannot migrate into " + e.Dir + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrMigration and, if set, Err.
func (e *MigrationError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrMigration, e.Err}
	}
	return []error{ErrMigration}
}

// KeyError reports a key that a store rejects. It matches ErrInvalidKey.
type KeyError struct {
	Key    string // the rejected key (Error shows at most its first 64 bytes)
	Reason string // why, e.g. "empty", "contains a path separator"
}

func (e *KeyError) Error() string {
	return "store: invalid key " + quoteShort(e.Key) + ": " + e.Reason
}

// Unwrap returns ErrInvalidKey.
func (e *KeyError) Unwrap() error { return ErrInvalidKey }

// SizeError reports a value larger than MaxDataLen. It matches ErrTooLarge.
type SizeError struct {
	Key  string
	Size int // length of the rejected value
	Max  int // the limit
}

func (e *SizeError) Error() string {
	return "store: value of key " + quoteShort(e.Key) + " is " + strconv.Itoa(e.Size) +
		" bytes, more than the limit of " + strconv.Itoa(e.Max)
}

// Unwrap returns ErrTooLarge.
func (e *SizeError) Unwrap() error { return ErrTooLarge }

// LockedError reports that the store directory is held by another store. It
// matches ErrLocked.
type LockedError struct {
	// Path is the lock file of the holder.
	Path string
	// PID is the process id of the holder, or 0 when it is not known.
	PID int
	// InProcess is true when the holder is another store in this process.
	InProcess bool
}

func (e *LockedError) Error() string {
	var b strings.Builder
	b.WriteString("store: locked: ")
	b.WriteString(e.Path)
	switch {
	case e.InProcess:
		b.WriteString(" is held by another store in this process")
	case e.PID > 0:
		b.WriteString(" is held by process ")
		b.WriteString(strconv.Itoa(e.PID))
	default:
		b.WriteString(" is held by another process (pid unknown)")
	}
	return b.String()
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// CorruptError describes a record that failed its checks. It matches
// ErrCorrupt, and also the underlying I/O error when reading failed.
type CorruptError struct {
	// Path is where the record was found.
	Path string
	// Key is the key the record belongs to when it is known (from the file
	// name), or "".
	Key string
	// Reason says which check failed, e.g. "checksum mismatch".
	Reason string
	// Err is the I/O error that made the record unreadable, or nil.
	Err error
}

func (e *CorruptError) Error() string {
	s := "store: corrupt record " + e.Path + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrCorrupt and, if set, Err.
func (e *CorruptError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCorrupt, e.Err}
	}
	return []error{ErrCorrupt}
}

// CollisionError reports that a name too long to be escaped in full hashes to
// the same file or directory name as another name already there. It matches
// ErrNameCollision. The store refuses rather than mixing the two.
type CollisionError struct {
	Path string // the shared file or directory
	Name string // the client id, server URI or key that was refused
	Have string // the name that already owns Path
}

func (e *CollisionError) Error() string {
	return "store: " + quoteShort(e.Name) + " and " + quoteShort(e.Have) + " share the hashed name " + e.Path
}

// Unwrap returns ErrNameCollision.
func (e *CollisionError) Unwrap() error { return ErrNameCollision }

// ValidKey reports whether a store accepts key, as a *KeyError when it does
// not. A key must be 1 to MaxKeyLen bytes long, must not contain '/', '\\' or
// NUL, and must not consist only of dots.
func ValidKey(key string) error {
	switch {
	case key == "":
		return &KeyError{Key: key, Reason: "empty"}
	case len(key) > MaxKeyLen:
		return &KeyError{Key: key, Reason: "longer than " + strconv.Itoa(MaxKeyLen) + " bytes"}
	case strings.ContainsAny(key, `/\`):
		return &KeyError{Key: key, Reason: "contains a path separator"}
	case strings.IndexByte(key, 0) >= 0:
		return &KeyError{Key: key, Reason: "contains a NUL byte"}
	case strings.Trim(key, ".") == "":
		return &KeyError{Key: key, Reason: "consists only of dots"}
	}
	return nil
}

func checkPut(key string, data []byte) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if len(data) > maxDataLen {
		return &SizeError{Key: key, Size: len(data), Max: maxDataLen}
	}
	return nil
}

// quoteShort quotes s for an error message, cut to 64 bytes so a hostile
// key cannot blow up a log line.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
