package store_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

// TestLogRecordVector pins the log record format byte by byte.
func TestLogRecordVector(t *testing.T) {
	data := []byte{0x40, 0x02, 0x00, 0x07} // a PUBACK for packet id 7
	got := store.AppendLogRecord(nil, store.KindPut, "r-7", 0x0102, data)
	want := strings.Join([]string{
		"4c4e544c",         // magic "LNTL"
		"01",               // version 1
		"01",               // kind: put
		"0003",             // key length 3
		"0000000000000102", // sequence number 258
		"00000004",         // data length 4
		"1934bd30",         // CRC-32C (Castagnoli) of bytes 0..19, key and data
		"722d37",           // key "r-7"
		"40020007",         // data
	}, "")
	require.Equal(t, want, hex.EncodeToString(got))
	rm := store.AppendLogRecord(nil, store.KindRemove, "r-7", 0, nil)
	require.Equal(t, "4c4e544c"+"01"+"02"+"0003"+"0000000000000000"+"00000000", hex.EncodeToString(rm[:20]))

	recs, bad := store.ScanLog(append(got, rm...))
	require.Empty(t, bad)
	require.Equal(t, []store.LogRecord{
		{Kind: store.KindPut, Key: "r-7", Seq: 0x0102, Data: data, Off: 0, Size: int64(len(got))},
		{Kind: store.KindRemove, Key: "r-7", Off: int64(len(got)), Size: int64(len(rm))},
	}, recs)
}

func TestLogRecordRejects(t *testing.T) {
	good := store.AppendLogRecord(nil, store.KindPut, "s-1", 1, []byte("hello"))
	mutate := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	tests := []struct {
		name   string
		in     []byte
		reason string
	}{
		{"magic", mutate(func(b []byte) { b[0] = 'X' }), "bad magic"},
		{"version", mutate(func(b []byte) { b[4] = 2 }), "unknown version"},
		{"kind", mutate(func(b []byte) { b[5] = 3 }), "unknown kind"},
		{"key length 0", mutate(func(b []byte) { b[6], b[7] = 0, 0 }), "bad key length"},
		{"key length huge", mutate(func(b []byte) { b[6], b[7] = 0xff, 0xff }), "bad key length"},
		{"put with sequence 0", store.AppendLogRecord(nil, store.KindPut, "s-1", 0, nil), "bad sequence number"},
		{"remove with a sequence", store.AppendLogRecord(nil, store.KindRemove, "s-1", 5, nil), "bad sequence number"},
		{"remove with data", store.AppendLogRecord(nil, store.KindRemove, "s-1", 0, []byte("x")), "bad data length"},
		{"data length huge", mutate(func(b []byte) { b[16] = 0xff }), "bad data length"},
		{"checksum", mutate(func(b []byte) { b[len(b)-1] ^= 1 }), "checksum mismatch"},
		{"invalid key", store.AppendLogRecord(nil, store.KindPut, "a/b", 1, nil), "invalid key"},
		{"short", good[:len(good)-1], "length does not match its header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, reason := store.DecodeLogEntry(tt.in)
			require.Equal(t, tt.reason, reason)
		})
	}
}

// FuzzScanLog feeds junk to the log scanner that Open uses: it must never
// panic; the good records and the bad spans it returns must cover the input
// exactly, in order; and every good record must encode back to its bytes.
func FuzzScanLog(f *testing.F) {
	rec := func(kind byte, key string, seq uint64, data string) []byte {
		return store.AppendLogRecord(nil, kind, key, seq, []byte(data))
	}
	three := bytes.Join([][]byte{
		rec(store.KindPut, "s-1", 1, "hello"), rec(store.KindPut, "sb-1042", 1<<40, ""), rec(store.KindRemove, "s-1", 0, ""),
	}, nil)
	f.Add(three)
	f.Add(three[:len(three)-3])                                    // torn tail
	f.Add(append(bytes.Clone(three[:30]), three...))               // a torn record, then good ones
	f.Add(append([]byte("LNTL\x01\x01\x00\x03"), three...))        // a bare header
	f.Add(bytes.Repeat([]byte("LNTL"), 40))                        // magic everywhere
	f.Add(store.AppendRecord(nil, "s-1", 1, []byte("old layout"))) // a record of the earlier layout
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, bad := store.ScanLog(b)
		var pos int64
		for len(recs) > 0 || len(bad) > 0 {
			switch {
			case len(bad) > 0 && bad[0].Off == pos:
				if bad[0].End <= pos || bad[0].Reason == "" {
					t.Fatalf("bad span %+v at %d", bad[0], pos)
				}
				pos, bad = bad[0].End, bad[1:]
			case len(recs) > 0 && recs[0].Off == pos:
				r := recs[0]
				again := store.AppendLogRecord(nil, r.Kind, r.Key, r.Seq, r.Data)
				if !bytes.Equal(again, b[pos:pos+r.Size]) {
					t.Fatalf("record at %d re-encodes to %x, not %x", pos, again, b[pos:pos+r.Size])
				}
				pos, recs = pos+r.Size, recs[1:]
			default:
				t.Fatalf("nothing accounts for the bytes at %d (records %+v, bad %+v)", pos, recs, bad)
			}
		}
		if pos != int64(len(b)) {
			t.Fatalf("scan covered %d of %d bytes", pos, len(b))
		}
	})
}
