package store

import (
	"encoding/binary"
	"hash/crc32"
)

// Legacy record file format, version 1: the layout before the log, one file
// per record. The store no longer writes it; Open reads it only to migrate a
// store directory written by an earlier version into a log (see
// migrateRecords). All integers are big-endian.
//
//	offset  size  field
//	0       4     magic "LNTR"
//	4       1     version, 1
//	5       1     flags, 0 (a reader rejects any other value)
//	6       2     key length K (1..MaxKeyLen)
//	8       8     sequence number (insertion order; 1 or more)
//	16      4     data length D (0..MaxDataLen)
//	20      4     CRC-32C (Castagnoli) of bytes 0..19, then the key, then the data
//	24      K     key
//	24+K    D     data
//
// The file is exactly 24+K+D bytes; anything shorter (torn) or longer is
// corrupt. The file name is the escaped key followed by ".rec"; a record whose
// key does not match its file name is corrupt too.
const (
	recordMagic      = "LNTR"
	recordVersion    = 1
	recordHeaderSize = 24
	recordSuffix     = ".rec"
	tempSuffix       = ".tmp"
)

// appendRecordHeader appends the header and key of a record holding data.
func appendRecordHeader(b []byte, key string, seq uint64, data []byte) []byte {
	start := len(b)
	b = append(b, recordMagic...)
	b = append(b, recordVersion, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(key)))
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, 0, 0, 0, 0) // CRC, filled in below
	b = append(b, key...)
	crc := crc32.Update(0, castagnoli, b[start:start+20])
	crc = crc32.Update(crc, castagnoli, b[start+recordHeaderSize:])
	crc = crc32.Update(crc, castagnoli, data)
	binary.BigEndian.PutUint32(b[start+20:], crc)
	return b
}

// decodeRecord checks a whole record file. data aliases b. reason is empty
// when the record is good and otherwise names the failed check.
func decodeRecord(b []byte) (key string, seq uint64, data []byte, reason string) {
	if len(b) < recordHeaderSize {
		return "", 0, nil, "shorter than the header (torn write?)"
	}
	if string(b[0:4]) != recordMagic {
		return "", 0, nil, "bad magic"
	}
	if b[4] != recordVersion {
		return "", 0, nil, "unknown version"
	}
	if b[5] != 0 {
		return "", 0, nil, "unknown flags"
	}
	klen := int(binary.BigEndian.Uint16(b[6:8]))
	seq = binary.BigEndian.Uint64(b[8:16])
	dlen := uint64(binary.BigEndian.Uint32(b[16:20]))
	want := binary.BigEndian.Uint32(b[20:24])
	switch {
	case klen == 0 || klen > MaxKeyLen:
		return "", 0, nil, "bad key length"
	case seq == 0:
		return "", 0, nil, "bad sequence number"
	case dlen > uint64(maxDataLen):
		return "", 0, nil, "bad data length"
	case uint64(len(b)) < recordHeaderSize+uint64(klen)+dlen:
		return "", 0, nil, "shorter than its header says (torn write?)"
	case uint64(len(b)) > recordHeaderSize+uint64(klen)+dlen:
		return "", 0, nil, "longer than its header says"
	}
	crc := crc32.Update(0, castagnoli, b[:20])
	crc = crc32.Update(crc, castagnoli, b[recordHeaderSize:])
	if crc != want {
		return "", 0, nil, "checksum mismatch"
	}
	key = string(b[recordHeaderSize : recordHeaderSize+klen])
	if ValidKey(key) != nil {
		return "", 0, nil, "invalid key"
	}
	return key, seq, b[recordHeaderSize+klen:], ""
}
