package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
)

// requireMosquittoClient returns the path of a mosquitto client program,
// skipping the test when it is not installed (failing under
// LINNET_REQUIRE_MOSQUITTO=1).
func requireMosquittoClient(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("LINNET_REQUIRE_MOSQUITTO") == "1" {
			t.Fatalf("%s is not installed: %v", name, err)
		}
		t.Skipf("%s is not installed (apt install mosquitto-clients): %v", name, err)
	}
	return path
}

// timestamps are the parts of -F output that depend on the time of
// arrival: the tst of %j and %J, %I, %U and the @ fields used below.
var timestamps = regexp.MustCompile(`"tst":\s*"[^"]*"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}|\d{9,}\.\d{9}|<[^>]*>`)

// TestFormatMosquitto subscribes with mosquitto_sub and linnet sub to the
// same retained messages on a mosquitto broker, with each -F format (and
// plain, -v and -N output), and requires the same bytes, timestamps aside.
func TestFormatMosquitto(t *testing.T) {
	testbroker.RequireMosquitto(t)
	mosqSub := requireMosquittoClient(t, "mosquitto_sub")
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{})
	port := strconv.Itoa(m.Port)
	for _, msg := range []struct{ topic, payload, qos string }{
		{"fmt/text", `say "hi"` + "\t\\ é", "1"},
		{"fmt/json", `{"a": [1, 2.50, "x", {}], "b": 1e2, "c": {"d": null, "e": true}}`, "2"},
		{"fmt/bin", "a\x01b\x1f\x7f", "0"},
		// (Not a payload of digits with a leading zero: mosquitto_sub's JSON
		// library takes it for a number in %J, Go's parser rightly does not.)
		{"fmt/long/topic/name", strings.Repeat("abcdefghij", 5), "1"},
	} {
		requireExit(t, linnet(t, "", "pub", "-L", m.URI(), "-t", msg.topic, "-m", msg.payload, "-r", "-q", msg.qos), exitOK, "")
	}
	for _, args := range [][]string{
		{},
		{"-v"},
		{"-v", "-N"},
		{"-F", "%t %p %l %q %r %m"},
		{"-F", "%x|%X|%5x|%-12X|%.3p|%8p|%-8p|%020p"},
		{"-F", "%-20t|%20t|%.4t|%-6.3t|%05l|%-5l|%3m|%03q|%r"},
		{"-F", "%j"},
		{"-F", "%j", "--pretty"},
		{"-F", "%J"},
		{"-F", "%J", "--pretty"},
		{"-F", "%I %U <@Y-@m-@d @H:@M:@S.@N>"},
		{"-F", `%%\t\\@@\e%A|%4A|%C|%D|%04E|%F|%P|%R|%S`},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			common := append([]string{"-h", "127.0.0.1", "-p", port, "-t", "fmt/#", "-q", "2", "-C", "4", "-W", "20"}, args...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, mosqSub, common...)
			var mosqErr strings.Builder
			cmd.Stderr = &mosqErr
			want, err := cmd.Output()
			require.NoError(t, err, "mosquitto_sub %v: %s", common, mosqErr.String())
			r := linnet(t, "", append([]string{"sub"}, common...)...)
			require.Equal(t, exitOK, r.code, r.stderr)
			// The retained messages come in the same order to both.
			require.Equal(t, timestamps.ReplaceAllString(string(want), "T"), timestamps.ReplaceAllString(r.stdout, "T"))
			require.Equal(t, strings.Count(mosqErr.String(), "Error:"), strings.Count(r.stderr, "not valid JSON"))
		})
	}
}

// TestBenchWarnsMosquitto runs bench at QoS 2 with a window above a default
// mosquitto's in-flight limit: it loses messages, and says why.
func TestBenchWarnsMosquitto(t *testing.T) {
	testbroker.RequireMosquitto(t)
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{})
	r := linnet(t, "", "bench", "-L", m.URI(), "-mode", "throughput", "-q", "2", "-n", "2000", "-inflight", "100", "--format", "json")
	requireExit(t, r, exitOK, "")
	require.Contains(t, r.stderr, "linnet bench: warning:")
	require.Contains(t, r.stderr, "-inflight 100 is above mosquitto's default max_inflight_messages of 20")
	require.Contains(t, r.stdout, `"warnings": [`)

	r = linnet(t, "", "bench", "-L", m.URI(), "-mode", "throughput", "-q", "2", "-n", "2000", "--format", "json")
	requireExit(t, r, exitOK, "")
	require.NotContains(t, r.stderr, "warning", "the default window of 20 loses nothing")
	require.Contains(t, r.stdout, `"lost": 0`)
}
