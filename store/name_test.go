package store_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

func TestEscapeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "%"},
		{"client-1", "client-1"},
		{"Device", "%44evice"},
		{"a_b.c-d", "a_b.c-d"},
		{".", "%2E"},
		{"..", "%2E%2E"},
		{"...", "%2E%2E%2E"},
		{".a", ".a"},
		{"a.", "a%2E"},
		{"../../etc", "..%2F..%2Fetc"},
		{"/etc/passwd", "%2Fetc%2Fpasswd"},
		{"a\x00b", "a%00b"},
		{`C:\x`, `%43%3A%5Cx`},
		{"tcp://127.0.0.1:1883", "tcp%3A%2F%2F127.0.0.1%3A1883"},
		{"%41", "%2541"},
		{"~", "%7E"},
		{"con", "%63on"},
		{"nul.txt", "%6Eul.txt"},
		{"com1", "%63om1"},
		{"console", "console"},
		{"ü", "%C3%BC"},
	}
	for _, tt := range tests {
		got := store.EscapeName(tt.in)
		require.Equal(t, tt.want, got, "escapeName(%q)", tt.in)
		back, ok := store.UnescapeName(got)
		require.True(t, ok, "unescapeName(%q)", got)
		require.Equal(t, tt.in, back)
	}
}

func TestEscapeNameLong(t *testing.T) {
	a := strings.Repeat("x", 5000) + "a"
	b := strings.Repeat("x", 5000) + "b"
	ea, eb := store.EscapeName(a), store.EscapeName(b)
	require.NotEqual(t, ea, eb)
	require.LessOrEqual(t, len(ea), store.MaxNameLen)
	require.True(t, strings.HasPrefix(ea, "xxxx"), "a readable prefix is kept: %q", ea)
	require.Contains(t, ea, "~")
	_, ok := store.UnescapeName(ea)
	require.False(t, ok, "hashed names do not decode")

	// An escape sequence is never cut in half, and no trailing dot is left.
	for _, s := range []string{strings.Repeat("/", 500), strings.Repeat("./", 300), strings.Repeat(".", 400) + "x"} {
		e := store.EscapeName(s)
		require.LessOrEqual(t, len(e), store.MaxNameLen)
		checkEscaped(t, s, e)
	}
}

// checkEscaped checks the promises of escapeName about one result.
func checkEscaped(t *testing.T, in, e string) {
	t.Helper()
	require.NotEmpty(t, e)
	require.LessOrEqual(t, len(e), store.MaxNameLen, "escapeName(%q)", in)
	require.NotEqual(t, "", strings.Trim(e, "."), "escapeName(%q) = %q is only dots", in, e)
	require.False(t, strings.HasSuffix(e, "."), "escapeName(%q) = %q ends in a dot", in, e)
	head, _, _ := strings.Cut(e, "~")
	for i := 0; i < len(head); i++ {
		c := head[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
		if c == '%' {
			if e == "%" {
				continue
			}
			require.Less(t, i+2, len(head), "escapeName(%q) = %q cuts an escape", in, e)
			i += 2
			continue
		}
		require.True(t, ok, "escapeName(%q) = %q has byte %q", in, e, c)
	}
	if !strings.Contains(e, "~") {
		back, ok := store.UnescapeName(e)
		require.True(t, ok)
		require.Equal(t, in, back)
	}
}

// FuzzEscapeName checks that every escaped name is a safe, single path
// component that decodes back to its input.
func FuzzEscapeName(f *testing.F) {
	for _, s := range []string{"", ".", "..", "../../etc", "con", "A", "%41", strings.Repeat("é", 100), "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkEscaped(t, s, store.EscapeName(s))
	})
}

func TestEscapeNameInjectiveOnCaseInsensitiveFS(t *testing.T) {
	ids := []string{"a", "A", "%41", "%61", "ab", "aB", "Ab", "AB", "", "%", ".", "..", "con", "CON", "Con"}
	seen := map[string]string{}
	for _, id := range ids {
		e := strings.ToLower(store.EscapeName(id))
		if prev, dup := seen[e]; dup {
			t.Fatalf("%q and %q both map to %q (ignoring case)", prev, id, e)
		}
		seen[e] = id
	}
}
