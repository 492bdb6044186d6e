package store_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

// TestRecordVector pins the version 1 record format byte by byte.
func TestRecordVector(t *testing.T) {
	data := []byte{0x40, 0x02, 0x00, 0x07} // a PUBACK for packet id 7
	got := store.AppendRecord(nil, "r-7", 0x0102, data)
	want := strings.Join([]string{
		"4c4e5452",         // magic "LNTR"
		"01",               // version 1
		"00",               // flags
		"0003",             // key length 3
		"0000000000000102", // sequence number 258
		"00000004",         // data length 4
		"933dfa8d",         // CRC-32C (Castagnoli) of bytes 0..19, key and data
		"722d37",           // key "r-7"
		"40020007",         // data
	}, "")
	require.Equal(t, want, hex.EncodeToString(got))

	key, seq, d, reason := store.DecodeRecord(got)
	require.Empty(t, reason)
	require.Equal(t, "r-7", key)
	require.Equal(t, uint64(0x0102), seq)
	require.Equal(t, data, d)
}

func TestDecodeRecordRejects(t *testing.T) {
	good := store.AppendRecord(nil, "s-1", 1, []byte("hello"))
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name   string
		in     []byte
		reason string
	}{
		{"empty", nil, "shorter than the header (torn write?)"},
		{"header only", good[:24], "shorter than its header says (torn write?)"},
		{"one byte short", good[:len(good)-1], "shorter than its header says (torn write?)"},
		{"trailing byte", append(bytes.Clone(good), 0), "longer than its header says"},
		{"magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), "bad magic"},
		{"version", mutate(func(b []byte) []byte { b[4] = 2; return b }), "unknown version"},
		{"flags", mutate(func(b []byte) []byte { b[5] = 1; return b }), "unknown flags"},
		{"key length 0", mutate(func(b []byte) []byte { b[6], b[7] = 0, 0; return b }), "bad key length"},
		{"key length huge", mutate(func(b []byte) []byte { b[6], b[7] = 0xff, 0xff; return b }), "bad key length"},
		{"sequence 0", store.AppendRecord(nil, "s-1", 0, nil), "bad sequence number"},
		{"data length huge", mutate(func(b []byte) []byte { b[16] = 0xff; return b }), "bad data length"},
		{"checksum", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), "checksum mismatch"},
		{"invalid key", store.AppendRecord(nil, "a/b", 1, nil), "invalid key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, reason := store.DecodeRecord(tt.in)
			require.Equal(t, tt.reason, reason)
		})
	}
}

// FuzzDecodeRecord feeds junk to the record decoder: it must never panic, and
// whatever it accepts must encode back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(store.AppendRecord(nil, "s-1", 1, []byte("hello")))
	f.Add(store.AppendRecord(nil, "sb-1042", 1<<40, nil))
	f.Add([]byte("LNTR"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		key, seq, data, reason := store.DecodeRecord(b)
		if reason != "" {
			return
		}
		if again := store.AppendRecord(nil, key, seq, data); !bytes.Equal(again, b) {
			t.Fatalf("decoded %q/%d/%x re-encodes to %x, not %x", key, seq, data, again, b)
		}
	})
}
