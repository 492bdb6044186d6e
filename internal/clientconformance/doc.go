// Package clientconformance holds tests that hold Linnet's public client to
// client-binding statements of MQTT 3.1.1 that no other package's tests
// check on their own. It has no code of its own: the tests drive
// client.Client against the scripted fake broker (internal/fakebroker) and
// look at the exact packets on the wire.
//
// # Usage
//
//	go test ./internal/clientconformance
//
// # Concurrency
//
// Each test owns its client and fake broker.
//
// # Errors
//
// Not applicable: there is no exported API.
//
// # Limitations
//
// Only what a test names in its doc comment is claimed for CONFORMANCE.md.
package clientconformance
