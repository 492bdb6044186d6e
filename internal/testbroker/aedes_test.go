package testbroker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// subscribeQoS0 returns a SUBSCRIBE with packet id id for filter at QoS 0.
func subscribeQoS0(id byte, filter string) []byte {
	body := []byte{0x00, id, 0x00, byte(len(filter))}
	body = append(body, filter...)
	body = append(body, 0x00)
	return append([]byte{0x82, byte(len(body))}, body...)
}

// suback reads a SUBACK for one filter and returns its return code.
func suback(t *testing.T, c net.Conn, id byte) byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading SUBACK: %v", err)
	}
	if got[0] != 0x90 || got[1] != 3 || got[2] != 0 || got[3] != id {
		t.Fatalf("SUBACK % x, want 90 03 00 %02x and a return code", got, id)
	}
	return got[4]
}

// TestAedes starts aedes with a refused filter, connects, is granted one
// subscription and refused the other, and stops it by closing its
// standard input: the process exits by itself with status 0 (not killed)
// and the port no longer accepts connections.
func TestAedes(t *testing.T) {
	a := StartAedes(t, AedesConfig{RefusedFilter: "refused/#"})
	_, dir := RequireAedes(t)
	pinned, err := pinnedAedes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != pinned {
		t.Errorf("aedes reports version %q, package.json pins %q", a.Version, pinned)
	}
	if !strings.HasPrefix(a.URI(), "tcp://127.0.0.1:") {
		t.Errorf("URI %q, want tcp://127.0.0.1:<port>", a.URI())
	}
	c, err := net.Dial("tcp", a.Addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	Handshake(t, c, "tb-aedes")
	if _, err := c.Write(subscribeQoS0(1, "allowed/#")); err != nil {
		t.Fatal(err)
	}
	if rc := suback(t, c, 1); rc != 0x00 {
		t.Errorf("allowed/#: SUBACK return code %#02x, want 0x00", rc)
	}
	if _, err := c.Write(subscribeQoS0(2, "refused/#")); err != nil {
		t.Fatal(err)
	}
	if rc := suback(t, c, 2); rc != 0x80 {
		t.Errorf("refused/#: SUBACK return code %#02x, want 0x80", rc)
	}

	cmd := a.cmd
	a.Stop()
	a.Stop()
	if !cmd.ProcessState.Success() {
		t.Errorf("aedes ended with %v after its stdin closed, want exit status 0\n%s", cmd.ProcessState, a.Output())
	}
	if c2, err := net.Dial("tcp", a.Addr); err == nil {
		c2.Close()
		t.Errorf("%s still accepts connections after Stop", a.Addr)
	}
}

// TestAedesSIGTERM checks that broker.mjs exits with status 0 on SIGTERM.
func TestAedesSIGTERM(t *testing.T) {
	a := StartAedes(t, AedesConfig{})
	c, err := net.Dial("tcp", a.Addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	Handshake(t, c, "tb-aedes-term")
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("aedes still runs 10 s after SIGTERM\n%s", a.Output())
	}
	if !a.cmd.ProcessState.Success() {
		t.Errorf("aedes ended with %v on SIGTERM, want exit status 0\n%s", a.cmd.ProcessState, a.Output())
	}
}

// fakeTB records whether requireAedes skipped or failed.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (*fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func requireOutcome(s aedesSetup) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		requireAedes(f, s)
	}()
	<-done
	return f
}

// TestRequireAedes checks that a missing aedes skips the test, and fails
// it when LINNET_REQUIRE_AEDES=1, with the reason in the message.
func TestRequireAedes(t *testing.T) {
	missing := aedesSetup{err: errors.New("no node here")}
	t.Setenv("LINNET_REQUIRE_AEDES", "")
	f := requireOutcome(missing)
	if f.failed != "" || !strings.Contains(f.skipped, "no node here") || !strings.Contains(f.skipped, "skipping") {
		t.Errorf("without LINNET_REQUIRE_AEDES: skipped %q, failed %q; want a skip with the reason", f.skipped, f.failed)
	}
	t.Setenv("LINNET_REQUIRE_AEDES", "1")
	f = requireOutcome(missing)
	if f.skipped != "" || !strings.Contains(f.failed, "no node here") || !strings.Contains(f.failed, "LINNET_REQUIRE_AEDES=1") {
		t.Errorf("with LINNET_REQUIRE_AEDES=1: skipped %q, failed %q; want a failure with the reason", f.skipped, f.failed)
	}
	f = requireOutcome(aedesSetup{node: "/n", dir: "/d"})
	if f.skipped != "" || f.failed != "" {
		t.Errorf("available: skipped %q, failed %q", f.skipped, f.failed)
	}
}

// TestSetupAedesNode checks that setup reports a missing node and a node
// older than 20 (a script that prints Debian bookworm's version).
func TestSetupAedesNode(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	if s := setupAedes(); !errors.Is(s.err, exec.ErrNotFound) {
		t.Errorf("without node on PATH: %v, want exec.ErrNotFound", s.err)
	}
	old := t.TempDir()
	if err := os.WriteFile(filepath.Join(old, "node"), []byte("#!/bin/sh\necho v18.20.4\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", old)
	if s := setupAedes(); s.err == nil || !strings.Contains(s.err.Error(), "needs Node.js 20") {
		t.Errorf("with node v18: %v, want an error saying Node.js 20 is needed", s.err)
	}
}

// TestPinnedAedes checks that package.json pins an exact aedes version,
// that package-lock.json locks the same one, and that a range is refused.
func TestPinnedAedes(t *testing.T) {
	dir, err := AedesDir()
	if err != nil {
		t.Fatal(err)
	}
	v, err := pinnedAedes(dir)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(lock), `"node_modules/aedes": {
      "version": "`+v+`"`) {
		t.Errorf("package-lock.json does not lock aedes %s", v)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "package.json"), []byte(`{"dependencies": {"aedes": "^1.2.0"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := pinnedAedes(other); err == nil {
		t.Error("a version range was taken for a pinned version")
	}
}

// TestNpmCIConcurrent installs the pinned packages into a copy of the
// aedes directory from two goroutines at once, as two test binaries may:
// both succeed, the pinned aedes is in node_modules, and no install
// directory is left behind.
func TestNpmCIConcurrent(t *testing.T) {
	_, dir := RequireAedes(t)
	v, err := pinnedAedes(dir)
	if err != nil {
		t.Fatal(err)
	}
	cp := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cp, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = npmCI(cp, v) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("install %d: %v", i, err)
		}
	}
	if got := installedAedes(cp); got != v {
		t.Errorf("installed aedes %q, want %q", got, v)
	}
	left, _ := filepath.Glob(filepath.Join(cp, ".install-*"))
	if len(left) > 0 {
		t.Errorf("install directories left behind: %v", left)
	}
}
