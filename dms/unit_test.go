package dms_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// TestPassword checks the default scheme against a value computed outside
// Go (printf 'ovopark_dev-42_17000000' | md5sum).
func TestPassword(t *testing.T) {
	at := time.Unix(1700000000, 0)
	require.Equal(t, "c58f480047ef0fd70206d4619ce4d13b", dms.Password("dev-42", at))
	// Same window: same password; next window: another one.
	require.Equal(t, dms.Password("dev-42", at), dms.Password("dev-42", at.Add(99*time.Second)))
	require.NotEqual(t, dms.Password("dev-42", at), dms.Password("dev-42", at.Add(100*time.Second)))
	require.Equal(t, "8153151a894e41a51024f5b4ffc85429", dms.Password("dev-42", at.Add(-time.Second)))
}

func TestCheckPassword(t *testing.T) {
	at := time.Unix(1700000050, 0)
	pw := dms.Password("dev-42", at)
	require.True(t, dms.CheckPassword("dev-42", pw, at))
	require.True(t, dms.CheckPassword("dev-42", pw, at.Add(100*time.Second)), "previous window accepted")
	require.False(t, dms.CheckPassword("dev-42", pw, at.Add(200*time.Second)), "two windows old")
	require.False(t, dms.CheckPassword("dev-42", pw, at.Add(-100*time.Second)), "a future window")
	require.False(t, dms.CheckPassword("dev-43", pw, at), "another device")
	require.False(t, dms.CheckPassword("dev-42", "", at))
	require.False(t, dms.CheckPassword("dev-42", "C58F480047EF0FD70206D4619CE4D13B", time.Unix(1700000000, 0)), "uppercase hex")
}

func TestParseNetworkInfo(t *testing.T) {
	ok := []struct{ name, payload, want string }{
		{"url key", `{"url":"tcp://127.0.0.1:1883"}`, "tcp://127.0.0.1:1883"},
		{"uri key", `{"uri":"ssl://dms.example:8883","x":1}`, "ssl://dms.example:8883"},
		{"dmsUrl key", `{"dmsUrl":"ws://h/mqtt"}`, "ws://h/mqtt"},
		{"url wins over server", `{"server":"tcp://b:1","url":"tcp://a:1"}`, "tcp://a:1"},
		{"bare", "ssl://dms.example:8883", "ssl://dms.example:8883"},
		{"bare with spaces", "  tcp://h:1883\n", "tcp://h:1883"},
		{"JSON string", `"tcp://h:1883"`, "tcp://h:1883"},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			got, err := dms.ParseNetworkInfo("t", []byte(c.payload), transport.Validate)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
	bad := []struct {
		name, payload string
		also          error
	}{
		{"empty", "", nil},
		{"spaces", "   ", nil},
		{"malformed JSON", `{"url":`, nil},
		{"no known key", `{"host":"a"}`, nil},
		{"url not a string", `{"url":42}`, nil},
		{"empty url", `{"url":""}`, nil},
		{"array", `["tcp://h:1"]`, nil},
		{"unknown scheme", `{"url":"gopher://h:70"}`, transport.ErrUnknownScheme},
		{"bare junk", "hello", transport.ErrInvalidURI},
		{"not UTF-8", "\xff\xfe", nil},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := dms.ParseNetworkInfo("/elogger/d/join_network", []byte(c.payload), transport.Validate)
			require.ErrorIs(t, err, dms.ErrBadNetworkInfo)
			var ne *dms.NetworkInfoError
			require.ErrorAs(t, err, &ne)
			require.Equal(t, "/elogger/d/join_network", ne.Topic)
			if c.also != nil {
				require.ErrorIs(t, err, c.also)
			}
			if c.name == "malformed JSON" {
				var se *dms.JSONSyntaxError
				require.True(t, errors.As(err, &se), "the JSON error is kept: %v", err)
				require.Equal(t, 7, se.Offset)
			}
		})
	}
}

// TestTransitions walks the table: the legal flow, and every event that a
// state does not accept is rejected and leaves the state alone.
func TestTransitions(t *testing.T) {
	path := []struct {
		from dms.State
		ev   dms.EventKind
		to   dms.State
	}{
		{dms.StateIdle, dms.EventStart, dms.StateConnectingRedirect},
		{dms.StateConnectingRedirect, dms.EventRedirectConnected, dms.StateAwaitingNetworkInfo},
		{dms.StateAwaitingNetworkInfo, dms.EventNetworkInfoReceived, dms.StateConnectingDMS},
		{dms.StateConnectingDMS, dms.EventDMSConnected, dms.StateOnline},
		{dms.StateOnline, dms.EventConnectionLost, dms.StateReconnectingDMS},
		{dms.StateReconnectingDMS, dms.EventDMSConnected, dms.StateOnline},
		{dms.StateOnline, dms.EventHeartbeatFailed, dms.StateBackoff},
		{dms.StateReconnectingDMS, dms.EventHeartbeatFailed, dms.StateBackoff},
		{dms.StateConnectingRedirect, dms.EventConnectionFailed, dms.StateBackoff},
		{dms.StateAwaitingNetworkInfo, dms.EventConnectionFailed, dms.StateBackoff},
		{dms.StateConnectingDMS, dms.EventConnectionFailed, dms.StateBackoff},
		{dms.StateBackoff, dms.EventRetry, dms.StateConnectingRedirect},
		{dms.StateOnline, dms.EventStop, dms.StateStopping},
		{dms.StateBackoff, dms.EventStop, dms.StateStopping},
		{dms.StateIdle, dms.EventStop, dms.StateStopping},
		{dms.StateStopping, dms.EventStopped, dms.StateStopped},
	}
	for _, p := range path {
		got, ok := dms.Next(p.from, p.ev)
		require.True(t, ok, "%v + %v", p.from, p.ev)
		require.Equal(t, p.to, got, "%v + %v", p.from, p.ev)
	}
	illegal := []struct {
		from dms.State
		ev   dms.EventKind
	}{
		{dms.StateIdle, dms.EventDMSConnected},
		{dms.StateConnectingRedirect, dms.EventNetworkInfoReceived},
		{dms.StateAwaitingNetworkInfo, dms.EventDMSConnected},
		{dms.StateOnline, dms.EventRedirectConnected},
		{dms.StateOnline, dms.EventStart},
		{dms.StateBackoff, dms.EventConnectionLost},
		{dms.StateBackoff, dms.EventDMSConnected},
		{dms.StateStopping, dms.EventStop},
		{dms.StateStopping, dms.EventRetry},
		{dms.StateStopped, dms.EventStart},
		{dms.StateStopped, dms.EventStop},
		{dms.StateConnectingDMS, dms.EventHeartbeatFailed},
	}
	for _, c := range illegal {
		got, ok := dms.Next(c.from, c.ev)
		require.False(t, ok, "%v + %v", c.from, c.ev)
		require.Equal(t, c.from, got, "a rejected event leaves the state alone")
	}
}

func TestConfigErrors(t *testing.T) {
	base := func() dms.Config {
		return dms.Config{DeviceID: "d1", RedirectServer: "tcp://127.0.0.1:1883"}
	}
	cases := []struct {
		field string
		mod   func(*dms.Config)
		also  error
	}{
		{"DeviceID", func(c *dms.Config) { c.DeviceID = "" }, nil},
		{"DeviceID", func(c *dms.Config) { c.DeviceID = "a/b" }, nil},
		{"DeviceID", func(c *dms.Config) { c.DeviceID = "a+" }, nil},
		{"RedirectServer", func(c *dms.Config) { c.RedirectServer = "" }, nil},
		{"RedirectServer", func(c *dms.Config) { c.RedirectServer = "gopher://x" }, transport.ErrUnknownScheme},
		{"DefaultDMSServer", func(c *dms.Config) { c.DefaultDMSServer = "nope" }, transport.ErrInvalidURI},
		{"HeartbeatInterval", func(c *dms.Config) { c.HeartbeatInterval = -1 }, nil},
		{"JoinNetworkWait", func(c *dms.Config) { c.JoinNetworkWait = -time.Second }, nil},
		{"MaxHeartbeatFailures", func(c *dms.Config) { c.MaxHeartbeatFailures = -2 }, nil},
		{"Topics.Heartbeat", func(c *dms.Config) { c.Topics.Heartbeat = "a/#" }, nil},
		{"RRPC.ProductKey", func(c *dms.Config) { c.RRPC = &dms.RRPCConfig{DeviceName: "n"} }, nil},
		{"RRPC.DeviceName", func(c *dms.Config) { c.RRPC = &dms.RRPCConfig{ProductKey: "p", DeviceName: "a/b"} }, nil},
		{"SubscribeTimeout", func(c *dms.Config) { c.SubscribeTimeout = -1 }, nil},
		{"DrainTimeout", func(c *dms.Config) { c.DrainTimeout = -1 }, nil},
		{"OfflineBuffer", func(c *dms.Config) { c.OfflineBuffer = -1 }, nil},
		{"NetworkInfoKeys[1]", func(c *dms.Config) { c.NetworkInfoKeys = []string{"url", ""} }, nil},
		{"DMSSubscriptions[0].Filter", func(c *dms.Config) {
			c.DMSSubscriptions = []dms.Subscription{{Filter: "a/#/b", Handler: func(string, []byte) {}}}
		}, packet.ErrProtocol},
		{"DMSSubscriptions[0].Filter", func(c *dms.Config) {
			c.DMSSubscriptions = []dms.Subscription{{Filter: "/elogger/{id}/ctrlDevice", Handler: func(string, []byte) {}}}
		}, nil},
		{"DMSSubscriptions[0].Filter", func(c *dms.Config) {
			c.RRPC = &dms.RRPCConfig{ProductKey: "p", DeviceName: "n"}
			c.DMSSubscriptions = []dms.Subscription{{Filter: "/sys/p/n/rrpc/request/+", Handler: func(string, []byte) {}}}
		}, nil},
		{"RedirectSubscriptions[1].QoS", func(c *dms.Config) {
			h := func(string, []byte) {}
			c.RedirectSubscriptions = []dms.Subscription{{Filter: "a", Handler: h}, {Filter: "b", QoS: 3, Handler: h}}
		}, packet.ErrInvalidQoS},
		{"RedirectSubscriptions[0].Handler", func(c *dms.Config) {
			c.RedirectSubscriptions = []dms.Subscription{{Filter: "a"}}
		}, nil},
	}
	for _, c := range cases {
		cfg := base()
		c.mod(&cfg)
		_, err := dms.NewAgent(cfg)
		require.ErrorIs(t, err, dms.ErrInvalidConfig, c.field)
		var ce *dms.ConfigError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, c.field, ce.Field)
		if c.also != nil {
			require.ErrorIs(t, err, c.also)
		}
	}
	_, err := dms.NewAgent(base())
	require.NoError(t, err)
}

func TestTopicsFor(t *testing.T) {
	got := dms.Topics{}.For("dev7")
	require.Equal(t, dms.Topics{VerifyPassword: "/elogger/dev7/verify_pwd", JoinNetwork: "/elogger/dev7/join_network",
		ControlDevice: "/elogger/dev7/ctrlDevice", Heartbeat: "/monitor/report/Sync_MainDeviceInfo"}, got)
	got = dms.Topics{Heartbeat: "hb/{id}"}.For("x")
	require.Equal(t, "hb/x", got.Heartbeat)
}

// TestStopBeforeStart: the agent goes Idle → Stopping → Stopped and cannot
// be started afterwards.
func TestStopBeforeStart(t *testing.T) {
	var seen []dms.Transition
	a, err := dms.NewAgent(dms.Config{DeviceID: "d1", RedirectServer: "tcp://127.0.0.1:1",
		OnTransition: func(tr dms.Transition) { seen = append(seen, tr) }})
	require.NoError(t, err)
	require.NoError(t, a.Stop(t.Context()))
	require.NoError(t, a.Stop(t.Context()))
	require.Equal(t, dms.StateStopped, a.State())
	require.ErrorIs(t, a.Start(), dms.ErrStopped)
	require.Len(t, seen, 2)
	require.Equal(t, dms.StateStopping, seen[0].To)
	require.Equal(t, dms.StateStopped, seen[1].To)
}
