//go:build !linux

package store

import "os"

// syncData flushes a log file to stable storage with fsync (on macOS without
// F_FULLFSYNC; see the Limitations section of the package documentation).
func syncData(f *os.File) error { return f.Sync() }
