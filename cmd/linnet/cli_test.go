package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/leaktest"
)

// linnetBin is the linnet binary built once by TestMain.
var linnetBin string

// TestMain builds the command once, runs the tests and checks that no
// goroutine is left behind (as leaktest.Main does; it is open-coded so that
// the binary's directory is removed before the process exits).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "linnet-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := buildAndRun(m, dir)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func buildAndRun(m *testing.M, dir string) int {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			goTool = "/usr/local/go/bin/go"
		}
	}
	linnetBin = filepath.Join(dir, "linnet")
	build := exec.Command(goTool, "build", "-o", linnetBin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building linnet: %v\n%s", err, out)
		return 1
	}
	before := goroutineIDs()
	code := m.Run()
	if code == 0 {
		if leaked := leaktest.Leftovers(before, 5*time.Second); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "leaktest: %d goroutine(s) still running after the tests:\n\n%s\n",
				len(leaked), strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	return code
}

func goroutineIDs() map[uint64]bool {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	ids := map[uint64]bool{}
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		var id uint64
		if _, err := fmt.Sscanf(g, "goroutine %d ", &id); err == nil {
			ids[id] = true
		}
	}
	return ids
}

// result is how a run of the binary ended.
type result struct {
	code           int
	stdout, stderr string
}

// runBound only guards against a hung binary: the commands bound
// themselves, and on a quiet machine the whole package takes seconds.
const runBound = 2 * time.Minute

// linnet runs the binary to completion with args, bounded by runBound.
func linnet(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, linnetBin, args...)
	// On timeout, SIGQUIT makes the Go runtime print every goroutine's
	// stack to stderr, which the failure message then shows.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running linnet %v: %v", args, err)
	}
	require.NoError(t, ctx.Err(), "linnet %v did not finish within %v; stdout:\n%s\nstderr: %s", args, runBound, out.String(), errOut.String())
	return result{code, out.String(), errOut.String()}
}

// requireExit checks a run's exit code and that stderr holds want (one
// line, naming the cause).
func requireExit(t *testing.T, r result, code int, want string) {
	t.Helper()
	require.Equal(t, code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	if want != "" {
		require.Contains(t, r.stderr, want)
	}
	if code != exitOK && code != exitUsage {
		require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1,
			"the error is one line: %q", r.stderr)
	}
}

// process is a linnet run in the background whose output lines can be
// awaited.
type process struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	out   []string
	err   bytes.Buffer
	done  chan struct{}
	code  int
}

func startLinnet(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{t: t, cmd: exec.Command(linnetBin, args...), lines: make(chan string, 1024), done: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.cmd.Stderr = &lockedWriter{w: &p.err, mu: &p.mu}
	require.NoError(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.out = append(p.out, sc.Text())
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		close(p.lines)
		err := p.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			p.code = ee.ExitCode()
		case err != nil:
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// waitLine waits (bounded) for an output line containing s and returns it.
func (p *process) waitLine(s string) string {
	p.t.Helper()
	timeout := time.NewTimer(45 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("linnet ended (code %d) without printing %q; output:\n%s\nstderr: %s",
					p.wait(), s, p.output(), p.stderr())
			}
			if strings.Contains(line, s) {
				return line
			}
		case <-timeout.C:
			p.t.Fatalf("no line with %q within 45s; output so far:\n%s\nstderr: %s", s, p.output(), p.stderr())
		}
	}
}

// wait waits (bounded) for the process to end and returns its exit code.
func (p *process) wait() int {
	p.t.Helper()
	go func() {
		for range p.lines { // keep the pipe drained
		}
	}()
	select {
	case <-p.done:
	case <-time.After(45 * time.Second):
		p.t.Fatalf("linnet did not exit within 45s; output:\n%s\nstderr: %s", p.output(), p.stderr())
	}
	return p.code
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.out, "\n")
}

func (p *process) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err.String()
}

// subscribedHook tells, through a channel, when a mochi client subscribed
// to a filter: the test waits for it before publishing, instead of sleeping.
type subscribedHook struct {
	mqtt.HookBase
	mu      sync.Mutex
	waiters map[string]chan struct{}
}

func (*subscribedHook) ID() string           { return "cli-test-subscribed" }
func (*subscribedHook) Provides(b byte) bool { return b == mqtt.OnSubscribed }

func (h *subscribedHook) OnSubscribed(_ *mqtt.Client, pk packets.Packet, _ []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range pk.Filters {
		if ch, ok := h.waiters[f.Filter]; ok {
			close(ch)
			delete(h.waiters, f.Filter)
		}
	}
}

// expect returns a channel closed when someone subscribes to filter.
func (h *subscribedHook) expect(filter string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiters == nil {
		h.waiters = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	h.waiters[filter] = ch
	return ch
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(45 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// closedPort returns 127.0.0.1:<port> where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	sort.Strings(lines)
	return lines
}

func decodeJSONLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "line %q", line)
		out = append(out, m)
	}
	return out
}
