package store

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// Log record format. A log file is a sequence of records and nothing else;
// all integers are big-endian.
//
//	offset  size  field
//	0       4     magic "LNTL"
//	4       1     version, 1
//	5       1     kind: 1 put, 2 remove (a reader rejects any other value)
//	6       2     key length K (1..MaxKeyLen)
//	8       8     sequence number: the key's insertion order (put: 1 or
//	              more; remove: 0)
//	16      4     data length D (0..MaxDataLen; remove: 0)
//	20      4     CRC-32C (Castagnoli) of bytes 0..19, then the key, then the data
//	24      K     key
//	24+K    D     data
//
// A put record sets key to data; a remove record deletes key. Replaying the
// records of a log in order gives the state of the store.
const (
	logMagic      = "LNTL"
	logVersion    = 1
	logHeaderSize = 24
	kindPut       = 1
	kindRemove    = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendLogHeader appends the header and key of a log record holding data
// (which the caller writes after it) and returns the whole record's length.
func appendLogHeader(b []byte, kind byte, key string, seq uint64, data []byte) []byte {
	start := len(b)
	b = append(b, logMagic...)
	b = append(b, logVersion, kind)
	b = binary.BigEndian.AppendUint16(b, uint16(len(key)))
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, 0, 0, 0, 0) // CRC, filled in below
	b = append(b, key...)
	crc := crc32.Update(0, castagnoli, b[start:start+20])
	crc = crc32.Update(crc, castagnoli, b[start+logHeaderSize:])
	crc = crc32.Update(crc, castagnoli, data)
	binary.BigEndian.PutUint32(b[start+20:], crc)
	return b
}

// logRecord is one decoded record. Key and data alias the buffer it was
// decoded from.
type logRecord struct {
	kind byte
	key  string
	seq  uint64
	data []byte
	size int64 // the whole record, header included
}

// parseLogHeader checks the fixed header of a record. It returns the length
// of the whole record, or a reason when the header is bad.
func parseLogHeader(h []byte) (size int64, reason string) {
	if len(h) < logHeaderSize {
		return 0, "shorter than a record header (torn write?)"
	}
	if string(h[0:4]) != logMagic {
		return 0, "bad magic"
	}
	if h[4] != logVersion {
		return 0, "unknown version"
	}
	kind := h[5]
	klen := int64(binary.BigEndian.Uint16(h[6:8]))
	seq := binary.BigEndian.Uint64(h[8:16])
	dlen := int64(binary.BigEndian.Uint32(h[16:20]))
	switch {
	case kind != kindPut && kind != kindRemove:
		return 0, "unknown kind"
	case klen == 0 || klen > MaxKeyLen:
		return 0, "bad key length"
	case kind == kindPut && seq == 0, kind == kindRemove && seq != 0:
		return 0, "bad sequence number"
	case dlen > int64(maxDataLen), kind == kindRemove && dlen != 0:
		return 0, "bad data length"
	}
	return logHeaderSize + klen + dlen, ""
}

// decodeLogRecord checks one whole record: b must be exactly the record.
func decodeLogRecord(b []byte) (r logRecord, reason string) {
	size, reason := parseLogHeader(b)
	if reason != "" {
		return r, reason
	}
	if int64(len(b)) != size {
		return r, "length does not match its header"
	}
	klen := int(binary.BigEndian.Uint16(b[6:8]))
	crc := crc32.Update(0, castagnoli, b[:20])
	crc = crc32.Update(crc, castagnoli, b[logHeaderSize:])
	if crc != binary.BigEndian.Uint32(b[20:24]) {
		return r, "checksum mismatch"
	}
	r = logRecord{
		kind: b[5],
		key:  string(b[logHeaderSize : logHeaderSize+klen]),
		seq:  binary.BigEndian.Uint64(b[8:16]),
		data: b[logHeaderSize+klen:],
		size: size,
	}
	if ValidKey(r.key) != nil {
		return logRecord{}, "invalid key"
	}
	return r, ""
}

// logScanner reads the records of a log of a known size, one at a time,
// skipping over damage: a span of bytes that holds no good record is
// reported, and reading goes on at the next good record after it. Memory is
// one record's worth (at most the file size), never the whole log.
type logScanner struct {
	r     io.ReaderAt
	size  int64
	off   int64
	buf   []byte
	chunk []byte // findMagic's window
	err   error  // an I/O error: scanning stops
}

// badSpan is a stretch of a log holding no good record.
type badSpan struct {
	off, end int64
	reason   string // why the first record of the span failed
	key      string // the key its header names, if readable and valid
}

// readAt reads the record at off. reason is "" for a good record. An I/O
// error stops the scanner (s.err).
func (s *logScanner) readAt(off int64) (r logRecord, reason string) {
	if s.size-off < logHeaderSize {
		return r, "shorter than a record header (torn write?)"
	}
	var h [logHeaderSize]byte
	if _, err := s.r.ReadAt(h[:], off); err != nil {
		s.err = err
		return r, "unreadable"
	}
	size, reason := parseLogHeader(h[:])
	if reason != "" {
		return r, reason
	}
	if size > s.size-off {
		return r, "runs past the end of the log (torn write?)"
	}
	if int64(cap(s.buf)) < size {
		s.buf = make([]byte, size)
	}
	b := s.buf[:size]
	if _, err := s.r.ReadAt(b, off); err != nil {
		s.err = err
		return r, "unreadable"
	}
	return decodeLogRecord(b)
}

// next returns the next good record and its offset, with the bad span
// before it (end == 0 when there is none). ok is false at the end of the log
// or after an I/O error; a final bad span may come with ok false.
func (s *logScanner) next() (r logRecord, off int64, bad badSpan, ok bool) {
	if s.off >= s.size || s.err != nil {
		return r, 0, bad, false
	}
	r, reason := s.readAt(s.off)
	if reason == "" {
		off = s.off
		s.off += r.size
		return r, off, bad, true
	}
	bad = badSpan{off: s.off, reason: reason, key: s.headerKey(s.off)}
	for p := s.off + 1; s.err == nil; p++ {
		p = s.findMagic(p)
		if p >= s.size {
			break
		}
		if r, reason := s.readAt(p); reason == "" {
			bad.end, s.off = p, p+r.size
			return r, p, bad, true
		}
	}
	bad.end, s.off = s.size, s.size
	return logRecord{}, 0, bad, false
}

// findMagic returns the offset of the next record magic at or after p, or
// s.size when there is none.
func (s *logScanner) findMagic(p int64) int64 {
	if s.chunk == nil {
		s.chunk = make([]byte, 64<<10)
	}
	chunk := s.chunk
	for p < s.size && s.err == nil {
		n := min(int64(len(chunk)), s.size-p)
		if _, err := s.r.ReadAt(chunk[:n], p); err != nil {
			s.err = err
			break
		}
		if i := bytes.Index(chunk[:n], []byte(logMagic)); i >= 0 {
			return p + int64(i)
		}
		if n < int64(len(chunk)) {
			break
		}
		p += n - int64(len(logMagic)-1) // a magic may straddle two chunks
	}
	return s.size
}

// headerKey returns the key named by the header at off when the header
// and key can be read and the key is valid, else "". It is not trusted:
// only used to say which record was damaged.
func (s *logScanner) headerKey(off int64) string {
	var h [logHeaderSize + MaxKeyLen]byte
	n, _ := s.r.ReadAt(h[:min(int64(len(h)), s.size-off)], off)
	if n < logHeaderSize || string(h[:4]) != logMagic {
		return ""
	}
	klen := int(binary.BigEndian.Uint16(h[6:8]))
	if klen == 0 || klen > n-logHeaderSize {
		return ""
	}
	key := string(h[logHeaderSize : logHeaderSize+klen])
	if ValidKey(key) != nil {
		return ""
	}
	return key
}
