package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDumpHexExpression(t *testing.T) {
	code, out, _ := runCmd(t, "", "dump", "-e", "30 07 00 03 61 2f 62 68 69  82 06 00 01 00 01 23 01")
	require.Equal(t, exitOK, code)
	require.Equal(t, "000000  PUBLISH{topic=\"a/b\" qos=0 id=0 dup=false retain=false payload=2 bytes}\n"+
		"000009  SUBSCRIBE{id=1 \"#\":1}\n", out)
}

// TestDumpReportsRuleAndOffset checks that dump names the broken rule and
// where the bad packet starts, and stops there.
func TestDumpReportsRuleAndOffset(t *testing.T) {
	code, out, _ := runCmd(t, "", "dump", "-e", "c0 00  36 02 00 01  c0 00")
	require.Equal(t, exitInvalid, code)
	require.Equal(t, "000000  PINGREQ\n000002  INVALID: mqtt: PUBLISH: QoS 3 [MQTT-3.3.1-4]\n", out)
}

func TestDumpTruncated(t *testing.T) {
	code, out, _ := runCmd(t, "", "dump", "-e", "30 07 00 03")
	require.Equal(t, exitInvalid, code)
	require.Equal(t, "000000  TRUNCATED: 4 bytes left, not a whole packet\n", out)
}

func TestDumpRawStdinAndFile(t *testing.T) {
	raw := []byte{0xd0, 0x00, 0xe0, 0x00}
	code, out, _ := runCmd(t, string(raw), "dump", "-v")
	require.Equal(t, exitOK, code)
	require.Equal(t, "000000  PINGRESP\n        d0 00\n000002  DISCONNECT\n        e0 00\n", out)

	path := filepath.Join(t.TempDir(), "stream.hex")
	require.NoError(t, os.WriteFile(path, []byte("# a comment line\n0xd0 0x00 # PINGRESP\n"), 0o600))
	code, out, _ = runCmd(t, "", "dump", "-x", path)
	require.Equal(t, exitOK, code)
	require.Equal(t, "000000  PINGRESP\n", out)
}

func TestDumpBadInput(t *testing.T) {
	code, _, errOut := runCmd(t, "", "dump", "-e", "zz")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, `"zz" is not hex`)

	code, _, errOut = runCmd(t, "", "dump", "-e", "d00")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "odd number")

	code, _, errOut = runCmd(t, "", "dump", filepath.Join(t.TempDir(), "missing"))
	require.Equal(t, exitFailure, code)
	require.Contains(t, errOut, "no such file")

	code, _, _ = runCmd(t, "", "dump", "-nosuchflag")
	require.Equal(t, exitUsage, code)
}

func TestUsageAndVersion(t *testing.T) {
	code, _, errOut := runCmd(t, "")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "Commands:")

	code, _, errOut = runCmd(t, "", "frobnicate")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, `unknown command "frobnicate"`)

	code, out, _ := runCmd(t, "", "--help")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "dump")

	code, out, _ = runCmd(t, "", "version")
	require.Equal(t, exitOK, code)
	require.True(t, strings.HasPrefix(out, "linnet "), out)

	code, _, errOut = runCmd(t, "", "dump", "-h")
	require.Equal(t, exitOK, code)
	require.Contains(t, errOut, "Usage: linnet dump")
}
