package client

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// minimalBuilds are the builds of testdata/minimal that TestMinimalBinarySize
// measures, with the goals of issue 5 (decimal megabytes, stripped,
// -trimpath). enforce turns a goal into a failure; it stays false while the
// goal is out of reach (see testdata/minimal/README.md for why: on Go 1.26,
// net, fmt and log/slog alone make 2.61 MB, and crypto/tls alone 4.63 MB).
// Set it once the goal is met, so that it stays met.
var minimalBuilds = []struct {
	name, tags string
	goal       int64
	enforce    bool
}{
	{"tcp-only", "linnet_nows,linnet_notls", 2_600_000, false},
	{"all-transports", "", 4_000_000, false},
}

// TestMinimalBinarySize builds testdata/minimal (connect over TCP, publish
// one QoS 1 message, disconnect) stripped and trimmed, once with the tags
// that drop TLS and WebSocket and once with every transport, and logs each
// size against its goal (go test -run MinimalBinarySize -v). A goal fails
// the test only when its enforce flag is set. The builds use the build cache,
// so a rerun takes a few seconds.
func TestMinimalBinarySize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
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
		t.Logf("%s: %d bytes (%.2f MB), goal %.2f MB", tc.name, size, float64(size)/1e6, float64(tc.goal)/1e6)
		switch {
		case size <= tc.goal && !tc.enforce:
			t.Logf("%s: the goal is met; set enforce in minimalBuilds to keep it", tc.name)
		case size > tc.goal && tc.enforce:
			t.Errorf("%s: %d bytes, more than the goal of %d", tc.name, size, tc.goal)
		case size > tc.goal:
			t.Logf("%s: %d bytes over the goal (not enforced yet)", tc.name, size-tc.goal)
		}
	}
}
