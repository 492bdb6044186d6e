// Package storetest is a conformance suite for store.Persistence
// implementations, in the manner of golang.org/x/net/nettest.TestConn: every
// store in this module passes it, and so should a user's own store.
//
// # Usage
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, storetest.Config{
//			New: func(t *testing.T, dir string) store.Persistence {
//				return newMyStore(dir)
//			},
//			Persistent: true, // records survive Close and a new store over dir
//			Crash: func(s store.Persistence) { s.(*myStore).abandon() }, // optional
//		})
//	}
//
// Run calls t.Run once per check, each with its own directory from
// t.TempDir: put, get and remove; get of a missing key; overwrites and empty
// values; insertion order, including a re-put (keeps its place), remove and
// put again (goes last) and packet-id wrap-around; Clear and Contains; reopen
// (for persistent stores the keys, their order and values are back, for
// others the store starts empty); isolation of client ids and server URIs;
// every method before Open and after Close (ErrClosed); Close idempotent; a
// second Open (ErrAlreadyOpen); hostile keys rejected with a *store.KeyError;
// awkward but valid keys kept apart; a 1 MiB value; concurrent use; for a
// store that implements store.Syncer, Sync before Open and after Close
// (ErrClosed), after Put and Remove, and from many goroutines at once; the
// insertion order across several Close and Open; and, when Config.Crash is
// set, a crash: every Put that returned is back with its value and place,
// and a removed record may come back only with its last value and in its
// old place.
//
// # Concurrency
//
// The concurrency check starts goroutines and waits for them; run the suite
// with -race. Checks do not run in parallel with each other.
//
// # Errors
//
// Failures are reported through the *testing.T with t.Errorf and t.Fatalf;
// the suite checks errors with errors.Is and errors.As against the sentinels
// and types of package store.
//
// # Limitations
//
// The suite checks behaviour visible through the interface. Crash safety,
// recovery of damaged files and locking are specific to the file store and
// are tested in package store itself.
package storetest
