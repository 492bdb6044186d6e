package main

import (
	"encoding/json"
	"encoding/xml"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/brokercheck"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
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
	require.Contains(t, out, "1 checks: 0 passed, 1 failed, 0 timed out, 0 skipped")
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

// eagerServer listens on 127.0.0.1 and answers like a broker that routes
// nothing and sends a PUBLISH before every SUBACK: the server that once
// hung the whole run.
func eagerServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveEach(t, ln, func(c net.Conn) {
		defer c.Close()
		rd, w := packet.NewReader(c), packet.NewWriter(c)
		for {
			p, err := rd.ReadPacket()
			if err != nil {
				return
			}
			var out []packet.Packet
			switch p := p.(type) {
			case *packet.Connect:
				out = []packet.Packet{&packet.Connack{}}
			case *packet.Subscribe:
				codes := make([]packet.SubackCode, len(p.Subscriptions))
				out = []packet.Packet{&packet.Publish{Topic: "early", Payload: []byte("x")},
					&packet.Suback{PacketID: p.PacketID, ReturnCodes: codes}}
			case *packet.Publish:
				if p.QoS == 1 {
					out = []packet.Packet{&packet.Puback{PacketID: p.PacketID}}
				}
			case *packet.Pingreq:
				out = []packet.Packet{&packet.Pingresp{}}
			}
			for _, q := range out {
				if w.WritePacket(q) != nil {
					return
				}
			}
		}
	})
	return "tcp://" + ln.Addr().String()
}

// TestConformanceBoundedAgainstScriptedServer runs checks against a server
// on 127.0.0.1 that sends a PUBLISH before each SUBACK and routes nothing,
// with a limit of 300 ms: the run ends, each check within its limit (and
// a margin for a loaded machine), timeouts are reported with their
// transcripts, and the exit code is 3.
func TestConformanceBoundedAgainstScriptedServer(t *testing.T) {
	uri := eagerServer(t)
	code, out, errOut := runCmd(t, "", "conformance", "-run", "^(publish-subscribe-qos1|retained-delete|pingreq|offline-queue|unsubscribe)$",
		"-timeout", "300ms", "-parallel", "2", "--format", "json", uri)
	require.Equal(t, exitInvalid, code, "stdout: %s\nstderr: %s", out, errOut)
	var rep brokercheck.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Equal(t, 5, rep.Summary.Total)
	status := map[string]brokercheck.Result{}
	for _, r := range rep.Results {
		status[r.Name] = r
		require.LessOrEqual(t, r.Duration, r.Limit+2*time.Second, "%s ran past its limit", r.Name)
		require.Equal(t, 300*time.Millisecond, r.Limit)
	}
	require.Equal(t, brokercheck.Pass, status["pingreq"].Status)
	r := status["retained-delete"]
	require.Equal(t, brokercheck.Timeout, r.Status, r.Reason)
	require.NotEmpty(t, r.Transcript)
	require.Equal(t, "MQTT-3.3.1-10", r.Rule)
}

// TestConformanceListStatements checks that -list shows every statement
// that binds the server with its checks or the reason it has none.
func TestConformanceListStatements(t *testing.T) {
	code, out, _ := runCmd(t, "", "conformance", "-list")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "interop-overlapping-subscriptions")
	require.Contains(t, out, "overlapping subscriptions")
	require.Regexp(t, `MQTT-3\.3\.5-1 +interop-overlapping-subscriptions overlapping-subscriptions`, out)
	require.Regexp(t, `MQTT-4\.7\.3-3 +not observable by a client: `, out)
	require.Regexp(t, `MQTT-3\.3\.5-2 +not checked yet: `, out)
	covered := 0
	for _, cv := range brokercheck.Statements(brokercheck.Checks()) {
		require.Contains(t, out, cv.ID)
		covered++
	}
	require.GreaterOrEqual(t, covered, 108)
}
