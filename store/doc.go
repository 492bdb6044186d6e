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
//	err := s.Put("s-12", encodedPublish) // survives the death of the process
//	err = s.Sync()                       // and now a power loss too
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
// # Durability levels
//
// The file store gives two levels, and says which each call reaches:
//
//   - Process-crash level: once Put, Remove or Clear returns, the change has
//     been handed to the operating system with write(2). It survives the
//     death of the process (SIGKILL, a panic, os.Exit) but not a power loss
//     or a crash of the operating system. Put and Remove never fsync.
//   - Power-loss level: once Sync returns, every change whose call returned
//     before Sync was called is on stable storage. Sync is the method of the
//     optional Syncer interface; callers that arrive while an fsync runs
//     share the next one (group commit), so a burst of publishes and
//     acknowledgements costs one fsync, not one each. Close syncs too.
//
// With FileOptions.NoSync, Sync returns at once and nothing written after
// Open is fsynced: the process-crash level only. With syncing on, a power
// loss before a Sync may lose the changes made since the last one: a new
// record may be missing, a record put again may be back at its earlier
// value, and a removed record may be back. session/ copes with a record that
// comes back: a message is then re-sent with DUP set, and an inbound QoS 2
// message is not delivered twice. Memory gives neither level: it keeps
// nothing across a crash, and does not implement Syncer.
//
// # File store layout
//
// Under the base directory (FileOptions.Dir, or DefaultDir:
// os.UserCacheDir()/linnet/store, never the working directory) each client
// id and server URI pair has its own directory, named after the URI with any
// password removed (transport.Redact), so no password reaches a file name:
//
//	<base>/<escaped client id>/<escaped server URI, redacted>/
//	    lock                  the lock file, holding the PID of the holder
//	    NAME                  the server URI, only when its escaped name is hashed
//	    0000000000000003.log  the log: records appended one after the other
//	    0000000000000002.log  an older log, only until the newer one is synced
//	    quarantine/           copies of damaged bytes, kept for inspection
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
// FNV is not a cryptographic hash, so a hashed name is never trusted alone: a
// client or store directory with a hashed name holds its original name in a
// file called NAME, written on the first Open and compared on every later
// one. A second client id or server URI that lands on a name already taken is
// refused with a *CollisionError (ErrNameCollision); the two never share
// records. Keys are kept whole inside the log, never as file names.
//
// Directories are created with permissions 0700 and files with 0600. A client
// or store directory that already exists as a file or a symbolic link is
// refused.
//
// # Log format
//
// A log is a sequence of records and nothing else (integers big-endian):
//
//	offset  size  field
//	0       4     magic "LNTL"
//	4       1     version, 1
//	5       1     kind: 1 put, 2 remove
//	6       2     key length K
//	8       8     sequence number: the key's insertion order (remove: 0)
//	16      4     data length D (remove: 0)
//	20      4     CRC-32C (Castagnoli) of bytes 0..19, the key and the data
//	24      K     key
//	24+K    D     data
//
// Open replays every log in generation order (the number in its name): a put
// record sets its key, keeping the sequence number it carries, a remove record
// deletes it; the keys are ordered by sequence number, and new keys get the
// highest plus one. The store keeps only keys and offsets in memory; Get reads
// the record from the log and checks it again.
//
// # Compaction
//
// When the log is at least 1 MiB and less than a quarter of it is live, Put
// or Remove copies the live records, in order, into a log of the next
// generation and appends there from then on. With syncing on, the old log is
// removed only after the next Sync has made the new one and its directory
// entry durable. Since Open replays every log in order and a new log begins
// with a copy of what the old one held, a crash at any step, or a power loss
// that cuts the new log short, reads back the same records.
//
// # Recovery
//
// Open checks every record. A stretch of a log that holds no good record (a
// write torn by a crash at the end, a flipped bit, junk) is copied into
// quarantine/ as <log name>@<offset>, logged as a warning on
// FileOptions.Logger and listed by Quarantined; reading goes on at the next
// good record after it, found by its magic and checksum, so damage costs only
// the records it touches. The records are then rewritten into a new log, so
// the damage is not found again. A log name taken by something other than a
// regular file, and a leftover temporary entry that is not a regular file,
// are moved into quarantine/ whole; leftover temporary files are removed. A
// bad record never fails Open; Open fails only when the directory or a log
// cannot be created, locked, listed, read or synced. Get finds damage done
// after Open the same way and returns a *CorruptError; the key is then gone.
// Files the store does not know are left alone.
//
// # Migration from earlier versions
//
// Open migrates what earlier versions wrote:
//
//   - A store directory of the one-file-per-record layout (<escaped key>.rec
//     files) is read with the checks that layout had (a bad record file is
//     quarantined whole, as before), its records go into a new log in their
//     order, and the record files are removed once the log is durable. A
//     crash in between leaves record files beside a log that holds them; the
//     next Open finishes the job.
//   - A store directory named after the server URI with its password is
//     renamed to the name without it. When both exist, or the old one is
//     locked, Open is refused with a *MigrationError (ErrMigration) that does
//     not show the password.
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
// Because every Put and Remove has reached the operating system when it
// returns, a store that is closed with Close after the last write holds on
// disk exactly what the death of the process at that moment would leave
// (apart from the lock, which the operating system would release). So a test
// simulates "the process dies after persisting and before sending" by calling
// Close without any further write and opening a new File over the same
// directory. Real crashes are tested in this package by child processes
// killed with SIGKILL while they write.
//
// # Concurrency
//
// Memory and File are safe for concurrent use by multiple goroutines. File
// serialises Put, Get, Remove and the other methods of Persistence; each is a
// system call or two. Sync waits for the disk without holding them up: the
// loop of a client goes on reading, writing and acknowledging while an fsync
// runs, and a caller of Sync waits only for the fsync that covers its own
// changes.
//
// # Errors
//
// Sentinels for errors.Is: ErrNotFound, ErrClosed (not open), ErrAlreadyOpen,
// ErrLocked, ErrCorrupt, ErrInvalidKey, ErrTooLarge, ErrNoBaseDir,
// ErrNameCollision and ErrMigration. Typed errors for errors.As, each
// matching its sentinel:
// *KeyError (a key that is empty, longer than MaxKeyLen, contains '/', '\\'
// or NUL, or is only dots), *SizeError (a value over MaxDataLen),
// *LockedError, *CollisionError, *MigrationError and *CorruptError (which
// also unwraps to the I/O error behind it, if any). A failed fsync is
// returned by Sync and by every later Sync and by Close until the store is
// opened again. I/O failures are wrapped once and unwrap to
// the *fs.PathError of the os package. Nothing panics on bad input or bad
// files.
//
// # Limitations
//
//   - The power-loss level rests on fsync (fdatasync on Linux). On macOS
//     fsync does not flush the drive's own cache (F_FULLFSYNC is not used);
//     on Windows directories cannot be fsynced, so a new log's directory
//     entry just before a power loss may be lost (the older log is then
//     still there). File systems that cannot fsync a directory (EINVAL) are
//     tolerated.
//   - With syncing on and no Sync (and no Close), compaction waits: the old
//     log is kept until a Sync has made the new one durable, so a store that
//     is never synced grows until the next Sync or Close.
//   - Compaction copies the live records while Put and Remove wait; its cost
//     grows with the live records, not with the log.
//   - A damaged record of a log that held a newer record of the same key
//     behind it costs nothing; a damaged remove record brings its key back
//     with its last value; a damaged put record is gone (its key goes back
//     to an older value, if the log holds one before it).
//   - A file system without flock (some network and FUSE file systems on
//     Linux) makes Open fail with the flock error.
//   - Where the PID lock file is used (not Linux, macOS, the BSDs above or
//     Windows), two processes that find the same stale lock at once can race,
//     and a lock file without a PID must be removed by hand.
//   - Open reads every log in full to check it, so its cost grows with the
//     size of the logs (with regular Syncs, at most about four times the
//     live records, or 1 MiB).
//   - Names longer than 120 bytes once escaped were hashed with SHA-256 before
//     FNV-128a; a store directory written then under such a name is not found
//     again (short names, the usual case, are unchanged).
//   - Quarantined files are kept until removed by hand; Clear does not touch
//     them. Empty store directories are not removed.
//   - Memory does not persist anything across Close.
package store
