//go:build !windows

package store

import (
	"errors"
	"os"
	"syscall"
)

// syncDir makes the entries of an open directory (creations, renames,
// removals) durable. A file system that cannot sync directories (EINVAL) is
// not an error.
func syncDir(d *os.File) error {
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
