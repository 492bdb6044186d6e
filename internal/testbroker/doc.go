// Package testbroker starts real MQTT brokers for tests: mochi-mqtt in
// process, the mosquitto binary when it is installed, and aedes (Node.js)
// when node and npm are.
//
// # Usage
//
// An embedded mochi-mqtt broker with every kind of listener, all on
// 127.0.0.1 with ports chosen by the kernel, stopped when the test ends:
//
//	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
//	conn, err := transport.Dial(ctx, b.URI("tcp"), ...)  // also "ssl", "ws", "wss", "unix"
//	b.Certs                                             // the CA and certificates its TLS listeners use
//
// Its TCP, TLS, WebSocket (ws and wss, path "/mqtt", any path accepted) and
// unix socket listeners accept any client (an allow-all auth hook). Set
// MochiConfig.ClientAuth to tls.RequireAndVerifyClientCert for mutual TLS.
//
// A mosquitto process with its own configuration file in t.TempDir():
//
//	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{TLS: true, Persistence: true})
//	m.URI()     // tcp://127.0.0.1:<port>
//	m.TLSURI()  // ssl://127.0.0.1:<tls port>
//	m.Restart() // stop (saving the persistence file) and start again on the same ports
//	m.Stop()    // also done by t.Cleanup
//
// StartMosquitto skips the test when mosquitto is not installed (it looks on
// PATH, then in /usr/sbin), unless the environment sets
// LINNET_REQUIRE_MOSQUITTO=1, in which case the test fails.
//
// An aedes process, from the npm package pinned in testdata/aedes
// (package.json and package-lock.json; broker.mjs is the script it runs):
//
//	a := testbroker.StartAedes(t, testbroker.AedesConfig{RefusedFilter: "refused/#"})
//	a.URI()     // tcp://127.0.0.1:<port>
//	a.Version   // "1.2.0"
//	a.Stop()    // also done by t.Cleanup
//
// The first StartAedes or RequireAedes of a test binary runs `npm ci` in
// testdata/aedes when its node_modules does not hold the pinned version
// (into a directory of its own, renamed into place, so parallel test
// binaries do not collide); later runs reuse node_modules. They skip the
// test when node (20 or later) or npm is missing or the install fails,
// unless LINNET_REQUIRE_AEDES=1, in which case the test fails. aedes
// listens on a port the kernel chooses and says which on a ready line;
// it exits when its standard input closes, so it also ends with a test
// binary that dies.
//
// mosquitto's readiness is awaited by polling a TCP dial with a bounded
// deadline; that only tells when the broker listens, it is not used to
// order test logic. aedes's is its ready line.
//
// # Concurrency
//
// Start functions must be called from the test goroutine (they may call
// t.Skip or t.Fatal). The returned values are read-only except for Stop
// and Restart, which must not run concurrently with each other.
//
// # Errors
//
// Nothing is returned: failures to start fail the test with the broker's
// output in the message.
//
// # Limitations
//
// Test use only. Free ports for mosquitto are found by listening on port 0
// and closing again, so another process may take one in between; start is
// retried on "Address already in use". mochi is run with its default
// capabilities (it speaks MQTT 5 and 3.1.1). The aedes directory is found
// from this package's source path as the compiler recorded it, so a test
// binary built with -trimpath skips the aedes tests (or fails them under
// LINNET_REQUIRE_AEDES=1).
package testbroker
