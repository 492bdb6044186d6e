package store

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

// load reads the store directory at Open: every log is replayed in
// generation order, damage is quarantined, record files of the earlier
// layout are migrated and leftover temporary files removed. When that leaves
// exactly one undamaged log, it becomes the active log as it is; otherwise
// the live records are written into a new log, made durable, and the old
// files are removed. Only an error listing, reading or syncing the directory
// or its logs fails Open; damage never does.
func (f *File) load() error {
	entries, err := f.dirf.ReadDir(-1)
	if err != nil {
		return errwrap.Wrap("store: open: list "+f.dir, err)
	}
	var gens []uint64
	var legacy []string
	changed := false
	for _, e := range entries {
		name := e.Name()
		gen, isLog := parseLogName(name)
		switch {
		case name == lockName || name == quarantineName || name == nameFile:
		case strings.HasSuffix(name, tempSuffix):
			changed = true
			if !e.Type().IsRegular() {
				f.quarantineEntry(name, &CorruptError{Reason: "temporary entry is not a regular file"})
			} else if err := os.Remove(filepath.Join(f.dir, name)); err != nil {
				f.logger.Warn("store: cannot remove leftover temporary file", "dir", f.dir, "name", name, "err", err)
			} else {
				f.logger.Info("store: removed leftover temporary file", "dir", f.dir, "name", name)
			}
		case isLog && !e.Type().IsRegular():
			changed = true
			f.quarantineEntry(name, &CorruptError{Reason: "log is not a regular file (" + e.Type().String() + ")"})
		case isLog:
			gens = append(gens, gen)
		case strings.HasSuffix(name, recordSuffix):
			legacy = append(legacy, name)
		default:
			f.logger.Warn("store: ignoring unknown entry", "dir", f.dir, "name", name)
		}
	}
	slices.Sort(gens)

	live := make(map[string]genItem)
	var logs []*os.File
	defer func() {
		for _, l := range logs {
			if l != f.log {
				_ = l.Close()
			}
		}
	}()
	damaged := false
	var lastSize int64
	for _, gen := range gens {
		log, size, bad, err := f.replay(gen, live)
		if err != nil {
			return err
		}
		if log == nil { // unopenable: quarantined
			damaged = true
			continue
		}
		logs = append(logs, log)
		damaged = damaged || bad
		lastSize = size
	}
	for _, name := range legacy {
		key, seq, data, cerr := f.loadLegacy(name)
		if cerr != nil {
			f.quarantineEntry(name, cerr)
			continue
		}
		live[key] = genItem{key: key, seq: seq, data: data}
	}
	for _, it := range live {
		f.seq = max(f.seq, it.seq)
	}

	if len(logs) == 1 && len(gens) == 1 && !damaged && len(legacy) == 0 {
		f.log, f.gen, f.size = logs[0], gens[0], lastSize
		for k, it := range live {
			f.index[k] = entry{seq: it.seq, off: it.off, size: it.size}
			f.live += it.size
		}
		if changed && !f.noSync {
			if err := f.fsyncDir(); err != nil {
				return errwrap.Wrap("store: open: sync "+f.dir, err)
			}
		}
		return nil
	}
	next := uint64(1)
	if len(gens) > 0 {
		next = gens[len(gens)-1] + 1
	}
	if len(gens) == 0 && len(legacy) == 0 {
		// A new store: the log's directory entry is synced by the first Sync.
		log, _, _, err := f.writeGen(next, nil)
		if err != nil {
			return err
		}
		f.log, f.gen, f.dirDirty = log, next, true
		return nil
	}
	return f.rewrite(next, live, logs, legacy)
}

// replay reads the log of generation gen into live. It returns the log, open
// for reading and writing, and its length; bad is true when some of it was
// damaged (and quarantined). A log that cannot be opened is quarantined
// whole and gives a nil log. A read error fails Open.
func (f *File) replay(gen uint64, live map[string]genItem) (log *os.File, size int64, bad bool, err error) {
	name := logName(gen)
	path := filepath.Join(f.dir, name)
	log, err = os.OpenFile(path, os.O_RDWR, 0)
	if err == nil {
		var fi os.FileInfo
		if fi, err = log.Stat(); err == nil {
			size = fi.Size()
		} else {
			_ = log.Close()
		}
	}
	if err != nil {
		f.quarantineEntry(name, &CorruptError{Reason: "unreadable log", Err: err})
		return nil, 0, true, nil
	}
	s := logScanner{r: log, size: size}
	for {
		r, off, span, ok := s.next()
		if span.end > span.off {
			bad = true
			cerr := &CorruptError{Path: path, Key: span.key, Reason: span.reason}
			f.quarantineBytes(name, span.off, span.key, io.NewSectionReader(log, span.off, span.end-span.off), cerr)
		}
		if !ok {
			break
		}
		if r.kind == kindRemove {
			delete(live, r.key)
			continue
		}
		live[r.key] = genItem{key: r.key, seq: r.seq, file: log, off: off, size: r.size}
	}
	if s.err != nil {
		_ = log.Close()
		return nil, 0, false, errwrap.Wrap("store: open: read "+path, s.err)
	}
	return log, size, bad, nil
}

// rewrite writes the live records into a new log of generation gen, makes
// it durable, and then removes the old logs and record files. A crash at
// any step leaves files that the next Open reads back to the same records.
func (f *File) rewrite(gen uint64, live map[string]genItem, logs []*os.File, legacy []string) error {
	items := make([]genItem, 0, len(live))
	for _, it := range live {
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b genItem) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), strings.Compare(a.key, b.key))
	})
	log, index, size, err := f.writeGen(gen, items)
	if err != nil {
		return err
	}
	f.log, f.gen, f.index, f.size, f.live = log, gen, index, size, size
	if !f.noSync {
		if err := f.fsync(log); err != nil {
			return errwrap.Wrap("store: open: sync "+log.Name(), err)
		}
		if err := f.fsyncDir(); err != nil {
			return errwrap.Wrap("store: open: sync "+f.dir, err)
		}
	}
	compactStep("synced")
	for _, l := range logs {
		_ = l.Close()
		if err := os.Remove(l.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return errwrap.Wrap("store: open: remove old log", err)
		}
		compactStep("old-removed")
	}
	for _, name := range legacy {
		err := os.Remove(filepath.Join(f.dir, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return errwrap.Wrap("store: open: remove migrated record", err)
		}
		compactStep("old-removed")
	}
	if len(legacy) > 0 {
		f.logger.Info("store: migrated record files into a log", "dir", f.dir, "records", len(legacy))
		// A record file that came back after a power loss would bring back
		// a record removed since.
		if err := f.fsyncDir(); err != nil {
			return errwrap.Wrap("store: open: sync "+f.dir, err)
		}
	}
	return nil
}

// quarantineEntry moves the entry name out of the store directory into the
// quarantine subdirectory, under a name not yet used there, and reports it.
// A failure to move it is reported, not returned.
func (f *File) quarantineEntry(name string, cerr *CorruptError) {
	cerr.Path = filepath.Join(f.dir, name)
	q := Quarantined{Name: name, Err: cerr}
	if key, ok := unescapeName(strings.TrimSuffix(name, recordSuffix)); ok && strings.HasSuffix(name, recordSuffix) {
		q.Key = key
		if cerr.Key == "" {
			cerr.Key = key
		}
	}
	target, err := f.quarantineTarget(name)
	if err == nil {
		err = os.Rename(filepath.Join(f.dir, name), target)
	}
	f.reportQuarantined(q, target, err)
}

// quarantineBytes saves a copy of damaged bytes of the log name, from
// offset off, into the quarantine subdirectory and reports them.
func (f *File) quarantineBytes(name string, off int64, key string, src any, cerr *CorruptError) {
	q := Quarantined{Name: name, Offset: off, Key: key, Err: cerr}
	var r io.Reader
	switch src := src.(type) {
	case []byte:
		r = bytes.NewReader(src)
	case io.Reader:
		r = src
	}
	target, err := f.quarantineTarget(name + "@" + strconv.FormatInt(off, 10))
	if err == nil {
		err = writeFileFrom(target, r, !f.noSync)
	}
	f.reportQuarantined(q, target, err)
}

func (f *File) reportQuarantined(q Quarantined, target string, err error) {
	cerr := q.Err
	if err != nil {
		cerr.Err = errors.Join(cerr.Err, errwrap.Wrap("could not quarantine", err))
		f.logger.Error("store: damage could not be quarantined", "path", cerr.Path, "offset", q.Offset, "reason", cerr.Reason, "err", err)
	} else {
		q.Path = target
		if d, err := os.Open(filepath.Dir(target)); err == nil && !f.noSync {
			_ = syncDir(d)
			d.Close()
		} else if err == nil {
			d.Close()
		}
		f.logger.Warn("store: quarantined damage", "path", cerr.Path, "offset", q.Offset, "to", target, "reason", cerr.Reason, "err", cerr.Err)
	}
	f.quarantined = append(f.quarantined, q)
}

// quarantineTarget returns a path in the quarantine subdirectory, made if
// needed, that is not taken yet.
func (f *File) quarantineTarget(name string) (string, error) {
	qdir := filepath.Join(f.dir, quarantineName)
	if err := mkdirDurable(f.dir, qdir); err != nil {
		return "", err
	}
	target := filepath.Join(qdir, name)
	for i := 1; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
			return target, nil
		} else if err != nil {
			return "", err
		}
		target = filepath.Join(qdir, name+"."+strconv.Itoa(i))
	}
}

// writeFileFrom copies r into a new file at path, durably if sync.
func writeFileFrom(path string, r io.Reader, sync bool) error {
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	if err == nil && sync {
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
