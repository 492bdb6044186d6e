// Package gotool holds what the binary-size tests of client and dms share:
// finding the go command, and the platform their size goals were set on.
package gotool

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// Command returns the path of the go command, skipping t in -short runs
// (building is slow) and where there is none.
func Command(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	return goBin
}

// GoalPlatform reports whether size goals hold here: they were set and met
// for Go 1.26 on linux/amd64; another toolchain or platform links a
// different runtime, and its sizes are notes, not failures.
func GoalPlatform() bool {
	return strings.HasPrefix(runtime.Version(), "go1.26") && runtime.GOOS == "linux" && runtime.GOARCH == "amd64"
}
