package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/embedbroker"
	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
)

// TestDemo runs the demo to completion and checks that it showed every
// step, in order: the two-phase connect, heartbeats, a control message the
// device answers, an RRPC probe that finds the device online, the silenced device declared offline, and a
// clean shutdown. Its waits are event-driven; -timeout only bounds it.
func TestDemo(t *testing.T) {
	r := linnet(t, "", "demo", "-heartbeat", "300ms", "-timeout", "55s")
	requireExit(t, r, exitOK, "")
	want := []string{
		"broker    mochi-mqtt in process: redirect server tcp://127.0.0.1:",
		"backend   registered dev-0042: join-network",
		"--Start--> ConnectingRedirect",
		"--RedirectConnected--> AwaitingNetworkInfo",
		"--NetworkInfoReceived--> ConnectingDMS",
		"--DMSConnected--> Online",
		"backend   heartbeat from dev-0042",
		"step 3: the back end sends dev-0042 a control message",
		`device    control message {"cmd":"report-status"}, answering on /elogger/dev-0042/ctrlReply`,
		`backend   reply from dev-0042 on /elogger/dev-0042/ctrlReply: {"request":{"cmd":"report-status"},"status":"ok"}`,
		"step 4: RRPC probe",
		"device    RRPC request",
		"prober    demo/dev-0042 ONLINE: round trip",
		"step 5: dev-0042 stops answering RRPC",
		"prober    demo/dev-0042 probe 1 of 2: no RRPC reply in time",
		"prober    demo/dev-0042 probe 2 of 2: no RRPC reply in time",
		"prober    demo/dev-0042 OFFLINE",
		"Online              --Stop--> Stopping",
		"--Stopped--> Stopped",
		"broker    stopped",
		"demo      done:",
	}
	rest := r.stdout
	for _, w := range want {
		i := strings.Index(rest, w)
		require.True(t, i >= 0, "missing or out of order: %q\noutput:\n%s", w, r.stdout)
		rest = rest[i+len(w):]
	}
	require.GreaterOrEqual(t, strings.Count(r.stdout, "backend   heartbeat from dev-0042"), 3)
	require.Empty(t, r.stderr)
}

// TestDMSAgentAndProbe runs linnet dms from a configuration file against
// mochi with the back-end simulator in the test, waits for the two-phase
// connect and heartbeats, sends a control message, probes the device (and
// one that does not exist) with linnet probe, and stops the agent with
// SIGTERM.
func TestDMSAgentAndProbe(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	uri := b.URI("tcp")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	sim, err := dms.NewSimulator(dms.SimulatorConfig{Redirect: client.Options{Servers: []string{uri}, ClientID: "test-backend"}})
	require.NoError(t, err)
	require.NoError(t, sim.Start(ctx))
	defer sim.Stop(context.Background())
	require.NoError(t, sim.Register(ctx, "dev-cli", uri))

	conf := filepath.Join(t.TempDir(), "device.json")
	require.NoError(t, os.WriteFile(conf, []byte(`{
		"deviceId": "dev-cli",
		"redirectServer": "tcp://127.0.0.1:1",
		"heartbeatInterval": "10m",
		"joinNetworkWait": "20s",
		"subscribeTimeout": "5s",
		"allowInsecureDms": false,
		"rrpc": {"productKey": "pk"}
	}`), 0o600))
	// The flags override the file's redirect server and heartbeat.
	agent := startLinnet(t, "dms", "-config", conf, "-redirect", uri, "-heartbeat", "200ms")
	agent.waitLine("--RedirectConnected--> AwaitingNetworkInfo")
	agent.waitLine("--NetworkInfoReceived--> ConnectingDMS")
	agent.waitLine("--DMSConnected--> Online")
	agent.waitLine("heartbeat 2 -> /monitor/report/Sync_MainDeviceInfo")
	beats, err := sim.WaitHeartbeats(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, "dev-cli", beats[0].DeviceID)

	require.NoError(t, sim.SendControl(ctx, "dev-cli", []byte(`{"cmd":"reboot"}`)))
	require.Contains(t, agent.waitLine("control"), `/elogger/dev-cli/ctrlDevice {"cmd":"reboot"}`)

	r := linnet(t, "", "probe", "-L", uri, "-policy", "strict", "-timeout", "1s", "pk/dev-cli", "pk/ghost")
	requireExit(t, r, exitOffline, "")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, r.stdout)
	require.Regexp(t, `^pk/dev-cli  online   rtt \S+ +probes 1 \(policy strict\)$`, lines[0])
	require.Equal(t, "pk/ghost    OFFLINE  after 1 failed probe(s) (policy strict): no RRPC reply in time", lines[1])

	r = linnet(t, "", "probe", "-L", uri, "--format", "json", "pk/dev-cli")
	requireExit(t, r, exitOK, "")
	var pl probeLine
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &pl))
	require.Equal(t, "pk/dev-cli", pl.Device)
	require.True(t, pl.Online)
	require.Equal(t, 1, pl.Attempts)
	require.Greater(t, pl.RTTMs, 0.0)

	require.NoError(t, agent.cmd.Process.Signal(os.Interrupt))
	agent.waitLine("--Stop--> Stopping")
	agent.waitLine("--Stopped--> Stopped")
	require.Equal(t, exitOK, agent.wait(), agent.stderr())
}

// TestDMSGivesUp checks -give-up: a broker that refuses the device's
// password ends linnet dms with exit 4 and the cause; an unreachable one
// with exit 1.
func TestDMSGivesUp(t *testing.T) {
	b, err := embedbroker.Start(embedbroker.Config{Auth: func(string, string, []byte) bool { return false }})
	require.NoError(t, err)
	defer b.Close()
	r := linnet(t, "", "dms", "-id", "dev-x", "-redirect", b.URI("tcp"), "-give-up", "1")
	requireExit(t, r, exitRefused, "linnet dms: giving up after 1 failed attempts in a row: redirect phase: refused: not authorized")
	require.Contains(t, r.stdout, "--ConnectionFailed--> Backoff")

	addr := closedPort(t)
	r = linnet(t, "", "dms", "-id", "dev-x", "-redirect", "tcp://"+addr, "-give-up", "1")
	requireExit(t, r, exitFailure, "redirect phase: unreachable: connection refused at tcp://"+addr)
}

// TestDMSAndProbeBadArguments checks the usage errors of dms and probe.
func TestDMSAndProbeBadArguments(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.json")
	require.NoError(t, os.WriteFile(unknown, []byte(`{"deviceId":"d","redirectServer":"tcp://127.0.0.1:1","colour":"red"}`), 0o600))
	badDuration := filepath.Join(dir, "duration.json")
	require.NoError(t, os.WriteFile(badDuration, []byte(`{"deviceId":"d","redirectServer":"tcp://127.0.0.1:1","heartbeatInterval":30}`), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dms", "-redirect", "tcp://127.0.0.1:1"}, "no device id"},
		{[]string{"dms", "-id", "d"}, "no redirect server"},
		{[]string{"dms", "-id", "d", "-redirect", "gopher://x"}, "RedirectServer"},
		{[]string{"dms", "-config", unknown}, `unknown field "colour"`},
		{[]string{"dms", "-config", badDuration}, "a duration is a string"},
		{[]string{"dms", "-config", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"dms", "-id", "d", "-redirect", "ssl://127.0.0.1:1", "-cafile", unknown}, "TLS: CA file"},
		{[]string{"probe", "-L", "tcp://127.0.0.1:1"}, "name at least one device"},
		{[]string{"probe", "nodevice"}, `"nodevice": a device is PRODUCTKEY/DEVICENAME`},
		{[]string{"probe", "pk/a/b"}, "a device is PRODUCTKEY/DEVICENAME"},
		{[]string{"probe", "-policy", "lenient", "pk/d"}, `-policy "lenient"`},
		{[]string{"probe", "-timeout", "0s", "pk/d"}, "must be positive"},
		{[]string{"demo", "-heartbeats", "0"}, "must be positive"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			requireExit(t, linnet(t, "", tc.args...), exitUsage, tc.want)
		})
	}
	requireExit(t, linnet(t, "", "probe", "-L", "tcp://"+closedPort(t), "pk/d"), exitFailure, "linnet probe: unreachable")
}

// TestDMSStopUnacknowledged: a scripted broker plays both servers; a
// join-network message the agent cannot read shows as a warning line;
// the DMS server never acknowledges the heartbeat; SIGINT still ends
// linnet dms with a DISCONNECT and exit 0.
func TestDMSStopUnacknowledged(t *testing.T) {
	fb := fakebroker.New(t)
	uri := fb.ListenTCP(t)
	// -k in seconds, as in pub and sub.
	agent := startLinnet(t, "dms", "-id", "dev-q", "-redirect", uri, "-heartbeat", "1h", "-k", "45")
	handshake := func() *fakebroker.Conn {
		c := fb.Accept(t)
		require.Equal(t, uint16(45), c.WantType(t, packet.TypeConnect).(*packet.Connect).KeepAlive)
		c.WritePacket(t, &packet.Connack{})
		sub := c.WantType(t, packet.TypeSubscribe).(*packet.Subscribe)
		codes := make([]packet.SubackCode, len(sub.Subscriptions))
		for i := range codes {
			codes[i] = packet.SubackQoS1
		}
		c.WritePacket(t, &packet.Suback{PacketID: sub.PacketID, ReturnCodes: codes})
		return c
	}
	c1 := handshake()
	agent.waitLine("--RedirectConnected--> AwaitingNetworkInfo")
	c1.WritePacket(t, &packet.Publish{Topic: "/elogger/dev-q/join_network", Payload: []byte("<dms>nowhere</dms>")})
	require.Contains(t, agent.waitLine("warning   join-network message ignored"), `payload="<dms>nowhere</dms>"`)
	c1.WritePacket(t, &packet.Publish{Topic: "/elogger/dev-q/join_network", Payload: []byte(`{"url":"` + uri + `"}`)})
	c1.WantType(t, packet.TypeDisconnect)
	c2 := handshake()
	agent.waitLine("--DMSConnected--> Online")
	c2.WantType(t, packet.TypePublish) // the heartbeat, never acknowledged
	require.NoError(t, agent.cmd.Process.Signal(os.Interrupt))
	c2.WantType(t, packet.TypeDisconnect)
	agent.waitLine("--Stopped--> Stopped")
	require.Equal(t, exitOK, agent.wait(), agent.stderr())
	require.Empty(t, agent.stderr())
}
