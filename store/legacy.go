package store

import (
	"os"
	"path/filepath"
	"strconv"
)

// The earlier layout kept each record in its own file, <escaped key>.rec,
// in the format of record.go, written to a temporary file, fsynced and
// renamed into place. Open migrates such a directory: load reads every
// record file with loadLegacy, the records go into a new log, which is made
// durable before the record files are removed (see rewrite). A crash in
// between leaves record files beside a log that already holds them; the
// next Open reads both and ends the migration.

// maxRecordFile bounds the size of a record file that loadLegacy reads.
func maxRecordFile() int64 { return recordHeaderSize + MaxKeyLen + int64(maxDataLen) }

// loadLegacy reads and checks one record file of the earlier layout.
func (f *File) loadLegacy(name string) (key string, seq uint64, data []byte, cerr *CorruptError) {
	path := filepath.Join(f.dir, name)
	fi, err := os.Lstat(path)
	if err != nil {
		return "", 0, nil, &CorruptError{Reason: "cannot stat", Err: err}
	}
	if !fi.Mode().IsRegular() {
		return "", 0, nil, &CorruptError{Reason: "not a regular file (" + fi.Mode().Type().String() + ")"}
	}
	if fi.Size() > maxRecordFile() {
		return "", 0, nil, &CorruptError{Reason: "larger than any record (" + strconv.FormatInt(fi.Size(), 10) + " bytes)"}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, nil, &CorruptError{Reason: "unreadable", Err: err}
	}
	key, seq, data, reason := decodeRecord(b)
	if reason != "" {
		return "", 0, nil, &CorruptError{Reason: reason}
	}
	if escapeName(key)+recordSuffix != name {
		return "", 0, nil, &CorruptError{Key: key, Reason: "key " + quoteShort(key) + " does not match the file name"}
	}
	return key, seq, data, nil
}
