package dms

import (
	"bytes"
	"crypto/md5"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsonSeeds are the seeds of FuzzJSON and the cases of TestJSONLikeEncodingJSON.
var jsonSeeds = []string{
	`{"url":"tcp://h:1883"}`,
	` {"uri" : "ssl://dms.example:8883", "x": [1, 2.5e-3, true, null, {"a": {}}]} `,
	`{"url":"a","url":"b"}`,
	`{"deviceId":"dev-1","time":1700000050000}`,
	`{"k\u00e9y":"v\ud83d\ude00\n\"\\\/\b\f\r\t"}`,
	`{"lone":"\ud800x","pair":"\ud800\udc00","bad pair":"\ud800\u0041"}`,
	"\"raw \xff bytes\"",
	`"tcp://h:1"`, `[]`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`,
	`{"a":1e}`, `{"a":tru}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"url":`, `{`, `"`, ``, ` `,
	`{"a":1} x`, `-0.0e+1`, `[[[[[[]]]]]]`, `{"":""}`,
}

// TestJSONLikeEncodingJSON holds the scanner to encoding/json on the
// seeds: the same verdict, the same members and decoded strings.
func TestJSONLikeEncodingJSON(t *testing.T) {
	for _, s := range jsonSeeds {
		compareJSON(t, []byte(s))
	}
	deep := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	compareJSON(t, []byte(deep))
	compareJSON(t, []byte("["+deep+"]"))
	err := checkJSON([]byte(`{"a":`))
	var se *JSONSyntaxError
	if !errors.As(err, &se) || se.Offset != 5 {
		t.Fatalf("checkJSON: %v, want a *JSONSyntaxError at byte 5", err)
	}
}

func compareJSON(t *testing.T, b []byte) {
	t.Helper()
	err := checkJSON(b)
	if (err == nil) != json.Valid(b) {
		t.Fatalf("%q: checkJSON says %v, json.Valid %v", b, err, json.Valid(b))
	}
	var want map[string]json.RawMessage
	werr := json.Unmarshal(b, &want)
	members, err := jsonObject(b)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: jsonObject says %v, json.Unmarshal %v", b, err, werr)
	}
	if err != nil {
		var se *JSONSyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("%q: %v is not a *JSONSyntaxError", b, err)
		}
		return
	}
	keys := map[string]bool{}
	for _, m := range members {
		keys[m.key] = true
	}
	if len(keys) != len(want) {
		t.Fatalf("%q: %d distinct keys, encoding/json %d", b, len(keys), len(want))
	}
	for k, raw := range want {
		v, ok := lookup(members, k)
		if !ok || !bytes.Equal(v, raw) {
			t.Fatalf("%q: key %q: %q, encoding/json %q", b, k, v, raw)
		}
		var ws string
		serr := json.Unmarshal(raw, &ws)
		s, ok := jsonStringValue(v)
		if ok != (serr == nil) || ok && s != ws {
			t.Fatalf("%q: key %q: string %q %v, encoding/json %q %v", b, k, s, ok, ws, serr)
		}
	}
}

// TestAppendJSONString: the encoding decodes, with encoding/json, to the
// string (invalid UTF-8 as U+FFFD, as json.Marshal does).
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "dev-42", "a\"b\\c", "\x00\x1f\n\r\t\b\f", "é😀", "bad \xff\xfe utf8", "\u2028<&>"} {
		checkAppendJSONString(t, s)
	}
}

func checkAppendJSONString(t *testing.T, s string) {
	t.Helper()
	enc := appendJSONString(nil, s)
	var got string
	if err := json.Unmarshal(enc, &got); err != nil {
		t.Fatalf("%q encoded as %s: %v", s, enc, err)
	}
	ref, _ := json.Marshal(s)
	var want string
	_ = json.Unmarshal(ref, &want)
	if got != want {
		t.Fatalf("%q encoded as %s decodes to %q, want %q", s, enc, got, want)
	}
	if !utf8.Valid(enc) {
		t.Fatalf("%q encoded as invalid UTF-8", s)
	}
}

// FuzzJSON holds the hand-written scanner to encoding/json: validity,
// object members and string values, the string encoder, and
// parseNetworkInfo never panicking.
func FuzzJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		compareJSON(t, b)
		checkAppendJSONString(t, string(b))
		_, _ = ParseNetworkInfo("t", b, nil)
		_ = heartbeatDeviceID(b)
	})
}

// TestMD5LikeCrypto holds the hand-written MD5 to crypto/md5 across the
// padding boundaries (lengths 0 to 200) and a long input, and checks the
// constant-time comparison.
func TestMD5LikeCrypto(t *testing.T) {
	msg := make([]byte, 0, 1000)
	for n := 0; n <= 200; n++ {
		if got, want := md5Sum(msg), md5.Sum(msg); got != want {
			t.Fatalf("length %d: %x, want %x", n, got, want)
		}
		msg = append(msg, byte(n*7+3))
	}
	long := bytes.Repeat([]byte("ovopark_dev-42_17000000"), 300)
	if got, want := md5Sum(long), md5.Sum(long); got != want {
		t.Fatalf("long input: %x, want %x", got, want)
	}
	for _, c := range []struct {
		a, b string
		eq   bool
	}{{"", "", true}, {"abc", "abc", true}, {"abc", "abd", false}, {"abc", "ab", false}, {"x", "", false}} {
		if equalConstantTime(c.a, c.b) != c.eq {
			t.Errorf("equalConstantTime(%q, %q) != %v", c.a, c.b, c.eq)
		}
	}
}
