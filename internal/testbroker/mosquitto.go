package testbroker

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/internal/testcert"
)

// MosquittoConfig configures StartMosquitto. The zero value is one plain
// TCP listener, anonymous access, no persistence.
type MosquittoConfig struct {
	// TLS adds a TLS listener (TLSPort) using Certs.
	TLS bool
	// RequireCertificate makes the TLS listener demand a client certificate
	// signed by the CA (mosquitto's require_certificate).
	RequireCertificate bool
	// WebSockets adds a WebSocket listener (WSPort).
	WebSockets bool
	// SecureWebSockets adds a WebSocket listener over TLS (WSSPort) using
	// Certs.
	SecureWebSockets bool
	// Unix adds a listener on a Unix socket (UnixPath).
	Unix bool
	// Persistence keeps sessions and messages in a file in the broker's
	// directory across Restart.
	Persistence bool
	// Certs are the TLS certificates; nil generates a set when TLS is on.
	Certs *testcert.Set
	// Extra lines for the configuration file, in the global section (e.g.
	// "max_inflight_messages 2").
	Extra []string
}

// Mosquitto is a running mosquitto process.
type Mosquitto struct {
	Port    int // plain TCP listener
	TLSPort int // TLS listener, 0 without MosquittoConfig.TLS
	WSPort  int // WebSocket listener, 0 without MosquittoConfig.WebSockets
	WSSPort int // WebSocket over TLS listener, 0 without MosquittoConfig.SecureWebSockets
	// UnixPath is the Unix socket, "" without MosquittoConfig.Unix.
	UnixPath string
	Certs    *testcert.Set
	Dir      string // holds the configuration, the persistence file and the log

	t      testing.TB
	bin    string
	conf   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    *LockedBuffer
}

// URI returns tcp://127.0.0.1:<Port>.
func (m *Mosquitto) URI() string { return "tcp://127.0.0.1:" + strconv.Itoa(m.Port) }

// TLSURI returns ssl://127.0.0.1:<TLSPort>.
func (m *Mosquitto) TLSURI() string { return "ssl://127.0.0.1:" + strconv.Itoa(m.TLSPort) }

// WSURI returns ws://127.0.0.1:<WSPort>/mqtt.
func (m *Mosquitto) WSURI() string { return "ws://127.0.0.1:" + strconv.Itoa(m.WSPort) + "/mqtt" }

// WSSURI returns wss://127.0.0.1:<WSSPort>/mqtt.
func (m *Mosquitto) WSSURI() string { return "wss://127.0.0.1:" + strconv.Itoa(m.WSSPort) + "/mqtt" }

// UnixURI returns unix://<UnixPath>.
func (m *Mosquitto) UnixURI() string { return "unix://" + m.UnixPath }

// MosquittoPath returns the path of the mosquitto binary, looking on PATH
// and then in /usr/sbin and /usr/local/sbin.
func MosquittoPath() (string, bool) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, true
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// RequireMosquitto skips t when mosquitto is not installed, or fails it
// when LINNET_REQUIRE_MOSQUITTO=1. It returns the binary's path.
func RequireMosquitto(t testing.TB) string {
	t.Helper()
	p, ok := MosquittoPath()
	if !ok {
		if os.Getenv("LINNET_REQUIRE_MOSQUITTO") == "1" {
			t.Fatal("testbroker: mosquitto is not installed and LINNET_REQUIRE_MOSQUITTO=1")
		}
		t.Skip("testbroker: mosquitto is not installed (apt-get install mosquitto); skipping")
	}
	return p
}

// StartMosquitto starts mosquitto on free ports of 127.0.0.1 and stops it
// when the test ends.
func StartMosquitto(t testing.TB, cfg MosquittoConfig) *Mosquitto {
	t.Helper()
	bin := RequireMosquitto(t)
	if (cfg.TLS || cfg.SecureWebSockets) && cfg.Certs == nil {
		cfg.Certs = testcert.New(t)
	}
	m := &Mosquitto{t: t, bin: bin, Dir: t.TempDir(), Certs: cfg.Certs}
	m.conf = filepath.Join(m.Dir, "mosquitto.conf")
	var lastErr error
	for range 3 { // a free port may be taken between choosing and binding
		m.Port = freePort(t)
		if cfg.TLS {
			m.TLSPort = freePort(t)
		}
		if cfg.WebSockets {
			m.WSPort = freePort(t)
		}
		if cfg.SecureWebSockets {
			m.WSSPort = freePort(t)
		}
		if cfg.Unix && m.UnixPath == "" {
			// A short directory: a socket path must fit in 108 bytes, and
			// t.TempDir() names can be longer.
			dir, err := os.MkdirTemp("", "lnmq")
			if err != nil {
				t.Fatalf("testbroker: %v", err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			m.UnixPath = filepath.Join(dir, "m.sock")
		}
		if err := os.WriteFile(m.conf, []byte(m.config(cfg)), 0o600); err != nil {
			t.Fatalf("testbroker: writing mosquitto config: %v", err)
		}
		if lastErr = m.start(); lastErr == nil {
			t.Cleanup(m.Stop)
			return m
		}
		if !strings.Contains(lastErr.Error(), "in use") {
			break
		}
	}
	t.Fatalf("testbroker: starting mosquitto: %v", lastErr)
	return nil
}

func (m *Mosquitto) config(cfg MosquittoConfig) string {
	var b strings.Builder
	line := func(f string, a ...any) { fmt.Fprintf(&b, f+"\n", a...) }
	if os.Geteuid() == 0 {
		line("user root") // otherwise mosquitto drops to a user that cannot read the temp dir
	}
	line("allow_anonymous true")
	line("log_dest stderr")
	line("log_type error")
	line("log_type warning")
	if cfg.Persistence {
		line("persistence true")
		line("persistence_location %s/", m.Dir)
		line("persistence_file mosquitto.db")
	}
	for _, e := range cfg.Extra {
		line("%s", e)
	}
	line("listener %d 127.0.0.1", m.Port)
	if cfg.TLS {
		line("listener %d 127.0.0.1", m.TLSPort)
		line("cafile %s", cfg.Certs.CAFile)
		line("certfile %s", cfg.Certs.Server.CertFile)
		line("keyfile %s", cfg.Certs.Server.KeyFile)
		line("require_certificate %t", cfg.RequireCertificate)
	}
	if cfg.WebSockets {
		line("listener %d 127.0.0.1", m.WSPort)
		line("protocol websockets")
	}
	if cfg.SecureWebSockets {
		line("listener %d 127.0.0.1", m.WSSPort)
		line("protocol websockets")
		line("cafile %s", cfg.Certs.CAFile)
		line("certfile %s", cfg.Certs.Server.CertFile)
		line("keyfile %s", cfg.Certs.Server.KeyFile)
	}
	if cfg.Unix {
		line("listener 0 %s", m.UnixPath) // port 0: a Unix socket (mosquitto 2.0 and later)
	}
	return b.String()
}

func (m *Mosquitto) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.out = &LockedBuffer{}
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = m.out, m.out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	m.cmd, m.exited = cmd, exited

	deadline := time.Now().Add(10 * time.Second)
	type endpoint struct{ network, addr string }
	var ends []endpoint
	for _, p := range []int{m.Port, m.TLSPort, m.WSPort, m.WSSPort} {
		if p != 0 {
			ends = append(ends, endpoint{"tcp", "127.0.0.1:" + strconv.Itoa(p)})
		}
	}
	if m.UnixPath != "" {
		ends = append(ends, endpoint{"unix", m.UnixPath})
	}
	for _, e := range ends {
		for {
			c, err := net.DialTimeout(e.network, e.addr, time.Second)
			if err == nil {
				_ = c.Close()
				break
			}
			select {
			case <-exited:
				return fmt.Errorf("mosquitto exited: %s", m.out.String())
			default:
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				<-exited
				return fmt.Errorf("mosquitto not listening on %s after 10s: %s", e.addr, m.out.String())
			}
			time.Sleep(10 * time.Millisecond) // polling readiness, not synchronising test logic
		}
	}
	return nil
}

// Stop terminates mosquitto (SIGTERM, so that it saves its persistence
// file) and waits for it to exit. It is idempotent.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// Restart stops mosquitto and starts it again with the same configuration
// and ports; with persistence, sessions and queued messages survive.
func (m *Mosquitto) Restart() {
	m.t.Helper()
	m.Stop()
	if err := m.start(); err != nil {
		m.t.Fatalf("testbroker: restarting mosquitto: %v", err)
	}
}

// Output returns what mosquitto has logged since it last started.
func (m *Mosquitto) Output() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testbroker: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// LockedBuffer is a bytes.Buffer safe for one writer (a process's output, a
// logger) and readers (the test) at once.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
