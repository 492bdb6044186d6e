//go:build !(linux || darwin || freebsd || netbsd || dragonfly || windows)

package store

func osLock(path string) (func() error, error) {
	return pidFileLock(path, processAlive)
}
