package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/internal/embedbroker"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/internal/testcert"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// TestPubSubEmbedded runs a subscriber and publishers as a user would,
// against the embedded mochi broker: sub -v prints "topic payload", every
// message source of pub works, and sub exits 0 after -C messages.
func TestPubSubEmbedded(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	hook := new(subscribedHook)
	require.NoError(t, b.Server.AddHook(hook, nil))
	uri := b.URI("tcp")
	host, port, err := net.SplitHostPort(b.TCPAddr)
	require.NoError(t, err)

	ready := hook.expect("cli/pubsub/#")
	sub := startLinnet(t, "sub", "-L", uri, "-t", "cli/pubsub/#", "-q", "2", "-v", "-C", "5", "-W", "50")
	waitFor(t, ready, "the subscription of linnet sub")

	requireExit(t, linnet(t, "", "pub", "-h", host, "-p", port, "-t", "cli/pubsub/m", "-m", "hello world", "-q", "1"), exitOK, "")
	require.Equal(t, "cli/pubsub/m hello world", sub.waitLine("cli/pubsub/m"))
	requireExit(t, linnet(t, "", "pub", "-L", uri+"/cli/pubsub/n", "-n", "-q", "2"), exitOK, "")
	require.Equal(t, "cli/pubsub/n (null)", sub.waitLine("cli/pubsub/n"))
	file := filepath.Join(t.TempDir(), "msg")
	require.NoError(t, os.WriteFile(file, []byte("from a file"), 0o600))
	requireExit(t, linnet(t, "", "pub", "-L", uri, "-t", "cli/pubsub/f", "-f", file), exitOK, "")
	require.Equal(t, "cli/pubsub/f from a file", sub.waitLine("cli/pubsub/f"))
	requireExit(t, linnet(t, "line one\n\nline two\n", "pub", "-L", uri, "-t", "cli/pubsub/l", "-l", "-q", "1"), exitOK, "")
	require.Equal(t, "cli/pubsub/l line one", sub.waitLine("cli/pubsub/l"))
	require.Equal(t, "cli/pubsub/l line two", sub.waitLine("cli/pubsub/l"))
	require.Equal(t, exitOK, sub.wait(), sub.stderr())
}

// TestSubJSONAndRetained checks --format json (text and base64 payloads,
// qos and retain), that retained messages arrive, and -R which skips them.
func TestSubJSONAndRetained(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	uri := b.URI("tcp")
	requireExit(t, linnet(t, "", "pub", "-L", uri, "-t", "cli/json/text", "-m", `say "hi"`, "-r", "-q", "1"), exitOK, "")
	requireExit(t, linnet(t, "\x00\xff\x01", "pub", "-L", uri, "-t", "cli/json/bin", "-s", "-r", "-q", "1"), exitOK, "")

	r := linnet(t, "", "sub", "-L", uri, "-t", "cli/json/#", "-q", "1", "-C", "2", "-W", "50", "--format", "json")
	requireExit(t, r, exitOK, "")
	got := map[string]map[string]any{}
	for _, m := range decodeJSONLines(t, r.stdout) {
		got[m["topic"].(string)] = m
	}
	require.Equal(t, map[string]any{"topic": "cli/json/text", "qos": 1.0, "retain": true, "payload": `say "hi"`},
		got["cli/json/text"])
	require.Equal(t, map[string]any{"topic": "cli/json/bin", "qos": 1.0, "retain": true,
		"payload_base64": base64.StdEncoding.EncodeToString([]byte{0, 0xff, 1})}, got["cli/json/bin"])

	// -R: the retained messages are not printed, so -W runs out: exit 27.
	r = linnet(t, "", "sub", "-L", uri, "-t", "cli/json/#", "-R", "-C", "1", "-W", "1")
	// (Under heavy load the connect itself may be what -W cuts short; the
	// exit code and the cause are the same.)
	requireExit(t, r, exitTimeout, "linnet sub: timeout: time limit reached: -W 1")
	require.Empty(t, r.stdout)
}

// TestPubSubOtherSchemes runs pub and sub over WebSocket, TLS (checking the
// broker against --cafile) and a unix socket.
func TestPubSubOtherSchemes(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	for _, scheme := range []string{"ws", "ssl", "wss", "unix", "mqtts"} {
		t.Run(scheme, func(t *testing.T) {
			topic := "cli/scheme/" + scheme
			args := []string{"-L", b.URI(scheme)}
			if scheme == "ssl" || scheme == "wss" || scheme == "mqtts" {
				args = append(args, "--cafile", b.Certs.CAFile)
			}
			requireExit(t, linnet(t, "", append([]string{"pub", "-t", topic, "-m", scheme, "-r", "-q", "1"}, args...)...), exitOK, "")
			r := linnet(t, "", append([]string{"sub", "-t", topic, "-C", "1", "-W", "50", "-v"}, args...)...)
			requireExit(t, r, exitOK, "")
			require.Equal(t, topic+" "+scheme+"\n", r.stdout)
		})
	}
}

// TestBadFlags checks that bad flags and arguments exit with code 2 and
// say what is wrong.
func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pub", "-m", "x"}, "no topic"},
		{[]string{"pub", "-t", "a"}, "give exactly one of -m, -f, -s, -l or -n"},
		{[]string{"pub", "-t", "a", "-m", "x", "-n"}, "give exactly one of"},
		{[]string{"pub", "-t", "a/+", "-m", "x"}, `-t "a/+"`},
		{[]string{"pub", "-t", "a", "-m", "x", "-q", "3"}, "-q 3: QoS is 0, 1 or 2"},
		{[]string{"pub", "-t", "a", "-m", "x", "-P", "secret"}, "a password (-P) needs a user name (-u)"},
		{[]string{"pub", "-t", "a", "-m", "x", "-c"}, "needs a client id (-i)"},
		{[]string{"pub", "-t", "a", "-m", "x", "-L", "gopher://127.0.0.1"}, "invalid server URI"},
		{[]string{"pub", "-t", "a", "-m", "x", "-k", "70000"}, "-k 70000"},
		{[]string{"pub", "-t", "a", "-m", "x", "-V", "5"}, "-V 5: MQTT 5 is not supported"},
		{[]string{"pub", "-t", "a", "-m", "x", "-V", "mqttv4"}, `-V "mqttv4"`},
		{[]string{"pub", "-t", "a", "-m", "x", "--will-payload", "bye"}, "need --will-topic"},
		{[]string{"pub", "-t", "a", "-f", "/nonexistent/linnet"}, "no such file"},
		{[]string{"pub", "-t", "a", "-m", "x", "--nosuchflag"}, "flag provided but not defined"},
		{[]string{"pub", "-t", "a", "-m", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"sub"}, "no topic filter"},
		{[]string{"sub", "-t", "a/#/b"}, `-t "a/#/b"`},
		{[]string{"sub", "-t", "a", "--format", "xml"}, `--format "xml"`},
		{[]string{"sub", "-t", "a", "-C", "-1"}, "must not be negative"},
		{[]string{"sub", "-t", "a", "--cert", "c.pem"}, "--cert and --key go together"},
		{[]string{"bench", "-q", "7"}, "-q 7"},
		{[]string{"bench", "-mode", "speed"}, `-mode "speed"`},
		{[]string{"bench", "-size", "1"}, "at least 8 bytes"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			requireExit(t, linnet(t, "", tc.args...), exitUsage, tc.want)
		})
	}
}

// TestHelp checks that every subcommand documents itself with examples and
// exits 0 on --help.
func TestHelp(t *testing.T) {
	for name := range commands {
		if name == "version" || name == "conformance" || name == "fuzz" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			r := linnet(t, "", name, "--help")
			require.Equal(t, exitOK, r.code, r.stderr)
			require.Contains(t, r.stderr, "Usage: linnet "+name)
			require.Contains(t, r.stderr, "Example")
		})
	}
	r := linnet(t, "", "pub", "--help")
	require.Contains(t, r.stderr, "Exit codes:")
	require.Contains(t, r.stderr, "-will-topic")
}

// TestUnreachable checks a closed port: exit 1, the cause named, one line.
func TestUnreachable(t *testing.T) {
	addr := closedPort(t)
	requireExit(t, linnet(t, "", "pub", "-L", "tcp://"+addr, "-t", "a", "-m", "x"), exitFailure,
		"linnet pub: unreachable: connection refused at tcp://"+addr)
	requireExit(t, linnet(t, "", "sub", "-L", "tcp://"+addr, "-t", "a"), exitFailure,
		"linnet sub: unreachable: connection refused")
	requireExit(t, linnet(t, "", "bench", "-L", "tcp://"+addr), exitFailure,
		"linnet bench: unreachable: connection refused")
	requireExit(t, linnet(t, "", "sub", "-L", "unix://"+filepath.Join(t.TempDir(), "none.sock"), "-t", "a"), exitFailure,
		"linnet sub: unreachable")
}

// TestConnectTimeout checks a server that accepts TCP but never answers
// CONNECT: exit 1 with "timeout".
func TestConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c // held open, silent
		}
	}()
	defer func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	requireExit(t, linnet(t, "", "pub", "-L", "tcp://"+ln.Addr().String(), "-V", "mqttv311", "-t", "a", "-m", "x",
		"--connect-timeout", "500ms"), exitFailure, "linnet pub: timeout:")
}

// TestRefusedCredentials checks a broker that refuses the user name and
// password: exit 4 and "refused" with the CONNACK reason.
func TestRefusedCredentials(t *testing.T) {
	b, err := embedbroker.Start(embedbroker.Config{Auth: func(_, user string, pass []byte) bool {
		return user == "alice" && string(pass) == "secret"
	}})
	require.NoError(t, err)
	defer b.Close()
	uri := b.URI("tcp")
	requireExit(t, linnet(t, "", "pub", "-L", uri, "-V", "mqttv311", "-u", "alice", "-P", "wrong", "-t", "a", "-m", "x"),
		exitRefused, "linnet pub: refused: not authorized (CONNACK return code 5) by "+uri+"; check the user name and password (-u, -P)")
	requireExit(t, linnet(t, "", "sub", "-L", uri, "-V", "mqttv311", "-t", "a"), exitRefused, "refused: not authorized")
	// Credentials in the URI stand for -u and -P.
	u := strings.Replace(uri, "tcp://", "tcp://alice:secret@", 1)
	requireExit(t, linnet(t, "", "pub", "-L", u, "-t", "a", "-m", "x"), exitOK, "")
}

// TestBadCAFile checks a CA file that is not PEM (exit 2) and a CA that did
// not sign the broker's certificate (exit 1, TLS: unknown authority).
func TestBadCAFile(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600))
	requireExit(t, linnet(t, "", "pub", "-L", b.URI("ssl"), "--cafile", notPEM, "-t", "a", "-m", "x"), exitUsage,
		"TLS: CA file")
	requireExit(t, linnet(t, "", "pub", "-L", b.URI("ssl"), "--cafile", filepath.Join(t.TempDir(), "missing.pem"),
		"-t", "a", "-m", "x"), exitUsage, "no such file")

	other := testcert.New(t)
	requireExit(t, linnet(t, "", "pub", "-L", b.URI("ssl"), "--cafile", other.CAFile, "-t", "a", "-m", "x"), exitFailure,
		"linnet pub: TLS: server certificate signed by unknown authority at "+b.URI("ssl"))
	requireExit(t, linnet(t, "", "sub", "-L", b.URI("wss"), "--cafile", other.CAFile, "-t", "a"), exitFailure,
		"TLS: server certificate signed by unknown authority")
	// -h/-p with --cafile means TLS on that port.
	host, port, err := net.SplitHostPort(b.TLSAddr)
	require.NoError(t, err)
	requireExit(t, linnet(t, "", "pub", "-h", host, "-p", port, "--cafile", b.Certs.CAFile, "-t", "a", "-m", "x"), exitOK, "")
}

// TestInsecureSkipsOnlyTheHostName checks --insecure as mosquitto has it:
// a certificate for another host is accepted, one from an unknown CA is not.
func TestInsecureSkipsOnlyTheHostName(t *testing.T) {
	certs := testcert.New(t)
	wrong := *certs
	wrong.Server = certs.WrongHost
	b := testbroker.StartMochi(t, testbroker.MochiConfig{Certs: &wrong})
	args := []string{"pub", "-L", b.URI("ssl"), "--cafile", certs.CAFile, "-t", "a", "-m", "x"}
	requireExit(t, linnet(t, "", args...), exitFailure, "TLS: server certificate is not valid for the host")
	requireExit(t, linnet(t, "", append(args, "--insecure")...), exitOK, "")
	other := testcert.New(t)
	requireExit(t, linnet(t, "", "pub", "-L", b.URI("ssl"), "--cafile", other.CAFile, "--insecure", "-t", "a", "-m", "x"),
		exitFailure, "unknown authority")
}

// TestWill checks that --will-* reach the broker: a subscriber in the test
// gets the will when linnet sub is killed.
func TestWill(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	hook := new(subscribedHook)
	require.NoError(t, b.Server.AddHook(hook, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c, err := client.New(client.Options{Servers: []string{b.URI("tcp")}})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	defer c.Close()
	wills := make(chan *client.Message, 1)
	_, err = c.Subscribe(ctx, func(m *client.Message) { wills <- m }, client.Subscription{Filter: "cli/will", QoS: packet.QoS1})
	require.NoError(t, err)

	ready := hook.expect("cli/never")
	sub := startLinnet(t, "sub", "-L", b.URI("tcp"), "-t", "cli/never", "--will-topic", "cli/will",
		"--will-payload", "gone", "--will-qos", "1")
	waitFor(t, ready, "linnet sub's subscription")
	require.NoError(t, sub.cmd.Process.Kill())
	sub.wait()
	select {
	case m := <-wills:
		require.Equal(t, "gone", string(m.Payload))
		require.Equal(t, packet.QoS1, m.QoS)
	case <-ctx.Done():
		t.Fatal("no will after linnet sub was killed")
	}
}

// TestSubStopsOnSignal checks that SIGTERM ends sub cleanly with exit 0.
func TestSubStopsOnSignal(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	hook := new(subscribedHook)
	require.NoError(t, b.Server.AddHook(hook, nil))
	ready := hook.expect("cli/sig")
	sub := startLinnet(t, "sub", "-L", b.URI("tcp"), "-t", "cli/sig")
	waitFor(t, ready, "linnet sub's subscription")
	require.NoError(t, sub.cmd.Process.Signal(os.Interrupt))
	require.Equal(t, exitOK, sub.wait(), sub.stderr())
}

// TestMosquittoInterop checks linnet pub → mosquitto_sub and mosquitto_pub
// → linnet sub, through retained messages so that no subscription has to be
// awaited, and refused credentials with a mosquitto password file.
func TestMosquittoInterop(t *testing.T) {
	testbroker.RequireMosquitto(t)
	mosqPub, err1 := exec.LookPath("mosquitto_pub")
	mosqSub, err2 := exec.LookPath("mosquitto_sub")
	mosqPasswd, err3 := exec.LookPath("mosquitto_passwd")
	if err := errors.Join(err1, err2, err3); err != nil {
		if os.Getenv("LINNET_REQUIRE_MOSQUITTO") == "1" {
			t.Fatalf("mosquitto clients missing: %v", err)
		}
		t.Skipf("mosquitto clients not installed: %v", err)
	}
	pwfile := filepath.Join(t.TempDir(), "passwd")
	out, err := exec.Command(mosqPasswd, "-c", "-b", pwfile, "alice", "secret").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, os.Chmod(pwfile, 0o600))
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{TLS: true,
		Extra: []string{"allow_anonymous false", "password_file " + pwfile}})
	port := strconv.Itoa(m.Port)
	creds := []string{"-u", "alice", "-P", "secret"}
	run := func(name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		require.NoError(t, err, "%s %v: %s", name, args, out)
		return string(out)
	}

	t.Run("linnet pub to mosquitto_sub", func(t *testing.T) {
		requireExit(t, linnet(t, "", append([]string{"pub", "-L", m.URI(), "-t", "interop/a", "-m", "from linnet", "-r", "-q", "2"}, creds...)...), exitOK, "")
		got := run(mosqSub, "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", "secret", "-t", "interop/a", "-v", "-C", "1", "-W", "10")
		require.Equal(t, "interop/a from linnet\n", got)
	})
	t.Run("mosquitto_pub to linnet sub", func(t *testing.T) {
		run(mosqPub, "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", "secret", "-t", "interop/b", "-m", "from mosquitto", "-r", "-q", "1")
		r := linnet(t, "", append([]string{"sub", "-h", "127.0.0.1", "-p", port, "-t", "interop/#", "-v", "-C", "2", "-W", "20", "-q", "1"}, creds...)...)
		requireExit(t, r, exitOK, "")
		require.Equal(t, []string{"interop/a from linnet", "interop/b from mosquitto"}, sortedLines(r.stdout))
	})
	t.Run("TLS with the right and a wrong CA", func(t *testing.T) {
		args := append([]string{"pub", "-L", m.TLSURI(), "-t", "interop/tls", "-m", "x"}, creds...)
		requireExit(t, linnet(t, "", append(args, "--cafile", m.Certs.CAFile)...), exitOK, "")
		requireExit(t, linnet(t, "", append(args, "--cafile", testcert.New(t).CAFile)...), exitFailure,
			"TLS: server certificate signed by unknown authority")
	})
	t.Run("refused credentials", func(t *testing.T) {
		requireExit(t, linnet(t, "", "pub", "-L", m.URI(), "-u", "alice", "-P", "wrong", "-t", "a", "-m", "x", "-V", "mqttv311"),
			exitRefused, "refused: not authorized (CONNACK return code 5)")
		requireExit(t, linnet(t, "", "sub", "-L", m.URI(), "-t", "a", "-V", "mqttv311"), exitRefused, "refused:")
	})
	t.Run("bench", func(t *testing.T) {
		r := linnet(t, "", append([]string{"bench", "-L", m.URI(), "-mode", "throughput,latency", "-q", "1", "-n", "300",
			"-rtt", "30", "--format", "json"}, creds...)...)
		requireExit(t, r, exitOK, "")
		var res benchResult
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), r.stdout)
		require.False(t, res.Embedded)
		require.Equal(t, m.URI(), res.Broker)
		require.Equal(t, int64(300), res.Throughput.Received)
		require.Equal(t, 30, res.Latency.Count)
	})
}

// TestDescribeErr checks the one-line causes for errors that the tests
// cannot provoke on loopback (DNS) and a few others.
func TestDescribeErr(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
		code int
	}{
		{&transport.DialError{URI: "tcp://nosuch.invalid:1883", Err: &net.DNSError{Err: "no such host", Name: "nosuch.invalid", IsNotFound: true}},
			`DNS: no such host "nosuch.invalid"`, exitFailure},
		{&net.DNSError{Err: "server misbehaving", Name: "x.example", IsTemporary: true}, `DNS: cannot resolve "x.example": server misbehaving`, exitFailure},
		{&client.ConnectError{Code: packet.RefusedBadUserNamePassword, Server: "tcp://h:1"},
			"refused: bad user name or password (CONNACK return code 4) by tcp://h:1; check the user name and password", exitRefused},
		{&client.ConnectError{Code: packet.RefusedIdentifierRejected}, "refused: identifier rejected (CONNACK return code 2); check the client id", exitRefused},
		{&subackError{filter: "a/#"}, `refused: the broker refused the subscription to "a/#" (SUBACK 0x80)`, exitRefused},
		{context.DeadlineExceeded, "timeout: context deadline exceeded", exitFailure},
		{context.Canceled, "interrupted", exitFailure},
		{&client.ConnectionLostError{Server: "tcp://h:1", Err: errors.New("EOF")}, "connection lost: EOF", exitFailure},
	} {
		require.Equal(t, tc.want, describeErr(tc.err))
		require.Equal(t, tc.code, exitCodeFor(tc.err), "%v", tc.err)
	}
	// The hints name the flags of the command that failed.
	refused := &client.ConnectError{Code: packet.RefusedNotAuthorized}
	require.Contains(t, describeErrFor("pub", refused), "check the user name and password (-u, -P)")
	require.Contains(t, describeErrFor("dms", refused), "check the user name and password (-id, -password)")
	require.NotContains(t, describeErr(refused), "-u")
}
