//go:build windows

package store

import "os"

// syncDir does nothing on Windows, which cannot flush a directory handle; see
// the Limitations section of the package documentation.
func syncDir(d *os.File) error { return nil }
