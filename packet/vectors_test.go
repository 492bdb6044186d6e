package packet_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

// vectorDir holds the shared, language-neutral packet vectors; the format is
// described in its README.md.
const vectorDir = "../testdata/vectors"

// vector is one block of a vector file.
type vector struct {
	file, name  string
	line        int
	wire        []byte
	want        packet.Packet // valid vectors
	wantErr     string        // malformed vectors: a rule, or "unexpected EOF"
	encodes     []byte        // the canonical re-encoding, when it differs from wire
	appendError string        // the rule strict Append refuses a decodable packet with
}

// equateEmpty treats nil and empty slices as equal: a decoded empty payload
// points into the buffer, a literal one is nil.
var equateEmpty = cmpopts.EquateEmpty()

// loadVectors parses every testdata/vectors/*.txt file.
func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.txt"))
	require.NoError(tb, err)
	require.NotEmpty(tb, files, "no vector files in %s", vectorDir)
	var all []vector
	names := map[string]string{}
	for _, f := range files {
		vs, err := parseVectorFile(f)
		require.NoError(tb, err)
		for _, v := range vs {
			if prev, dup := names[v.name]; dup {
				tb.Fatalf("%s:%d: vector name %q already used in %s", v.file, v.line, v.name, prev)
			}
			names[v.name] = v.file
		}
		all = append(all, vs...)
	}
	return all
}

func parseVectorFile(path string) ([]vector, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	file := filepath.Base(path)
	var (
		out  []vector
		cur  *vector
		hexs strings.Builder
	)
	finish := func() error {
		if cur == nil {
			return nil
		}
		w, err := hex.DecodeString(hexs.String())
		if err != nil {
			return fmt.Errorf("%s:%d: %s: hex: %v", file, cur.line, cur.name, err)
		}
		cur.wire = w
		switch {
		case len(w) == 0:
			return fmt.Errorf("%s:%d: %s: no hex", file, cur.line, cur.name)
		case (cur.want == nil) == (cur.wantErr == ""):
			return fmt.Errorf("%s:%d: %s: needs exactly one of want: and error:", file, cur.line, cur.name)
		}
		out = append(out, *cur)
		cur = nil
		hexs.Reset()
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key: value, got %q", file, ln, line)
		}
		val = strings.TrimSpace(val)
		if key != "want" { // JSON may hold '#'
			val, _, _ = strings.Cut(val, "#")
			val = strings.TrimSpace(val)
		}
		if key == "name" {
			if err := finish(); err != nil {
				return nil, err
			}
			cur = &vector{file: file, name: val, line: ln}
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("%s:%d: %s: before any name:", file, ln, key)
		}
		switch key {
		case "hex":
			hexs.WriteString(strings.Join(strings.Fields(val), ""))
		case "want":
			p, err := parseWant(val)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %v", file, ln, cur.name, err)
			}
			cur.want = p
		case "error":
			cur.wantErr = val
		case "encodes":
			if cur.encodes, err = hex.DecodeString(strings.Join(strings.Fields(val), "")); err != nil {
				return nil, fmt.Errorf("%s:%d: %s: encodes: %v", file, ln, cur.name, err)
			}
		case "append-error":
			cur.appendError = val
		default:
			return nil, fmt.Errorf("%s:%d: unknown key %q", file, ln, key)
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return out, sc.Err()
}

var typesByName = func() map[string]packet.Type {
	m := map[string]packet.Type{}
	for t := packet.TypeConnect; t <= packet.TypeDisconnect; t++ {
		m[t.String()] = t
	}
	return m
}()

// parseWant turns the JSON of a want: line into the concrete packet. Keys
// are the Go field names, plus "type"; byte-slice fields ([]byte) are hex
// strings, SUBACK return codes an array of numbers. Unknown keys fail.
func parseWant(s string) (packet.Packet, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	var tn string
	if err := json.Unmarshal(m["type"], &tn); err != nil {
		return nil, fmt.Errorf("type: %v", err)
	}
	t, ok := typesByName[tn]
	if !ok {
		return nil, fmt.Errorf("unknown type %q", tn)
	}
	delete(m, "type")
	p := packet.New(t)
	v := reflect.ValueOf(p).Elem()
	for k, raw := range m {
		f := v.FieldByName(k)
		if !f.IsValid() {
			return nil, fmt.Errorf("%v has no field %s", t, k)
		}
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Uint8 {
			if f.Type() == reflect.TypeFor[[]byte]() {
				var h string
				if err := json.Unmarshal(raw, &h); err != nil {
					return nil, fmt.Errorf("%s: %v", k, err)
				}
				b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
				if err != nil {
					return nil, fmt.Errorf("%s: %v", k, err)
				}
				f.SetBytes(b)
				continue
			}
			var ns []uint8
			var ints []int
			if err := json.Unmarshal(raw, &ints); err != nil {
				return nil, fmt.Errorf("%s: %v", k, err)
			}
			for _, n := range ints {
				ns = append(ns, uint8(n))
			}
			sl := reflect.MakeSlice(f.Type(), len(ns), len(ns))
			for i, n := range ns {
				sl.Index(i).SetUint(uint64(n))
			}
			f.Set(sl)
			continue
		}
		if err := json.Unmarshal(raw, f.Addr().Interface()); err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
	}
	return p, nil
}

// checkVectorError checks a malformed vector's error: io.ErrUnexpectedEOF
// for "unexpected EOF", else a *ProtocolError with exactly that Rule that
// matches ErrProtocol and names the packet's type (or none).
func checkVectorError(t *testing.T, v vector, err error) *packet.ProtocolError {
	t.Helper()
	if v.wantErr == "unexpected EOF" {
		if err != io.ErrUnexpectedEOF {
			t.Errorf("error %v, want io.ErrUnexpectedEOF", err)
		}
		return nil
	}
	var pe *packet.ProtocolError
	if !errors.As(err, &pe) {
		t.Errorf("error %v (%T), want a *ProtocolError [%s]", err, err, v.wantErr)
		return nil
	}
	if pe.Rule != v.wantErr {
		t.Errorf("rule %q (%v), want %q", pe.Rule, err, v.wantErr)
	}
	if !errors.Is(err, packet.ErrProtocol) {
		t.Errorf("errors.Is(%v, ErrProtocol) is false", err)
	}
	if !errors.Is(err, &packet.ProtocolError{Rule: v.wantErr}) {
		t.Errorf("errors.Is(%v, &ProtocolError{Rule: %q}) is false", err, v.wantErr)
	}
	if pe.Kind == nil || !errors.Is(err, pe.Kind) {
		t.Errorf("error %v has no kind sentinel", err)
	}
	if typ := packet.Type(v.wire[0] >> 4); pe.Type != 0 && pe.Type != typ {
		t.Errorf("error names %v, the packet is %v", pe.Type, typ)
	}
	return pe
}

// TestVectors checks every shared vector exactly. A valid vector decodes,
// with Decode and with a Reader, to the whole expected struct, takes all its
// bytes, and encodes back to the same bytes; a malformed one fails with a
// *ProtocolError naming exactly its rule, or io.ErrUnexpectedEOF.
//
// Among them, the vectors check: [MQTT-1.5.3-1] [MQTT-1.5.3-2] [MQTT-1.5.3-3]
// [MQTT-2.2.2-1] [MQTT-2.3.1-1] [MQTT-2.3.1-5] [MQTT-3.1.2-1]
// [MQTT-3.1.2-3] [MQTT-3.1.2-9] [MQTT-3.1.2-13] [MQTT-3.1.2-14] [MQTT-3.1.2-15]
// [MQTT-3.1.2-18] [MQTT-3.1.2-19] [MQTT-3.1.2-20] [MQTT-3.1.2-21]
// [MQTT-3.1.2-22] [MQTT-3.1.3-1] [MQTT-3.1.3-3] [MQTT-3.1.3-4]
// [MQTT-3.1.3-7] [MQTT-3.1.3-10] [MQTT-3.1.3-11] [MQTT-3.2.2-4]
// [MQTT-3.3.1-2] [MQTT-3.3.1-4] [MQTT-3.3.2-1] [MQTT-3.3.2-2]
// [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.8.3-1] [MQTT-3.8.3-3]
// [MQTT-3.8.3-4] [MQTT-3.9.3-2] [MQTT-3.10.1-1] [MQTT-3.10.3-1]
// [MQTT-3.10.3-2] [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.1-3]
// [MQTT-4.7.3-1] [MQTT-4.7.3-2].
func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			p, n, err := packet.Decode(v.wire)
			rp, rerr := packet.NewReader(bytes.NewReader(v.wire)).ReadPacket()
			if v.wantErr != "" {
				if err == nil {
					t.Fatalf("Decode = %v, want error %s", p, v.wantErr)
				}
				checkVectorError(t, v, err)
				if rerr == nil {
					t.Fatalf("ReadPacket = %v, want error %s", rp, v.wantErr)
				}
				checkVectorError(t, v, rerr)
				return
			}
			require.NoError(t, err, "Decode")
			if n != len(v.wire) {
				t.Errorf("Decode took %d of %d bytes", n, len(v.wire))
			}
			if d := cmp.Diff(v.want, p, equateEmpty); d != "" {
				t.Errorf("Decode (-want +got):\n%s", d)
			}
			require.NoError(t, rerr, "ReadPacket")
			if d := cmp.Diff(v.want, rp, equateEmpty); d != "" {
				t.Errorf("ReadPacket (-want +got):\n%s", d)
			}
			enc := v.wire
			if v.encodes != nil {
				enc = v.encodes
			}
			got, err := packet.AppendIllegal(nil, p)
			require.NoError(t, err)
			if !bytes.Equal(got, enc) {
				t.Errorf("AppendIllegal = % x, want % x", got, enc)
			}
			got, err = p.Append(nil)
			if v.appendError != "" {
				if !errors.Is(err, &packet.ProtocolError{Rule: v.appendError}) {
					t.Errorf("Append error %v, want [%s]", err, v.appendError)
				}
				return
			}
			require.NoError(t, err, "Append")
			if !bytes.Equal(got, enc) {
				t.Errorf("Append = % x, want % x", got, enc)
			}
			if p.Len() != len(enc) {
				t.Errorf("Len = %d, want %d", p.Len(), len(enc))
			}
		})
	}
}

// TestVectorsCoverDecoder checks that every preallocated error of the
// decoder is produced by at least one vector, so that each check has a
// named, shared malformed example.
func TestVectorsCoverDecoder(t *testing.T) {
	var got []*packet.ProtocolError
	for _, v := range loadVectors(t) {
		if v.wantErr == "" {
			continue
		}
		_, _, err := packet.Decode(v.wire)
		var pe *packet.ProtocolError
		if errors.As(err, &pe) {
			got = append(got, pe)
		}
	}
	for name, e := range packet.DecodeErrors {
		hit := slices.ContainsFunc(got, func(g *packet.ProtocolError) bool {
			// Type-less shared errors come back as typed copies.
			return g == e || e.Type == 0 && g.Rule == e.Rule && g.Reason == e.Reason && g.Kind == e.Kind
		})
		if !hit {
			t.Errorf("no vector produces %s (%v)", name, e)
		}
	}
}

// TestErrorTablesComplete checks the tables of export_test.go against the
// source: every package-level err* variable and every rule table built with
// newIDRules or newEmptyRules is listed, so a new check cannot go without a
// vector or an encoding test unnoticed.
func TestErrorTablesComplete(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					call, ok := vs.Values[i].(*ast.CallExpr)
					if !ok {
						continue
					}
					fn, _ := call.Fun.(*ast.Ident)
					switch {
					case fn == nil:
					case fn.Name == "perr":
						names = append(names, id.Name)
					case fn.Name == "newIDRules":
						names = append(names, id.Name+".badFlags", id.Name+".badLen", id.Name+".zeroID")
					case fn.Name == "newEmptyRules":
						names = append(names, id.Name+".badFlags", id.Name+".badLen")
					}
				}
			}
		}
	}
	require.NotEmpty(t, names)
	listed := map[string]bool{}
	for n := range packet.DecodeErrors {
		listed[n] = true
	}
	for n := range packet.EncodeOnlyErrors {
		if listed[n] {
			t.Errorf("%s is in both tables", n)
		}
		listed[n] = true
	}
	for _, n := range names {
		if !listed[n] {
			t.Errorf("%s is in the source but in neither DecodeErrors nor EncodeOnlyErrors (export_test.go)", n)
		}
		delete(listed, n)
	}
	for n := range listed {
		t.Errorf("%s is listed in export_test.go but not declared with perr in the source", n)
	}
}
