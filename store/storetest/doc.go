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
// awkward but valid keys kept apart; a 1 MiB value; and concurrent use.
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
