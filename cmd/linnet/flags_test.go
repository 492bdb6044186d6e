package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/internal/testcert"
)

// TestMosquittoFlags runs each flag that mosquitto_pub and mosquitto_sub
// users type through linnet, against one embedded mochi broker, and checks
// its effect there.
func TestMosquittoFlags(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	hook := new(subscribedHook)
	require.NoError(t, b.Server.AddHook(hook, nil))
	ids := new(connectHook)
	require.NoError(t, b.Server.AddHook(ids, nil))
	uri := b.URI("tcp")
	pub := func(t *testing.T, args ...string) {
		t.Helper()
		requireExit(t, linnet(t, "", append([]string{"pub", "-L", uri}, args...)...), exitOK, "")
	}

	t.Run("-N", func(t *testing.T) {
		pub(t, "-t", "f/n/a", "-m", "one", "-r", "-q", "1")
		r := linnet(t, "", "sub", "-L", uri, "-t", "f/n/a", "-N", "-C", "1", "-W", "50")
		requireExit(t, r, exitOK, "")
		require.Equal(t, "one", r.stdout)
	})
	t.Run("-T", func(t *testing.T) {
		pub(t, "-t", "f/t/keep", "-m", "k", "-r", "-q", "1")
		pub(t, "-t", "f/t/drop/x", "-m", "d", "-r", "-q", "1")
		r := linnet(t, "", "sub", "-L", uri, "-t", "f/t/#", "-T", "f/t/drop/#", "-v", "-W", "1")
		requireExit(t, r, exitTimeout, "")
		require.Equal(t, "f/t/keep k\n", r.stdout)
	})
	t.Run("-E and -U with -c", func(t *testing.T) {
		// -E makes a persistent session and exits once subscribed.
		r := linnet(t, "", "sub", "-L", uri, "-i", "flags-e", "-c", "-q", "1", "-t", "f/e/#", "-t", "f/e2", "-E")
		requireExit(t, r, exitOK, "")
		require.Empty(t, r.stdout)
		require.ElementsMatch(t, []string{"f/e/#", "f/e2"}, mochiSubs(t, b, "flags-e"))
		// -U drops a subscription from the session.
		r = linnet(t, "", "sub", "-L", uri, "-i", "flags-e", "-c", "-U", "f/e/#", "-E")
		requireExit(t, r, exitOK, "")
		require.Equal(t, []string{"f/e2"}, mochiSubs(t, b, "flags-e"))
	})
	t.Run("--retained-only", func(t *testing.T) {
		pub(t, "-t", "f/ro/a", "-m", "ra", "-r", "-q", "1")
		pub(t, "-t", "f/ro/b", "-m", "rb", "-r", "-q", "1")
		ready := hook.expect("f/ro/#")
		sub := startLinnet(t, "sub", "-L", uri, "-t", "f/ro/#", "--retained-only", "-v", "-q", "1")
		waitFor(t, ready, "the subscription")
		sub.waitLine("f/ro/")
		sub.waitLine("f/ro/")
		pub(t, "-t", "f/ro/c", "-m", "new", "-q", "1")
		require.Equal(t, exitOK, sub.wait(), sub.stderr())
		require.Equal(t, []string{"f/ro/a ra", "f/ro/b rb"}, sortedLines(sub.output()))
	})
	t.Run("--remove-retained", func(t *testing.T) {
		pub(t, "-t", "f/rr/a", "-m", "x", "-r")
		pub(t, "-t", "f/rr/b", "-m", "y", "-r")
		pub(t, "-t", "f/rr/keep", "-m", "z", "-r")
		r := linnet(t, "", "sub", "-L", uri, "-t", "f/rr/#", "-T", "f/rr/keep", "--remove-retained", "-C", "2", "-W", "50")
		requireExit(t, r, exitOK, "")
		var left []string
		for _, m := range b.Server.Topics.Messages("f/rr/#") {
			left = append(left, m.TopicName)
		}
		require.Equal(t, []string{"f/rr/keep"}, left)
	})
	t.Run("--pretty", func(t *testing.T) {
		pub(t, "-t", "f/p", "-m", "v", "-r", "-q", "1")
		r := linnet(t, "", "sub", "-L", uri, "-t", "f/p", "-F", "%j", "--pretty", "-C", "1", "-W", "50")
		requireExit(t, r, exitOK, "")
		require.Regexp(t, `^\{\n\t"tst":\t"[^"]+",\n\t"topic":\t"f/p",\n\t"qos":\t0,\n\t"retain":\t1,\n\t"payloadlen":\t1,\n\t"payload":\t"v"\n\}\n$`, r.stdout)
		r = linnet(t, "", "sub", "-L", uri, "-t", "f/p", "--format", "json", "--pretty", "-C", "1", "-W", "50")
		requireExit(t, r, exitOK, "")
		require.Equal(t, "{\n  \"topic\": \"f/p\",\n  \"qos\": 0,\n  \"retain\": true,\n  \"payload\": \"v\"\n}\n", r.stdout)
	})
	t.Run("-F timestamps", func(t *testing.T) {
		r := linnet(t, "", "sub", "-L", uri, "-t", "f/p", "-F", "%I|%U|%j|@Y@m@d", "-C", "1", "-W", "50")
		requireExit(t, r, exitOK, "")
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}\|\d+\.\d{9}\|\{"tst":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d{4}","topic":"f/p",.*\}\|\d{8}\n$`, r.stdout)
	})
	t.Run("-I", func(t *testing.T) {
		pub(t, "-I", "flags-prefix-", "-t", "f/i", "-m", "x")
		require.Regexp(t, `^flags-prefix-\d+$`, ids.last("flags-prefix-"))
		requireExit(t, linnet(t, "", "pub", "-L", uri, "-I", "p", "-i", "q", "-t", "a", "-m", "x"), exitUsage, "give -i or -I, not both")
	})
	t.Run("-M", func(t *testing.T) {
		lines := strings.Repeat("m\n", 40)
		r := linnet(t, lines, "pub", "-L", uri, "-t", "f/m", "-l", "-q", "1", "-M", "3", "-d")
		requireExit(t, r, exitOK, "")
		require.Equal(t, 40, strings.Count(r.stderr, "sending PUBLISH"))
		require.LessOrEqual(t, maxInFlight(r.stderr), 3)
		requireExit(t, linnet(t, "", "pub", "-L", uri, "-t", "a", "-m", "x", "-M", "70000"), exitUsage, "-M 70000")
	})
	t.Run("-x and -V mqttv5", func(t *testing.T) {
		requireExit(t, linnet(t, "", "sub", "-L", uri, "-t", "a", "-x", "60"), exitUsage, "-x 60: the session expiry interval is an MQTT 5 property")
		requireExit(t, linnet(t, "", "pub", "-L", uri, "-t", "a", "-m", "x", "-V", "mqttv5"), exitUsage, "MQTT 5 is not supported")
	})
	t.Run("--quiet", func(t *testing.T) {
		r := linnet(t, "", "pub", "-L", "tcp://"+closedPort(t), "-t", "a", "-m", "x", "--quiet")
		require.Equal(t, exitFailure, r.code)
		require.Empty(t, r.stderr)
		r = linnet(t, "", "sub", "-L", uri, "-t", "a/#/b", "--quiet")
		require.Equal(t, exitUsage, r.code)
		require.Empty(t, r.stderr)
	})
	t.Run("--repeat-delay in seconds", func(t *testing.T) {
		start := time.Now()
		pub(t, "-t", "f/rd", "-m", "x", "--repeat", "3", "--repeat-delay", "0.2")
		require.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond, "two delays of 0.2 s")
	})
	t.Run("--unix", func(t *testing.T) {
		pub(t, "-t", "f/u", "-m", "via unix", "-r", "-q", "1")
		r := linnet(t, "", "sub", "--unix", b.UnixPath, "-t", "f/u", "-C", "1", "-W", "50")
		requireExit(t, r, exitOK, "")
		require.Equal(t, "via unix\n", r.stdout)
		requireExit(t, linnet(t, "", "pub", "--unix", b.UnixPath, "-L", uri, "-t", "a", "-m", "x"), exitUsage, "give --unix or -L")
	})
	t.Run("-A and --nodelay", func(t *testing.T) {
		host, port, err := net.SplitHostPort(b.TCPAddr)
		require.NoError(t, err)
		pub(t, "-A", "127.0.0.1", "--nodelay", "-t", "f/a", "-m", "x")
		// The local address must be of the broker's family: ::1 cannot
		// reach 127.0.0.1, and the error names -A.
		requireExit(t, linnet(t, "", "pub", "-h", host, "-p", port, "-A", "::1", "-t", "a", "-m", "x"), exitFailure,
			"-A ::1: cannot bind the outgoing socket")
	})
	t.Run("--proxy", func(t *testing.T) {
		p := startSOCKS(t, b.TCPAddr, "alice", "secret")
		_, port, err := net.SplitHostPort(b.TCPAddr)
		require.NoError(t, err)
		requireExit(t, linnet(t, "", "pub", "-h", "broker.test", "-p", port, "-t", "f/x", "-m", "proxied", "-q", "1",
			"--proxy", "socks5h://alice:secret@"+p.addr), exitOK, "")
		require.Equal(t, "broker.test:"+port, p.target(), "socks5h: the proxy resolves the name")
		requireExit(t, linnet(t, "", "pub", "-h", "broker.test", "-p", port, "-t", "a", "-m", "x",
			"--proxy", "socks5h://alice:wrong@"+p.addr), exitFailure, "SOCKS5 proxy: user name or password refused")
		requireExit(t, linnet(t, "", "pub", "-t", "a", "-m", "x", "--proxy", "socks5h://"+closedPort(t)), exitFailure,
			"unreachable: cannot reach the SOCKS5 proxy")
		requireExit(t, linnet(t, "", "pub", "-t", "a", "-m", "x", "--proxy", "http://127.0.0.1:1"), exitUsage, "socks5h://")
	})
	t.Run("-d", func(t *testing.T) {
		r := linnet(t, "", "pub", "-L", uri, "-i", "tracer", "-t", "f/d", "-m", "hello", "-q", "1", "-d")
		requireExit(t, r, exitOK, "")
		for _, line := range []string{"Client tracer sending CONNECT", "Client tracer received CONNACK (0)",
			"Client tracer sending PUBLISH (d0, q1, r0, m1, 'f/d', ... (5 bytes))", "Client tracer received PUBACK (Mid: 1, RC:0)",
			"Client tracer sending DISCONNECT"} {
			require.Contains(t, r.stderr, line+"\n")
		}
		r = linnet(t, "", "sub", "-L", uri, "-i", "tracer2", "-t", "f/p", "-q", "2", "-C", "1", "-W", "50", "-d")
		requireExit(t, r, exitOK, "")
		require.Contains(t, r.stderr, "Client tracer2 sending SUBSCRIBE (Mid: 1, Topic: f/p, QoS: 2, Options: 0x00)\n")
		require.Contains(t, r.stderr, "Subscribed (mid: 1): 2\n")
	})
	t.Run("-W exits 27", func(t *testing.T) {
		r := linnet(t, "", "sub", "-L", uri, "-t", "f/nothing", "-W", "1")
		requireExit(t, r, 27, "linnet sub: timeout: time limit reached: -W 1")
	})
	t.Run("bench default window", func(t *testing.T) {
		r := linnet(t, "", "bench", "-L", uri, "-mode", "throughput", "-q", "1", "-n", "200", "--format", "json")
		requireExit(t, r, exitOK, "")
		require.Contains(t, r.stdout, `"inflight": 20`)
		require.NotContains(t, r.stderr, "warning")
	})
}

// TestTLSFlags checks --capath, --tls-use-os-certs, --tls-version,
// --ciphers and --tls-alpn against a TLS broker.
func TestTLSFlags(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	ssl := b.URI("ssl")
	args := func(extra ...string) []string {
		return append([]string{"pub", "-L", ssl, "-t", "tls/x", "-m", "x"}, extra...)
	}
	t.Run("--capath", func(t *testing.T) {
		dir := t.TempDir()
		ca, err := os.ReadFile(b.Certs.CAFile)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "5d3f1a2b.0"), ca, 0o600))
		requireExit(t, linnet(t, "", args("--capath", dir)...), exitOK, "")
		requireExit(t, linnet(t, "", args("--capath", t.TempDir())...), exitUsage, "no PEM certificate in the directory")
		// -h/-p with --capath means TLS, as --cafile does.
		host, port, err := net.SplitHostPort(b.TLSAddr)
		require.NoError(t, err)
		requireExit(t, linnet(t, "", "pub", "-h", host, "-p", port, "--capath", dir, "-t", "a", "-m", "x"), exitOK, "")
	})
	t.Run("--tls-use-os-certs", func(t *testing.T) {
		// Go reads the system's CAs from SSL_CERT_FILE when it is set.
		requireExit(t, linnetEnv(t, []string{"SSL_CERT_FILE=" + b.Certs.CAFile}, "", args("--tls-use-os-certs")...), exitOK, "")
		requireExit(t, linnetEnv(t, []string{"SSL_CERT_FILE=" + testcert.New(t).CAFile}, "", args("--tls-use-os-certs")...),
			exitFailure, "unknown authority")
		requireExit(t, linnetEnv(t, []string{"SSL_CERT_FILE=" + testcert.New(t).CAFile}, "",
			args("--tls-use-os-certs", "--cafile", b.Certs.CAFile)...), exitOK, "")
	})
	t.Run("--tls-version", func(t *testing.T) {
		requireExit(t, linnet(t, "", args("--cafile", b.Certs.CAFile, "--tls-version", "tlsv1.2")...), exitOK, "")
		requireExit(t, linnet(t, "", args("--cafile", b.Certs.CAFile, "--tls-version", "tlsv1.1")...), exitFailure, "TLS:")
		requireExit(t, linnet(t, "", args("--cafile", b.Certs.CAFile, "--tls-version", "sslv3")...), exitUsage, "tlsv1.3, tlsv1.2 or tlsv1.1")
		requireExit(t, linnet(t, "", "pub", "-L", b.URI("tcp"), "-t", "a", "-m", "x", "--tls-version", "tlsv1.2"), exitUsage, "need TLS")
	})
	t.Run("--ciphers", func(t *testing.T) {
		// The test certificates have ECDSA keys: an RSA suite cannot agree.
		tls12 := []string{"--cafile", b.Certs.CAFile, "--tls-version", "tlsv1.2"}
		requireExit(t, linnet(t, "", args(append(tls12, "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256")...)...), exitOK, "")
		requireExit(t, linnet(t, "", args(append(tls12, "--ciphers", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")...)...), exitOK, "")
		requireExit(t, linnet(t, "", args(append(tls12, "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256")...)...), exitFailure, "TLS:")
		requireExit(t, linnet(t, "", args(append(tls12, "--ciphers", "HIGH:!aNULL")...)...), exitUsage, "--ciphers HIGH")
	})
	t.Run("--tls-alpn", func(t *testing.T) {
		addr, protos := startALPNFront(t, b)
		requireExit(t, linnet(t, "", "pub", "-L", "ssl://"+addr, "--cafile", b.Certs.CAFile, "--tls-alpn", "mqtt", "-t", "a", "-m", "x"), exitOK, "")
		require.Equal(t, []string{"mqtt"}, <-protos)
	})
}

// TestSubReconnects checks that sub reconnects and subscribes again after
// the broker drops it, and that --no-reconnect exits 1 instead.
func TestSubReconnects(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	hook := new(subscribedHook)
	require.NoError(t, b.Server.AddHook(hook, nil))
	uri := b.URI("tcp")
	ready := hook.expect("rc/#")
	sub := startLinnet(t, "sub", "-L", uri, "-i", "rc-sub", "-t", "rc/#", "-v", "-C", "2", "-q", "1")
	waitFor(t, ready, "the subscription")
	requireExit(t, linnet(t, "", "pub", "-L", uri, "-t", "rc/1", "-m", "before", "-q", "1"), exitOK, "")
	sub.waitLine("rc/1 before")

	again := hook.expect("rc/#")
	kick(t, b, "rc-sub")
	waitFor(t, again, "the subscription after the reconnect")
	requireExit(t, linnet(t, "", "pub", "-L", uri, "-t", "rc/2", "-m", "after", "-q", "1"), exitOK, "")
	sub.waitLine("rc/2 after")
	require.Equal(t, exitOK, sub.wait(), sub.stderr())
	require.Contains(t, sub.stderr(), "linnet sub: connection lost")
	require.Contains(t, sub.stderr(), "reconnecting")

	ready = hook.expect("nr/#")
	sub = startLinnet(t, "sub", "-L", uri, "-i", "nr-sub", "-t", "nr/#", "--no-reconnect")
	waitFor(t, ready, "the subscription")
	kick(t, b, "nr-sub")
	require.Equal(t, exitFailure, sub.wait(), sub.stderr())
	require.Contains(t, sub.stderr(), "linnet sub: connection lost")
}

// TestHelpCommand checks 'linnet help <command>', the advice of the
// top-level usage, and that --help still works where -h is the host.
func TestHelpCommand(t *testing.T) {
	for _, name := range []string{"pub", "sub", "bench", "probe"} {
		r := linnet(t, "", "help", name)
		requireExit(t, r, exitOK, "")
		require.Contains(t, r.stdout, "Usage: linnet "+name)
		r = linnet(t, "", name, "--help")
		requireExit(t, r, exitOK, "")
		require.Contains(t, r.stderr, "Usage: linnet "+name)
	}
	r := linnet(t, "", "help")
	requireExit(t, r, exitOK, "")
	require.Contains(t, r.stdout, "Run 'linnet help <command>'")
	requireExit(t, linnet(t, "", "help", "nosuch"), exitUsage, `unknown command "nosuch"`)
	r = linnet(t, "", "help", "sub")
	require.Contains(t, r.stdout, "27 the -W time limit ran out")
}

// TestInputTooLarge checks that a -f file larger than an MQTT message is
// refused before connecting (the port is closed: reaching it would fail
// with exit 1), and that it is not read: the file is sparse.
func TestInputTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(256<<20))
	require.NoError(t, f.Close())
	requireExit(t, linnet(t, "", "pub", "-L", "tcp://"+closedPort(t), "-t", "a", "-f", path), exitUsage,
		"-f "+path+": 268435456 bytes, larger than the largest MQTT message on this topic")
}
