package client

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/internal/gotool"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/stretchr/testify/require"
)

// minimalBuilds are the builds of testdata/minimal that TestMinimalBinarySize
// measures, with the goals of issue 5 (decimal megabytes, stripped,
// -trimpath). enforce turns a goal into a failure; it stays false while the
// goal is out of reach (see testdata/minimal/README.md for why: crypto/tls
// alone makes 4.63 MB on Go 1.26). Once a goal is met, enforce keeps it met:
// the constrained build's is. It was 2.6 MB (2,593,033 bytes on Go 1.26.8
// linux/amd64 in session 4); session 5's fixes of issue 13 (PublishAsync
// durable on return, keep-alive that never lapses, re-sends through the
// window, the idle release) cost 24.6 KB, and the budget is 2.62 MB until
// the project restates it (docs/decisions.md, "Binary size").
var minimalBuilds = []struct {
	name, tags string
	goal       int64
	enforce    bool
}{
	// The constrained build: no WebSocket, no TLS, no log/slog.
	{"constrained", "linnet_nows,linnet_notls,linnet_noslog", 2_620_000, true},
	// The same with log/slog, for the record.
	{"tcp-only", "linnet_nows,linnet_notls", 0, false},
	{"all-transports", "", 4_000_000, false},
}

// constrainedLeftOut are the packages that the constrained build of
// testdata/minimal must not link: each costs 0.2-0.4 MB.
var constrainedLeftOut = []string{"log/slog", "encoding/json", "fmt", "net/url", "crypto/tls", "net/http"}

// TestConstrainedDeps checks with go list -deps that the constrained build
// of testdata/minimal links none of constrainedLeftOut: cheaper and more
// precise than the size, and it names the culprit.
func TestConstrainedDeps(t *testing.T) {
	goBin := gotool.Command(t)
	out, err := exec.Command(goBin, "list", "-deps", "-tags", minimalBuilds[0].tags, "./testdata/minimal").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	for _, p := range constrainedLeftOut {
		if slices.Contains(deps, p) {
			args := []string{"list", "-tags", minimalBuilds[0].tags, "-f", "{{.ImportPath}}: {{.Imports}}"}
			for _, lib := range []string{"packet", "store", "session", "transport", "client"} {
				args = append(args, "github.com/linnet-mqtt/linnet/"+lib)
			}
			why, _ := exec.Command(goBin, args...).CombinedOutput()
			t.Errorf("the constrained build links %s; imports of the library packages:\n%s", p, why)
		}
	}
}

// TestMinimalBinarySize builds testdata/minimal (connect over TCP, publish
// one QoS 1 message, disconnect) stripped and trimmed with the tag sets of
// minimalBuilds, logs each size against its goal (go test -run
// MinimalBinarySize -v), and runs the constrained binary against the
// embedded broker to show that what was measured works. A goal fails the
// test only when its enforce flag is set. The builds use the build cache,
// so a rerun takes a few seconds.
func TestMinimalBinarySize(t *testing.T) {
	goBin := gotool.Command(t)
	dir := t.TempDir()
	for _, tc := range minimalBuilds {
		out := filepath.Join(dir, tc.name)
		cmd := exec.Command(goBin, "build", "-tags", tc.tags, "-ldflags=-s -w", "-trimpath", "-o", out, "./testdata/minimal")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		size := fi.Size()
		if tc.goal == 0 {
			t.Logf("%s: %d bytes (%.2f MB), no goal", tc.name, size, float64(size)/1e6)
			continue
		}
		t.Logf("%s: %d bytes (%.2f MB), goal %.2f MB", tc.name, size, float64(size)/1e6, float64(tc.goal)/1e6)
		switch {
		case size <= tc.goal && !tc.enforce:
			t.Logf("%s: the goal is met; set enforce in minimalBuilds to keep it", tc.name)
		case size > tc.goal && tc.enforce && gotool.GoalPlatform():
			t.Errorf("%s: %d bytes, more than the goal of %d", tc.name, size, tc.goal)
		case size > tc.goal && tc.enforce:
			t.Logf("%s: %d bytes over the goal, not enforced on %s %s/%s", tc.name, size-tc.goal, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		case size > tc.goal:
			t.Logf("%s: %d bytes over the goal (not enforced yet)", tc.name, size-tc.goal)
		}
	}
	t.Run("run", func(t *testing.T) { runMinimal(t, filepath.Join(dir, minimalBuilds[0].name)) })
}

// runMinimal runs the minimal program at bin against mochi and checks that
// it exits 0 and that a subscriber gets its message at QoS 1; then runs it
// against a closed port and checks that it fails with exit code 1.
func runMinimal(t *testing.T, bin string) {
	m := testbroker.StartMochi(t, testbroker.MochiConfig{})
	b := brokerTarget{"mochi-tcp", m.URI("tcp"), nil}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan *Message, 1)
	sub := b.connected(t, "minimal-sub", nil)
	_, err := sub.Subscribe(ctx, func(m *Message) { got <- m }, Subscription{Filter: "minimal", QoS: packet.QoS1})
	require.NoError(t, err)

	out, err := exec.CommandContext(ctx, bin, b.uri).CombinedOutput()
	require.NoError(t, err, "output: %s", out)
	select {
	case msg := <-got:
		require.Equal(t, "hello", string(msg.Payload))
		require.Equal(t, packet.QoS1, msg.QoS)
	case <-ctx.Done():
		t.Fatal("the subscriber got nothing from the minimal program")
	}

	// A port that was just free: the connect is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "tcp://" + l.Addr().String()
	l.Close()
	cmd := exec.CommandContext(ctx, bin, closed)
	out, err = cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "against %s the minimal program should fail; output: %s", closed, out)
	require.Equal(t, 1, exit.ExitCode(), "output: %s", out)
	require.NotEmpty(t, out, "a failure should say why")
}
