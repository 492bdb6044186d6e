package dms_test

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

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/gotool"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
)

// constrainedTags is the constrained build: no WebSocket, no TLS, no
// log/slog.
const constrainedTags = "linnet_nows,linnet_notls,linnet_noslog"

// minimalAgentGoal is the size goal of testdata/minimal (redirect, DMS,
// heartbeat, RRPC echo) built with constrainedTags, stripped and trimmed:
// 2.9 MB, against 2.59 MB for the client alone (client/testdata/minimal).
// It measured 2,748,681 bytes on Go 1.26.8 linux/amd64.
const minimalAgentGoal = 2_900_000

// agentLeftOut are the packages the constrained agent must not link.
var agentLeftOut = []string{"log/slog", "encoding/json", "fmt", "net/url", "crypto/tls", "net/http", "crypto", "crypto/md5"}

// TestConstrainedAgentDeps checks with go list -deps that the constrained
// build of testdata/minimal links none of agentLeftOut.
func TestConstrainedAgentDeps(t *testing.T) {
	goBin := gotool.Command(t)
	out, err := exec.Command(goBin, "list", "-deps", "-tags", constrainedTags, "./testdata/minimal").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	for _, p := range agentLeftOut {
		if slices.Contains(deps, p) {
			why, _ := exec.Command(goBin, "list", "-tags", constrainedTags, "-f", "{{.ImportPath}}: {{.Imports}}", ".").CombinedOutput()
			t.Errorf("the constrained agent links %s; the imports of dms:\n%s", p, why)
		}
	}
}

// TestMinimalBinarySize builds testdata/minimal stripped and trimmed with
// constrainedTags, checks its size against minimalAgentGoal (a failure on
// the platform the goal was set on, a note elsewhere), and runs it against
// mochi with the back-end simulator: it must reach its first acknowledged
// heartbeat and exit 0, and exit 1 against a closed port.
func TestMinimalBinarySize(t *testing.T) {
	goBin := gotool.Command(t)
	bin := filepath.Join(t.TempDir(), "minimal-agent")
	cmd := exec.Command(goBin, "build", "-tags", constrainedTags, "-ldflags=-s -w", "-trimpath", "-o", bin, "./testdata/minimal")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Run())
	fi, err := os.Stat(bin)
	require.NoError(t, err)
	size := fi.Size()
	t.Logf("constrained agent: %d bytes (%.2f MB), goal %.2f MB", size, float64(size)/1e6, float64(minimalAgentGoal)/1e6)
	if size > minimalAgentGoal {
		if gotool.GoalPlatform() {
			t.Errorf("constrained agent: %d bytes, more than the goal of %d", size, minimalAgentGoal)
		} else {
			t.Logf("over the goal, not enforced on %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		}
	}

	m := testbroker.StartMochi(t, testbroker.MochiConfig{})
	ctx := waitCtx(t)
	sim, err := dms.NewSimulator(dms.SimulatorConfig{Redirect: client.Options{Servers: []string{m.URI("tcp")}, ClientID: "sim-size"}})
	require.NoError(t, err)
	require.NoError(t, sim.Start(ctx))
	defer sim.Stop(context.Background())
	require.NoError(t, sim.Register(ctx, "dev-min", m.URI("tcp")))
	out, err := exec.CommandContext(ctx, bin, m.URI("tcp"), "dev-min").CombinedOutput()
	require.NoError(t, err, "output: %s", out)
	beats, err := sim.WaitHeartbeats(ctx, 1) // the broker may forward it after the PUBACK
	require.NoError(t, err)
	require.Equal(t, "dev-min", beats[0].DeviceID)

	closed := "tcp://" + closedAddr(t)
	out, err = exec.CommandContext(ctx, bin, closed, "dev-min").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "output: %s", out)
	require.Equal(t, 1, exit.ExitCode(), "output: %s", out)
}

// closedAddr returns a loopback address that was free a moment ago.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	return addr
}
