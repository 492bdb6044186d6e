// Package store persists the in-flight state of an MQTT client: the encoded
// packets that session/ must not lose across a crash or a restart. It is the
// counterpart of Paho Java's MqttClientPersistence, with a memory store
// (MemoryPersistence) and a crash-safe file store (MqttDefaultFilePersistence).
//
// # Usage
//
// A store is made, opened for one client id and server URI, used and closed:
//
//	s := store.NewFile(store.FileOptions{Dir: "/var/lib/mydevice/mqtt"})
//	if err := s.Open("device-42", "ssl://broker.example:8883"); err != nil {
//		return err // a *LockedError if another process has it open
//	}
//	defer s.Close()
//	err := s.Put("s-12", encodedPublish) // durable when it returns
//
// Keys follow Paho: "s-<id>" for an outbound PUBLISH, "sc-<id>" for an
// outbound PUBREL, "r-<id>" for an inbound QoS 2 PUBLISH and "sb-<seq>" for
// the offline buffer, though a store accepts any key that ValidKey accepts.
// Keys returns keys in insertion order: the order in which each key was first
// put since it was last absent; a Put over an existing key keeps its place. The
// file store keeps that order across Close and Open, so session/ can re-send
// in the original order after packet ids wrap around.
//
// NewMemory keeps records in memory; Close discards them, as Paho's
// MemoryPersistence does. Its extra method AppendValue reads a value without
// allocating, and its Put reuses the buffers of removed records, so a steady
// stream of Put and Remove allocates nothing.
//
// # File store layout
//
// Under the base directory (FileOptions.Dir, or DefaultDir:
// os.UserCacheDir()/linnet/store, never the working directory) each client
// id and server URI pair has its own directory:
//
//	<base>/<escaped client id>/<escaped server URI>/
//	    lock          the lock file, holding the PID of the holder
//	    NAME          the server URI, only when its escaped name is hashed
//	    s-12.rec      one file per record: the escaped key and ".rec"
//	    s-12.rec.tmp  a Put in progress (removed by the next Open)
//	    quarantine/   records that failed their checks, kept for inspection
//
// Escaping maps any string to a single path component, injectively and the
// same on every platform: a-z, 0-9, '.', '_' and '-' stay, every other byte
// (upper-case letters too, for case-insensitive file systems) becomes %XX; the
// empty string is "%"; names of only dots, trailing dots and Windows device
// names (con, nul, com1, ...) are escaped; names longer than 120 bytes keep a
// readable prefix and end in '~' and 32 hex digits of their FNV-128a hash. So
// "../../etc", a NUL byte or an absolute path cannot leave the base directory,
// and "tcp://127.0.0.1:1883" becomes "tcp%3A%2F%2F127.0.0.1%3A1883".
//
// FNV is not a cryptographic hash (it keeps crypto/sha256 out of programs
// that import this package), so a hashed name is never trusted alone: a
// client or store directory with a hashed name holds its original name in a
// file called NAME, written on the first Open and compared on every later
// one, and a record holds its key. A second client id, server URI or key that
// lands on a name already taken is refused with a *CollisionError
// (ErrNameCollision); the two never share records.
//
// Directories are created with permissions 0700 and files with 0600. A client
// or store directory that already exists as a file or a symbolic link is
// refused.
//
// # Record format
//
// Each record file (version 1; integers big-endian) is:
//
//	offset  size  field
//	0       4     magic "LNTR"
//	4       1     version, 1
//	5       1     flags, 0
//	6       2     key length K
//	8       8     sequence number: the insertion order, kept by a re-put
//	16      4     data length D
//	20      4     CRC-32C (Castagnoli) of bytes 0..19, the key and the data
//	24      K     key
//	24+K    D     data
//
// The file must be exactly 24+K+D bytes and its key must match its name.
// Open reads every record, checks it and orders the keys by sequence number;
// new keys get the highest sequence number plus one.
//
// # Durability
//
// Put writes the record to <name>.tmp, fsyncs it, renames it over <name> and
// fsyncs the directory. It returns only after all of that: a record that Put
// returned for survives a crash or a power loss, and a crash during Put
// leaves the old value or the new one, never a mix. Remove and Clear fsync the
// directory before they return, so a removed record does not come back. A
// returned error means the change may or may not have reached the disk.
//
// # Recovery
//
// Open removes leftover temporary files (a Put that never completed; the old
// record, if any, is intact) and moves every record that fails a check (torn,
// wrong length, bad checksum, unknown version, key not matching its name,
// unreadable, not a regular file) into quarantine/, under a name that does not
// overwrite an earlier one. Each is logged as a warning on FileOptions.Logger
// and listed by Quarantined; its key is simply absent. A bad record never
// fails Open and never costs a good record; Open fails only when the
// directory itself cannot be created, locked, listed or synced. Get finds
// damage done after Open the same way and returns a *CorruptError. Files the
// store does not know are left alone.
//
// # Locking
//
// Open takes the lock file of the store directory, so two stores, in one
// process or two, never share it; the second gets a *LockedError naming the
// lock file and, when known, the holder's PID. On Linux, macOS, FreeBSD,
// NetBSD and DragonFly the lock is flock(2), and on Windows a file opened
// without write sharing: the operating system releases both when the holder
// exits, so a crashed holder never leaves a stale lock. Elsewhere the lock
// file is created exclusively and holds the PID; a lock whose PID is not
// running, or is this process's own (left from before a reboot), is stale and
// taken over. Close releases the lock; the directory and the records stay, and
// so does the lock file, except where it is the PID lock file, which Close
// removes.
//
// # Simulating a crash in tests
//
// Because every Put and Remove is durable when it returns, a store that is
// closed with Close after the last write holds on disk exactly what a crash at
// that moment would leave (apart from the lock, which the operating system
// would release). So a test simulates "the process dies after persisting and
// before sending" by calling Close without any further write and opening a new
// File over the same directory. A real crash is tested in this package by a
// child process that exits without Close.
//
// # Concurrency
//
// Memory and File are safe for concurrent use by multiple goroutines. File
// serialises its operations; each Put and Remove waits for the disk.
//
// # Errors
//
// Sentinels for errors.Is: ErrNotFound, ErrClosed (not open), ErrAlreadyOpen,
// ErrLocked, ErrCorrupt, ErrInvalidKey, ErrTooLarge, ErrNoBaseDir and
// ErrNameCollision. Typed errors for errors.As, each matching its sentinel:
// *KeyError (a key that is empty, longer than MaxKeyLen, contains '/', '\\'
// or NUL, or is only dots), *SizeError (a value over MaxDataLen),
// *LockedError, *CollisionError and *CorruptError (which also unwraps to the
// I/O error behind it, if any). I/O failures are wrapped once and unwrap to
// the *fs.PathError of the os package. Nothing panics on bad input or bad
// files.
//
// # Limitations
//
//   - Durability rests on fsync. On macOS fsync does not flush the drive's own
//     cache (F_FULLFSYNC is not used); on Windows directories cannot be
//     fsynced, so a rename or removal just before a power loss may be lost.
//     File systems that cannot fsync a directory (EINVAL) are tolerated.
//   - A file system without flock (some network and FUSE file systems on
//     Linux) makes Open fail with the flock error.
//   - Where the PID lock file is used (not Linux, macOS, the BSDs above or
//     Windows), two processes that find the same stale lock at once can race,
//     and a lock file without a PID must be removed by hand.
//   - Open reads every record in full to check it, so its cost grows with the
//     total size of the store; Get reads the record again.
//   - Names longer than 120 bytes once escaped were hashed with SHA-256 before
//     FNV-128a; a store directory written then under such a name is not found
//     again (short names, the usual case, are unchanged).
//   - Quarantined files are kept until removed by hand; Clear does not touch
//     them. Empty store directories are not removed.
//   - Memory does not persist anything across Close.
package store
