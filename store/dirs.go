package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

// errNotDir is the cause when a path that should be a directory is not one.
var errNotDir = errors.New("not a directory (or a symbolic link)")

// errNotRegular is the cause when a path that should be a file is not one.
var errNotRegular = errors.New("not a regular file")

// checkDirName guards the directory dir, named after name, against hash
// collisions when that name is hashed (escapeName): the first Open writes
// name into dir/nameFile, durably; every later Open compares, and a different
// name is a *CollisionError. Directories with short names need no guard, as
// their names decode back to name.
func checkDirName(dir, name string) error {
	if !hashedName(filepath.Base(dir)) {
		return nil
	}
	path := filepath.Join(dir, nameFile)
	fi, err := os.Lstat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return errwrap.Wrap("store: open", &fs.PathError{Op: "open", Path: path, Err: errNotRegular})
	case err == nil:
		have, err := os.ReadFile(path)
		if err != nil {
			return errwrap.Wrap("store: open", err)
		}
		if string(have) != name {
			return &CollisionError{Path: dir, Name: name, Have: string(have)}
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return errwrap.Wrap("store: open", err)
	}
	return writeNameFile(dir, name)
}

// writeNameFile writes name into dir/nameFile, durably. It is written aside
// and renamed, so that a crash never leaves a torn name that would refuse
// its own owner.
func writeNameFile(dir, name string) error {
	path := filepath.Join(dir, nameFile)
	if err := writeFileSync(path+tempSuffix, []byte(name), nil); err != nil {
		return errwrap.Wrap("store: open", err)
	}
	if err := os.Rename(path+tempSuffix, path); err != nil {
		_ = os.Remove(path + tempSuffix)
		return errwrap.Wrap("store: open", err)
	}
	return syncDirPath(dir)
}

// syncDirPath fsyncs the directory dir.
func syncDirPath(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return errwrap.Wrap("store: open", err)
	}
	err = syncDir(d)
	d.Close()
	if err != nil {
		return errwrap.Wrap("store: open: sync "+dir, err)
	}
	return nil
}

// migrateUnredacted renames the store directory that an earlier version
// named after serverURI with its password, in clientDir, to dir, named
// after the URI without it. Nothing happens when there is no such
// directory, or it belongs to another URI (a hashed name). When dir exists
// too, Open is refused with a *MigrationError: the two cannot be merged
// safely, and an operator must choose. The name of the old directory never
// reaches an error or a log, as it holds the password.
//
// Steps, each safe to crash after: the old directory's name file (if any)
// is made to hold the redacted URI (or removed when the new name is not
// hashed), then the directory is renamed, then the client directory synced.
func (f *File) migrateUnredacted(clientDir, serverURI, redacted, dir string) error {
	oldDir := filepath.Join(clientDir, escapeName(serverURI))
	if oldDir == dir {
		return nil
	}
	fi, err := os.Lstat(oldDir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
		return nil
	}
	if err != nil {
		return &MigrationError{Dir: dir, Reason: "cannot inspect the directory named after the URI with its password", Err: pathless(err)}
	}
	newHashed := hashedName(filepath.Base(dir))
	if hashedName(filepath.Base(oldDir)) {
		// A hashed name may belong to another URI; a name file already
		// holding the redacted URI is a migration cut short by a crash.
		have, err := os.ReadFile(filepath.Join(oldDir, nameFile))
		if err != nil || string(have) != serverURI && !(newHashed && string(have) == redacted) {
			return nil
		}
	}
	if _, err := os.Lstat(dir); err == nil {
		return &MigrationError{Dir: dir, Reason: "a directory named after the URI with its password exists as well; " +
			"move the records you want to keep into one of them and remove the other"}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return errwrap.Wrap("store: open", err)
	}
	lock, err := acquireLock(filepath.Join(oldDir, lockName))
	if err != nil {
		return &MigrationError{Dir: dir, Reason: "the directory named after the URI with its password is in use", Err: ErrLocked}
	}
	defer func() { _ = lock.release() }()
	if newHashed {
		err = writeNameFile(oldDir, redacted)
	} else if err = os.Remove(filepath.Join(oldDir, nameFile)); errors.Is(err, fs.ErrNotExist) {
		err = nil
	} else if err == nil {
		err = syncDirPath(oldDir)
	}
	if err != nil {
		return &MigrationError{Dir: dir, Reason: "cannot rewrite the name file of the directory named after the URI with its password", Err: pathless(err)}
	}
	compactStep("unredacted-named")
	if err := os.Rename(oldDir, dir); err != nil {
		return &MigrationError{Dir: dir, Reason: "cannot rename the directory named after the URI with its password", Err: pathless(err)}
	}
	if err := syncDirPath(clientDir); err != nil {
		return err
	}
	f.logger.Info("store: renamed the store directory named after the server URI with its password", "dir", dir)
	return nil
}

// mkdirAllDurable creates dir and any missing parents with permissions 0700,
// and makes each new entry durable.
func mkdirAllDurable(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return errwrap.Wrap("store: open", &fs.PathError{Op: "mkdir", Path: dir, Err: errNotDir})
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllDurable(parent); err != nil {
			return err
		}
	}
	return mkdirDurable(parent, dir)
}

// mkdirDurable creates dir (a child of parent) with permissions 0700 if it
// does not exist, and makes its entry durable. An existing dir must be a real
// directory, not a file or a symbolic link.
func mkdirDurable(parent, dir string) error {
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		p, err := os.Open(parent)
		if err != nil {
			return errwrap.Wrap("store: open", err)
		}
		err = syncDir(p)
		p.Close()
		if err != nil {
			return errwrap.Wrap("store: open: sync "+parent, err)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return errwrap.Wrap("store: open", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return errwrap.Wrap("store: open", err)
	}
	if !fi.IsDir() {
		return errwrap.Wrap("store: open", &fs.PathError{Op: "mkdir", Path: dir, Err: errNotDir})
	}
	return nil
}

// writeFileSync writes head and then body to a new file at path (replacing a
// leftover one), fsyncs and closes it. On failure it removes the file.
func writeFileSync(path string, head, body []byte) error {
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = w.Write(head)
	if err == nil {
		_, err = w.Write(body)
	}
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// pathless returns the cause of err without any path in it (the errno of a
// *fs.PathError or *os.LinkError), for errors about a directory whose name
// holds a password.
func pathless(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return errors.New("failed")
}
