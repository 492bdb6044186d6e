// Package conformance builds CONFORMANCE.md, the matrix of MQTT 3.1.1
// normative statements and the tests that check them.
//
// # Usage
//
// A test that checks a statement names its id in its doc comment:
//
//	// TestPublishQoS3 checks [MQTT-3.3.1-4]: a PUBLISH with QoS 3 is refused.
//	func TestPublishQoS3(t *testing.T) { ... }
//
// TestMatrix scans the doc comments of every Test and Fuzz function in the
// module, builds the matrix from testdata/conformance/statements.tsv and
// compares it with CONFORMANCE.md at the root of the module. Regenerate the
// file after adding or removing tests with:
//
//	go test ./internal/conformance -update
//
// # Concurrency
//
// Build is a pure function of the files it reads.
//
// # Errors
//
// Build fails on an id that is not one of the 141 statements, so a typo in
// a doc comment cannot pass for coverage.
//
// # Limitations
//
// The scanner trusts doc comments: it shows that a test claims a statement,
// and review keeps the claims honest.
package conformance
