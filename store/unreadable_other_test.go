//go:build !linux

package store_test

import "testing"

// unreadableAsNobody is TestFileUnreadable for root. Only the Linux version
// starts a child under another uid; elsewhere root cannot be made to fail a
// read by permissions from this test.
func unreadableAsNobody(t *testing.T) {
	t.Skip("running as root, which reads any file; the child process as nobody is implemented for Linux only")
}
