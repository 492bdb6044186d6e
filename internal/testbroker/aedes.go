package testbroker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// AedesConfig configures StartAedes. The zero value is a broker that
// allows every client, publication and subscription.
type AedesConfig struct {
	// RefusedFilter, when set, is a topic filter whose subscriptions the
	// broker refuses with the SUBACK return code 0x80.
	RefusedFilter string
}

// Aedes is a running aedes process (Node.js).
type Aedes struct {
	Addr    string // host:port of its TCP listener on 127.0.0.1
	Version string // aedes's version, as the broker reported it

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.Closer
	exited chan struct{}
	out    *LockedBuffer
}

// URI returns tcp://<Addr>.
func (a *Aedes) URI() string { return "tcp://" + a.Addr }

// Output returns what the broker printed.
func (a *Aedes) Output() string { return a.out.String() }

// aedesMinNode is the oldest Node.js major version aedes 1.x runs on (its
// package.json says "node": ">=20").
const aedesMinNode = 20

// AedesDir returns the directory of the aedes test broker: broker.mjs,
// package.json and package-lock.json, and node_modules once installed.
func AedesDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", errors.New("cannot locate internal/testbroker's source directory (built with -trimpath?)")
	}
	dir := filepath.Join(filepath.Dir(file), "testdata", "aedes")
	if _, err := os.Stat(filepath.Join(dir, "broker.mjs")); err != nil {
		return "", err
	}
	return dir, nil
}

// aedesSetup is the outcome of preparing aedes, once per test binary.
type aedesSetup struct {
	node    string // path of node
	dir     string // AedesDir
	version string // the aedes version package.json pins
	err     error  // why aedes is not available
}

var (
	aedesOnce  sync.Once
	aedesReady aedesSetup
)

// RequireAedes makes sure Node.js and the aedes version pinned in
// testdata/aedes/package.json are installed, running `npm ci` there the
// first time (once per test binary; node_modules is kept for later runs).
// It skips t when they are not available, or fails it when
// LINNET_REQUIRE_AEDES=1. It returns the path of node and the directory of
// broker.mjs.
func RequireAedes(t testing.TB) (node, dir string) {
	t.Helper()
	return requireAedes(t, prepareAedes())
}

// AedesAvailable prepares aedes like RequireAedes and says why it is not
// available, or nil when it is; it neither skips nor fails a test.
func AedesAvailable() error { return prepareAedes().err }

func prepareAedes() aedesSetup {
	aedesOnce.Do(func() { aedesReady = setupAedes() })
	return aedesReady
}

// requireAedes skips or fails t when s says aedes is not available.
func requireAedes(t testing.TB, s aedesSetup) (node, dir string) {
	t.Helper()
	if s.err != nil {
		if os.Getenv("LINNET_REQUIRE_AEDES") == "1" {
			t.Fatalf("testbroker: aedes is not available and LINNET_REQUIRE_AEDES=1: %v", s.err)
		}
		t.Skipf("testbroker: aedes is not available (needs Node.js %d+ and npm; .ci/run installs them); skipping: %v", aedesMinNode, s.err)
	}
	return s.node, s.dir
}

func setupAedes() aedesSetup {
	var s aedesSetup
	s.dir, s.err = AedesDir()
	if s.err != nil {
		return s
	}
	if s.node, s.err = exec.LookPath("node"); s.err != nil {
		return s
	}
	out, err := exec.Command(s.node, "--version").Output()
	if err != nil {
		s.err = fmt.Errorf("node --version: %w", err)
		return s
	}
	m := regexp.MustCompile(`^v(\d+)\.`).FindSubmatch(out)
	if m == nil {
		s.err = fmt.Errorf("node --version printed %q", bytes.TrimSpace(out))
		return s
	}
	if major, _ := strconv.Atoi(string(m[1])); major < aedesMinNode {
		s.err = fmt.Errorf("aedes needs Node.js %d or later; node is %s", aedesMinNode, bytes.TrimSpace(out))
		return s
	}
	if s.version, s.err = pinnedAedes(s.dir); s.err != nil {
		return s
	}
	if installedAedes(s.dir) == s.version {
		return s
	}
	s.err = npmCI(s.dir, s.version)
	if s.err == nil && installedAedes(s.dir) != s.version {
		s.err = fmt.Errorf("npm ci in %s did not install aedes %s", s.dir, s.version)
	}
	return s
}

// pinnedAedes returns the exact aedes version package.json asks for.
func pinnedAedes(dir string) (string, error) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil {
		return "", err
	}
	v := pkg.Dependencies["aedes"]
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		return "", fmt.Errorf("%s: aedes %q is not an exact version", filepath.Join(dir, "package.json"), v)
	}
	return v, nil
}

// installedAedes returns the version of aedes in dir's node_modules, or ""
// when there is none.
func installedAedes(dir string) string {
	var pkg struct {
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "aedes", "package.json"))
	if err != nil || json.Unmarshal(b, &pkg) != nil {
		return ""
	}
	return pkg.Version
}

// npmCI installs the locked dependencies of dir into dir/node_modules. It
// installs into a directory of its own and renames the result into place,
// so test binaries that install at the same time (go test runs packages in
// parallel) never see a half-written node_modules.
func npmCI(dir, version string) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, f := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "NPM_CONFIG_UPDATE_NOTIFIER=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	modules := filepath.Join(dir, "node_modules")
	if installedAedes(dir) == version {
		return nil // another test binary installed it meanwhile
	}
	if err := os.RemoveAll(modules); err != nil { // an older install
		return err
	}
	if err := os.Rename(filepath.Join(tmp, "node_modules"), modules); err != nil {
		// Another test binary may have put its install in place first.
		if installedAedes(dir) == version {
			return nil
		}
		return err
	}
	return nil
}

// StartAedes starts aedes on 127.0.0.1 on a port the kernel chooses and
// stops it when the test ends. It skips or fails t like RequireAedes when
// aedes is not available.
func StartAedes(t testing.TB, cfg AedesConfig) *Aedes {
	t.Helper()
	node, dir := RequireAedes(t)
	a := &Aedes{out: &LockedBuffer{}}
	ready := &readyWriter{w: a.out, ready: make(chan string, 1)}
	args := []string{filepath.Join(dir, "broker.mjs"), "0"}
	if cfg.RefusedFilter != "" {
		args = append(args, cfg.RefusedFilter)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = ready, a.out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("testbroker: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testbroker: starting aedes: %v", err)
	}
	a.cmd, a.stdin, a.exited = cmd, stdin, make(chan struct{})
	go func() { _ = cmd.Wait(); close(a.exited) }()
	t.Cleanup(a.Stop)

	m := regexp.MustCompile(`^aedes (\S+) listening on (127\.0\.0\.1:\d+)$`)
	select {
	case line := <-ready.ready:
		sm := m.FindStringSubmatch(line)
		if sm == nil {
			t.Fatalf("testbroker: aedes printed %q, want its ready line\n%s", line, a.out.String())
		}
		a.Version, a.Addr = sm[1], sm[2]
	case <-a.exited:
		t.Fatalf("testbroker: aedes exited before it listened: %s\n%s", cmd.ProcessState, a.out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("testbroker: aedes did not print its ready line within 30 s\n%s", a.out.String())
	}
	return a
}

// Stop closes the broker's standard input, which makes it close its clients
// and exit, and waits for it; it kills the process if it is still there
// after ten seconds. It is idempotent.
func (a *Aedes) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return
	}
	_ = a.stdin.Close()
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
	a.cmd = nil
}

// readyWriter copies a process's output to w and sends its first line on
// ready.
type readyWriter struct {
	w     io.Writer
	ready chan string
	mu    sync.Mutex
	line  []byte
	sent  bool
}

func (r *readyWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	if !r.sent {
		r.line = append(r.line, p...)
		if i := bytes.IndexByte(r.line, '\n'); i >= 0 {
			r.ready <- strings.TrimRight(string(r.line[:i]), "\r")
			r.sent, r.line = true, nil
		}
	}
	r.mu.Unlock()
	return r.w.Write(p)
}
