package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
)

// TestConformancePassesJSONAndJUnit runs a few checks against mochi with
// JSON output and a JUnit file.
func TestConformancePassesJSONAndJUnit(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	junit := filepath.Join(t.TempDir(), "report.xml")
	code, out, errOut := runCmd(t, "", "conformance", "-run", "^publish-subscribe|publish-qos3|subscribe-refused",
		"-prefix", "clitest", "--format", "json", "--junit", junit, b.URI("tcp"))
	require.Equal(t, exitOK, code, "stdout: %s\nstderr: %s", out, errOut)

	var rep struct {
		Broker  string
		Summary struct{ Total, Passed, Failed, Skipped int }
		Results []struct {
			Name, Status, Reason string
			Rules                []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Equal(t, b.URI("tcp"), rep.Broker)
	require.Equal(t, 5, rep.Summary.Total)
	require.Equal(t, 4, rep.Summary.Passed)
	require.Equal(t, 1, rep.Summary.Skipped)
	for _, r := range rep.Results {
		if r.Name == "subscribe-refused" {
			require.Equal(t, "skip", r.Status)
			require.Contains(t, r.Reason, "not configured")
		}
	}

	raw, err := os.ReadFile(junit)
	require.NoError(t, err)
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Skipped  int `xml:"skipped,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(raw, &suites), string(raw))
	require.Len(t, suites.Suites, 1)
	require.Equal(t, 5, suites.Suites[0].Tests)
	require.Equal(t, 0, suites.Suites[0].Failures)
	require.Equal(t, 1, suites.Suites[0].Skipped)
}

// TestConformanceFailureShowsRuleAndBytes runs a check mochi fails and
// looks for the rule, what was sent in hex, what came back, and exit code 3.
func TestConformanceFailureShowsRuleAndBytes(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	code, out, errOut := runCmd(t, "", "conformance", "-run", "^bad-protocol-level$", "-prefix", "clifail", b.URI("tcp"))
	require.Equal(t, exitInvalid, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, out, "FAIL    bad-protocol-level")
	require.Contains(t, out, "breaks [MQTT-3.1.2-2]")
	require.Contains(t, out, "CONNECT{protocol=MQTT/6")
	require.Contains(t, out, "[10 16 00 04 4d 51 54 54 06") // the CONNECT as sent
	require.Contains(t, out, "[20 02 00 82]")               // mochi's answer
	require.Contains(t, out, "1 checks: 0 passed, 1 failed, 0 skipped")
}

// TestConformanceSelectByStatement picks checks by statement id.
func TestConformanceSelectByStatement(t *testing.T) {
	code, out, _ := runCmd(t, "", "conformance", "-list", "-run", `MQTT-3\.3\.1-4`)
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "publish-qos3")
	require.NotContains(t, out, "retained")
}

// TestConformanceErrors covers an unreachable broker and bad flags.
func TestConformanceErrors(t *testing.T) {
	code, _, errOut := runCmd(t, "", "conformance", "tcp://127.0.0.1:1")
	require.Equal(t, exitFailure, code)
	require.Contains(t, errOut, "unreachable")

	for _, args := range [][]string{
		{"conformance"},
		{"conformance", "-run", "(", "tcp://127.0.0.1:1883"},
		{"conformance", "-run", "no-such-check", "tcp://127.0.0.1:1883"},
		{"conformance", "--format", "xml", "tcp://127.0.0.1:1883"},
		{"conformance", "-P", "x", "tcp://127.0.0.1:1883"},
		{"conformance", "-refused-filter", "a/#/b", "tcp://127.0.0.1:1883"},
		{"conformance", "-prefix", "a/b", "tcp://127.0.0.1:1883"},
		{"conformance", "bogus://x"},
	} {
		code, _, errOut := runCmd(t, "", args...)
		require.Equal(t, exitUsage, code, "%v: %s", args, errOut)
	}
}
